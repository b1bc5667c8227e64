#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The uniperceiver results read from Python through GStreamer's own
GstAnalytics bindings (PyGObject, GstAnalytics-1.0), as an app with nothing
of this project reads them (docs/analytics.md).

upmbin classifies and captions videotestsrc clips; for every output buffer
the relation meta must hold one "upm-clip" Mtd, the ClsMtd (labels and
probabilities of the "upm-result" message, best first) or the "upm-caption"
Mtd, and the "upm-routing" Mtd, the clip CONTAINing each and each IS_PART_OF
the clip; the custom Mtds' sizes must follow the documented layouts, and
their data (through ctypes on the upstream C function
gst_analytics_relation_meta_get_mtd_data, which GI skips) must match the
message. upmencoder's and upmtransformer's buffers carry a GstTensorMeta whose
tensor is the buffer's own data.

Exit status: 0 pass, 1 fail, 77 skip (GStreamer < 1.26, or the plugin built
without GstAnalytics: UPM_HAVE_ANALYTICS != 1). Environment: UPM_FIXTURES,
GST_PLUGIN_PATH_1_0 (set by meson).
"""

import ctypes
import ctypes.util
import os
import struct
import sys
import warnings

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

Gst.init(None)

SKIP = 77


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(SKIP)


if Gst.version() < (1, 26, 0, 0):
    skip("GStreamer %s < 1.26: no GstAnalytics tensor meta" % Gst.version_string())
if os.environ.get("UPM_HAVE_ANALYTICS") != "1":
    skip("the plugin was built without GstAnalytics (-Danalytics)")
try:
    gi.require_version("GstAnalytics", "1.0")
except ValueError:
    print("FAIL: no GstAnalytics-1.0 typelib: install gir1.2-gst-plugins-bad-1.0")
    sys.exit(1)
from gi.repository import GstAnalytics  # noqa: E402

MODEL = os.path.join(os.environ["UPM_FIXTURES"], "tiny-moe.upm")
CLIP_SIZE = 32        # docs/analytics.md: the "upm-clip" data
CAPTION_HEADER = 12   # score, n_ids, text_len
ROUTING_HEADER = 16   # n_layers, n_experts, n_routes, model
ROUTE_SIZE = 36
CONTAIN = GstAnalytics.RelTypes.CONTAIN
IS_PART_OF = GstAnalytics.RelTypes.IS_PART_OF

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def array(structure, field):
    """A GstValueArray field as a list (GI has no GstValueArray without
    gst-python's overrides; gst_structure_get_array is for bindings)."""
    ok, arr = structure.get_array(field)
    check(ok, "array field %s" % field)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [arr.get_nth(i) for i in range(arr.n_values)]


def relation_length(rmeta):
    if hasattr(rmeta, "get_length"):
        return rmeta.get_length()
    return GstAnalytics.relation_get_length(rmeta)


class MtdData:
    """The data of a Mtd through the upstream C API, which GI leaves out
    (gst_analytics_relation_meta_get_mtd_data is (skip)). The buffer's
    address is the one PyGObject's boxed wrapper holds after its object
    header; it is checked against the C library before any use."""

    def __init__(self):
        self.lib = None
        name = ctypes.util.find_library("gstanalytics-1.0")
        gst = ctypes.util.find_library("gstreamer-1.0")
        if name is None or gst is None:
            return
        lib = ctypes.CDLL(name)
        self.gst = ctypes.CDLL(gst)
        lib.gst_buffer_get_analytics_relation_meta.restype = ctypes.c_void_p
        lib.gst_buffer_get_analytics_relation_meta.argtypes = [ctypes.c_void_p]
        lib.gst_analytics_relation_get_length.restype = ctypes.c_size_t
        lib.gst_analytics_relation_get_length.argtypes = [ctypes.c_void_p]
        lib.gst_analytics_relation_meta_get_mtd_data.restype = ctypes.c_void_p
        lib.gst_analytics_relation_meta_get_mtd_data.argtypes = [
            ctypes.c_void_p, ctypes.c_uint]
        self.gst.gst_buffer_get_size.restype = ctypes.c_size_t
        self.gst.gst_buffer_get_size.argtypes = [ctypes.c_void_p]
        self.lib = lib

    def rmeta_address(self, buf):
        if self.lib is None:
            return None
        addr = ctypes.c_void_p.from_address(id(buf) + object.__basicsize__).value
        if not addr or self.gst.gst_buffer_get_size(addr) != buf.get_size():
            return None
        rmeta = self.lib.gst_buffer_get_analytics_relation_meta(addr)
        gi_rmeta = GstAnalytics.buffer_get_analytics_relation_meta(buf)
        if not rmeta or self.lib.gst_analytics_relation_get_length(rmeta) \
                != relation_length(gi_rmeta):
            return None
        return rmeta

    def read(self, rmeta_addr, mtd_id, size):
        p = self.lib.gst_analytics_relation_meta_get_mtd_data(rmeta_addr, mtd_id)
        return ctypes.string_at(p, size)


mtd_data = MtdData()
read_data = {"done": 0, "unavailable": 0}


def tensor_probe(tensor_id, counts):
    def probe(pad, info):
        buf = info.get_buffer()
        tmeta = GstAnalytics.buffer_get_tensor_meta(buf)
        if tmeta is None:
            counts["missing"] += 1
            return Gst.PadProbeReturn.OK
        check(tmeta.num_tensors == 1, "%s: one tensor" % tensor_id)
        t = tmeta.get(0)
        check(GLib.quark_to_string(t.id) == tensor_id,
              "tensor id %s" % GLib.quark_to_string(t.id))
        check(t.data_type == GstAnalytics.TensorDataType.FLOAT32, "FLOAT32")
        check(t.dims_order == GstAnalytics.TensorDimOrder.ROW_MAJOR, "row major")
        dims = list(t.get_dims())
        check(len(dims) == 2 and dims[0] * dims[1] * 4 == buf.get_size(),
              "%s dims %s for %d bytes" % (tensor_id, dims, buf.get_size()))
        check(t.data.extract_dup(0, t.data.get_size())
              == buf.extract_dup(0, buf.get_size()),
              "%s: the tensor's data are the buffer's" % tensor_id)
        counts["ok"] += 1
        return Gst.PadProbeReturn.OK
    return probe


def run(props, n_frames, probes):
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=%d ! "
        "video/x-raw,width=64,height=48,framerate=8/1 ! "
        "upmbin name=bin model=%s %s ! appsink name=sink sync=false"
        % (n_frames, MODEL, props))
    counts = {"ok": 0, "missing": 0}
    for factory, tensor_id in probes:
        for e in pipeline.get_by_name("bin").children:
            if e.get_factory().get_name() == factory:
                e.get_static_pad("src").add_probe(
                    Gst.PadProbeType.BUFFER, tensor_probe(tensor_id, counts))
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    buffers = []
    while True:
        sample = sink.emit("try-pull-sample", 300 * Gst.SECOND)
        if sample is None:
            break
        buffers.append(sample.get_buffer())
    check(sink.get_property("eos"), "EOS in time")
    messages = []
    bus = pipeline.get_bus()
    while True:
        msg = bus.pop()
        if msg is None:
            break
        check(msg.type != Gst.MessageType.ERROR, "no error")
        s = msg.get_structure()
        if msg.type == Gst.MessageType.ELEMENT and s.get_name() == "upm-result":
            messages.append(s.copy())
    pipeline.set_state(Gst.State.NULL)
    return buffers, messages, counts


