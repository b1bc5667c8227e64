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


def check_result(buf):
    """Returns 1 when @buf carries a classification, after checking it."""
    ref = json.loads(GstUpm.buffer_metas_to_json(buf))
    result = GstUpm.buffer_get_result_meta(buf)
    if result is None:
        assert "result" not in ref, ref
        return 0
    want = ref["result"]
    assert result.task == want["task"] == "classify", (result.task, want)
    scores = [result.get_score(i) for i in range(result.n_scores)]
    assert [s.label for s in scores] == [w["label"] for w in want["scores"]], want
    assert [s.index for s in scores] == [w["index"] for w in want["scores"]], want
    assert all(abs(s.prob - w["prob"]) < 1e-6 for s, w in zip(scores, want["scores"]))
    assert result.get_score(result.n_scores) is None
    return 1


def run(description, check):
    """Runs the pipeline, checks each buffer; the number of checked ones."""
    pipeline = Gst.parse_launch(description + " ! appsink name=out sync=false")
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    checked = 0
    try:
        while True:
            sample = sink.emit("try-pull-sample", 120 * Gst.SECOND)
            if sample is None:
                break
            checked += check(sample.get_buffer())
    finally:
        pipeline.set_state(Gst.State.NULL)
    return checked


def main():
    Gst.init(None)
    captions = run("videotestsrc num-buffers=30 ! upmbin task=caption", check_buffer)
    results = run("videotestsrc num-buffers=20 ! upmbin task=classify labels=@k400 top-k=3",
                  check_result)
    if captions == 0 or results == 0:
        sys.exit(f"read {captions} caption and {results} result metas through GstUpm")
    print(f"{captions} captions and {results} classifications read through GstUpm-1.0")


if __name__ == "__main__":
    main()
