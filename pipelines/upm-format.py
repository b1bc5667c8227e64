#!/usr/bin/env python3
# Formats the text stream of upmbin text-format=json (one JSON object per
# clip, back to back, as fdsink writes them) as it arrives.
# usage: upm-format.py caption|classify|routing|vtt|jsonl [--routing-summary]
#                      [--drift] [-o FILE]
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Plain Python 3 (no GStreamer bindings): the scripts in pipelines/ pipe
`upmbin text-format=json ! fdsink fd=1` into it.

  caption   [00:00:01.000 --> 00:00:01.500] a red circle moves left (score -0.41)
  classify  [00:00:01.000 --> 00:00:01.500] moving left 0.93 | moving up 0.04
  routing   the experts of every MoE layer and gate, per clip and segment
  vtt       a WebVTT file (captions, or the best label)
  jsonl     one JSON object per line

--routing-summary adds a line of experts per clip (caption, classify), in the
form of `upm-run --routing-summary`: "L<layer> <attn experts>/<ffn experts>".
--offset NS is added to the printed times: the stream time minus the PTS of
the input (pipelines/env.sh upm_stream_offset); jsonl then adds "stream_pts".
--drift adds, per clip, the wall-clock time since the first result minus the
stream time since the first clip: on a live source it stays near zero unless
results fall behind (queueing).
"""
import argparse
import codecs
import json
import os
import signal
import sys
import time


def ts(ns, sep="."):
    if ns is None or ns < 0:
        return "--:--:--" + sep + "---"
    ms = int(round(ns / 1e6))
    h, ms = divmod(ms, 3600000)
    m, ms = divmod(ms, 60000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def one_line(text):
    """Control characters (newlines, tabs) as spaces: one line per result."""
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text).strip()


def times(obj, offset=0):
    pts = obj.get("pts")
    if pts is not None:
        pts += offset
    dur = obj.get("duration")
    end = pts + dur if pts is not None and dur is not None else None
    return pts, end


def best_text(obj):
    if "caption" in obj:
        return obj["caption"].get("text", "")
    if "result" in obj and obj["result"].get("scores"):
        return obj["result"]["scores"][0]["label"]
    return ""


def routing_summary(routing):
    """caption_prefix L0 3+4/0+4 L2 7+6/3+5 | caption_text L0 ..."""
    segs = {}
    order = []
    for r in routing.get("routes", []):
        seg = r.get("segment", "?")
        if seg not in segs:
            segs[seg] = {}
            order.append(seg)
        segs[seg].setdefault(r["layer"], {})[r["gate"]] = "+".join(
            str(e) for e in r["experts"])
    parts = []
    for seg in order:
        layers = " ".join(
            f"L{layer} {g.get('attn', '-')}/{g.get('ffn', '-')}"
            for layer, g in sorted(segs[seg].items()))
        parts.append(f"{seg} {layers}")
    return " | ".join(parts)


def routing_detail(routing, out):
    """Per segment, one line per MoE layer: the two experts of each gate."""
    out.write(f"    model {routing.get('model', '?')}: {routing.get('layers', '?')} layers, "
              f"{routing.get('experts', '?')} experts per MoE layer\n")
    segs = {}
    for r in routing.get("routes", []):
        key = (r.get("segment", "?"), r["token_begin"], r["token_end"])
        segs.setdefault(key, {}).setdefault(r["layer"], {})[r["gate"]] = r
    for (seg, begin, end), layers in segs.items():
        out.write(f"    {seg} (tokens {begin}-{end})\n")
        for layer, gates in sorted(layers.items()):
            cols = []
            for gate in ("attn", "ffn"):
                r = gates.get(gate)
                if r is None:
                    continue
                cols.append(f"{gate:<4} " + " + ".join(
                    f"{e} ({w:.2f})" for e, w in zip(r["experts"], r["weights"])))
            out.write(f"      L{layer:<3}" + "   ".join(cols) + "\n")


class Formatter:
    def __init__(self, args, out):
        self.args = args
        self.out = out
        self.count = 0
        self.first = None  # (wall, stream end) of the first result
        if args.mode == "vtt":
            out.write("WEBVTT\n")

    def drift(self, end):
        now = time.monotonic()
        if end is None:
            return ""
        if self.first is None:
            self.first = (now, end)
        d = (now - self.first[0]) - (end - self.first[1]) / 1e9
        d = 0.0 if abs(d) < 0.005 else d
        return f"  [drift {d:+.2f} s]"

    def add(self, obj):
        a, out = self.args, self.out
        self.count += 1
        pts, end = times(obj, a.offset)
        span = f"[{ts(pts)} --> {ts(end)}]"
        extra = self.drift(end) if a.drift else ""
        if a.mode == "jsonl":
            if a.offset and obj.get("pts") is not None:
                obj["stream_pts"] = obj["pts"] + a.offset
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        elif a.mode == "vtt":
            text = one_line(best_text(obj)).replace("-->", "->")
            out.write(f"\n{ts(pts)} --> {ts(end)}\n{text}\n")
        elif a.mode == "routing":
            out.write(f"{span} {one_line(best_text(obj))}{extra}\n")
            if "routing" in obj:
                routing_detail(obj["routing"], out)
            else:
                out.write("    (no routing meta)\n")
        else:
            if "caption" in obj:
                c = obj["caption"]
                line = f"{one_line(c.get('text', ''))} (score {c.get('score', 0.0):.2f})"
            elif "result" in obj:
                line = " | ".join(f"{one_line(s['label'])} {s['prob']:.2f}"
                                  for s in obj["result"].get("scores", []))
            else:
                line = "(empty)"
            out.write(f"{span} {line}{extra}\n")
            if a.routing_summary and "routing" in obj:
                out.write(f"    experts {routing_summary(obj['routing'])}\n")
        out.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["caption", "classify", "routing", "vtt", "jsonl"])
    p.add_argument("--routing-summary", action="store_true")
    p.add_argument("--drift", action="store_true")
    p.add_argument("--offset", type=int, default=0, metavar="NS")
    p.add_argument("-o", "--output", help="write here instead of stdout")
    args = p.parse_args()

    # Ctrl-C goes to gst-launch-1.0 too, which ends the stream (-e): keep
    # reading until it closes the pipe, so the last results are printed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    fmt = Formatter(args, out)
    dec = codecs.getincrementaldecoder("utf-8")("replace")
    jd = json.JSONDecoder()
    pending = ""
    eof = False
    while not eof:
        chunk = os.read(0, 65536)
        eof = not chunk
        pending += dec.decode(chunk, final=eof)
        while True:
            pending = pending.lstrip()
            if not pending:
                break
            try:
                obj, end = jd.raw_decode(pending)
            except json.JSONDecodeError:
                if eof:
                    print(f"upm-format: {len(pending)} characters of incomplete or "
                          "invalid JSON at the end of the stream", file=sys.stderr)
                    return 1
                break  # wait for the rest of the object
            pending = pending[end:]
            if isinstance(obj, dict):
                fmt.add(obj)
    if args.output:
        out.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