def mtds_by_name(rmeta):
    out = {}
    for i in range(relation_length(rmeta)):
        ok, mtd = rmeta.get_mtd(i, GstAnalytics.MTD_TYPE_ANY)
        check(ok, "Mtd %d" % i)
        name = GstAnalytics.mtd_type_get_name(mtd.get_mtd_type())
        out.setdefault(name, []).append(mtd)
    return out


def check_clip(rmeta, byname, buf, msg, task, rmeta_addr):
    check(len(byname.get("upm-clip", [])) == 1, "one upm-clip Mtd")
    clip = byname["upm-clip"][0]
    check(clip.get_size() == CLIP_SIZE, "upm-clip size %d" % clip.get_size())
    if rmeta_addr:
        pts, duration, n_views, tq, pq, _ = struct.unpack(
            "=QQIIII", mtd_data.read(rmeta_addr, clip.id, CLIP_SIZE))
        check(pts == buf.pts == msg.get_value("pts"), "clip pts")
        check(duration == msg.get_value("duration"), "clip duration")
        check(n_views == 1, "clip views")
        check(GLib.quark_to_string(tq) == task, "clip task")
        preset = msg.get_value("preset") if msg.has_field("preset") else None
        check(GLib.quark_to_string(pq) == preset,
              "clip preset %s vs %s" % (GLib.quark_to_string(pq), preset))
    return clip


def check_related(rmeta, clip, mtd, what):
    check(rmeta.get_relation(clip.id, mtd.id) == CONTAIN,
          "the clip CONTAINs the %s" % what)
    check(rmeta.get_relation(mtd.id, clip.id) == IS_PART_OF,
          "the %s IS_PART_OF the clip" % what)


