#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Reads the uniperceiver metas through the installed GstUpm-1.0 typelib (the
# caption, its token ids, the expert routing) and checks them against the
# JSON that gst_upm_buffer_metas_to_json writes of the same buffer. Run by
# test_install.sh with the installed prefix on GI_TYPELIB_PATH and the plugin
# on GST_PLUGIN_PATH. Prints the number of captions it checked.
import json
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstUpm", "1.0")
from gi.repository import Gst, GstUpm  # noqa: E402


def check_buffer(buf):
    """Returns 1 when @buf carries a caption, after checking it."""
    ref = json.loads(GstUpm.buffer_metas_to_json(buf))
    caption = GstUpm.buffer_get_caption_meta(buf)
    if caption is None:
        assert "caption" not in ref, ref
        return 0
    want = ref["caption"]
    assert caption.text == want["text"], (caption.text, want)
    assert list(caption.get_ids()) == want["ids"], (caption.get_ids(), want)
    assert abs(caption.score - want["score"]) < 1e-6, (caption.score, want)
    assert caption.pts == want["pts"], (caption.pts, want)
    routing = GstUpm.buffer_get_routing_meta(buf)
    assert routing is not None and "routing" in ref
    assert routing.model == ref["routing"]["model"], (routing.model, ref["routing"])
    assert routing.n_routes > 0
    route = routing.get_route(0)
    assert route.segment and 0 <= route.expert[0] < routing.n_experts, route.segment
    assert routing.get_route(routing.n_routes) is None
    return 1


def main():
    Gst.init(None)
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=30 ! upmbin task=caption ! appsink name=out sync=false")
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    captions = 0
    try:
        while True:
            sample = sink.emit("try-pull-sample", 120 * Gst.SECOND)
            if sample is None:
                break
            captions += check_buffer(sample.get_buffer())
    finally:
        pipeline.set_state(Gst.State.NULL)
    if captions == 0:
        sys.exit("no caption meta read through GstUpm")
    print(f"{captions} captions read through GstUpm-1.0")


if __name__ == "__main__":
    main()