def check_routing(rmeta, byname, clip, rmeta_addr):
    check(len(byname.get("upm-routing", [])) == 1, "one upm-routing Mtd")
    mtd = byname["upm-routing"][0]
    check_related(rmeta, clip, mtd, "routing")
    size = mtd.get_size()
    check(size > ROUTING_HEADER and (size - ROUTING_HEADER) % ROUTE_SIZE == 0,
          "upm-routing size %d" % size)
    if rmeta_addr:
        data = mtd_data.read(rmeta_addr, mtd.id, size)
        n_layers, n_experts, n_routes, model = struct.unpack_from("=IIII", data)
        check(size == ROUTING_HEADER + n_routes * ROUTE_SIZE, "n_routes")
        check(GLib.quark_to_string(model) is not None, "model name")
        for i in range(n_routes):
            layer, gate, tb, te, e0, e1, w0, w1, seg = struct.unpack_from(
                "=IIIIIIffI", data, ROUTING_HEADER + i * ROUTE_SIZE)
            check(layer < n_layers and gate <= 1 and tb < te, "route %d" % i)
            check(e0 < n_experts and e1 < n_experts, "experts of route %d" % i)
            check(abs(w0 + w1 - 1) < 1e-3 and w0 >= w1, "weights of route %d" % i)
            check(GLib.quark_to_string(seg) is not None, "segment of route %d" % i)


def test_classify():
    buffers, messages, counts = run(
        'task=classify labels="a dog,a cat,a red car,a ball" top-k=3', 16,
        [("upmencoder", "upm-embeddings"), ("upmtransformer", "upm-spe-hidden")])
    check(len(buffers) == 4 and len(messages) == 4,
          "4 results (%d buffers, %d messages)" % (len(buffers), len(messages)))
    check(counts == {"ok": 8, "missing": 0}, "tensor metas %s" % counts)
    for buf, msg in zip(buffers, messages):
        rmeta = GstAnalytics.buffer_get_analytics_relation_meta(buf)
        check(rmeta is not None, "a relation meta")
        addr = mtd_data.rmeta_address(buf)
        read_data["done" if addr else "unavailable"] += 1
        byname = mtds_by_name(rmeta)
        check(relation_length(rmeta) == 3, "3 Mtds")
        clip = check_clip(rmeta, byname, buf, msg, "classify", addr)
        clss = [i for i in range(relation_length(rmeta)) if rmeta.get_cls_mtd(i)[0]]
        check(len(clss) == 1, "one ClsMtd")
        cls = rmeta.get_cls_mtd(clss[0])[1]
        check_related(rmeta, clip, cls, "classification")
        labels, probs = array(msg, "labels"), array(msg, "probs")
        check(cls.get_length() == 3, "top-3")
        for i in range(cls.get_length()):
            check(GLib.quark_to_string(cls.get_quark(i)) == labels[i],
                  "label %d: %s vs %s" % (i, GLib.quark_to_string(cls.get_quark(i)),
                                          labels[i]))
            check(abs(cls.get_level(i) - probs[i]) < 1e-6,
                  "level %d: %f vs prob %f" % (i, cls.get_level(i), probs[i]))
            check(i == 0 or cls.get_level(i) <= cls.get_level(i - 1), "best first")
        check_routing(rmeta, byname, clip, addr)
        check("upm-caption" not in byname, "no caption Mtd")


def test_caption():
    buffers, messages, counts = run(
        "task=caption", 16, [("upmencoder", "upm-embeddings")])
    check(len(buffers) == 4 and len(messages) == 4, "4 captions")
    check(counts == {"ok": 4, "missing": 0}, "tensor metas %s" % counts)
    for buf, msg in zip(buffers, messages):
        rmeta = GstAnalytics.buffer_get_analytics_relation_meta(buf)
        check(rmeta is not None, "a relation meta")
        addr = mtd_data.rmeta_address(buf)
        read_data["done" if addr else "unavailable"] += 1
        byname = mtds_by_name(rmeta)
        clip = check_clip(rmeta, byname, buf, msg, "caption", addr)
        check(len(byname.get("upm-caption", [])) == 1, "one upm-caption Mtd")
        cap = byname["upm-caption"][0]
        check_related(rmeta, clip, cap, "caption")
        text = msg.get_value("text").encode()
        ids = array(msg, "ids")
        check(cap.get_size() == CAPTION_HEADER + 4 * len(ids) + len(text) + 1,
              "upm-caption size %d for %d ids and %d bytes"
              % (cap.get_size(), len(ids), len(text)))
        if addr:
            data = mtd_data.read(addr, cap.id, cap.get_size())
            score, n_ids, text_len = struct.unpack_from("=fII", data)
            got_ids = list(struct.unpack_from("=%di" % n_ids, data, CAPTION_HEADER))
            got_text = data[CAPTION_HEADER + 4 * n_ids:][:text_len]
            check(got_ids == ids, "caption ids")
            check(got_text == text, "caption text %r vs %r" % (got_text, text))
            check(abs(score - msg.get_value("score")) < 1e-5, "caption score")
        check_routing(rmeta, byname, clip, addr)
        check(not any(rmeta.get_cls_mtd(i)[0]
                      for i in range(relation_length(rmeta))), "no ClsMtd")


def main():
    test_classify()
    test_caption()
    print("custom Mtd data read through ctypes for %(done)d buffers, "
          "unavailable for %(unavailable)d" % read_data)
    if failures:
        print("%d checks failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
