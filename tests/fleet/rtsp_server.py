#!/usr/bin/env python3
"""A loopback RTSP camera for the fleet tests: videotestsrc as MJPEG/RTP.

    rtsp_server.py --port PORT [--mount /cam] [--pattern ball] [--fps 15]
                   [--mounts N]   (N cameras: /cam0 ... /camN-1)

Listens on 127.0.0.1 only, prints "ready PORT" once bound, serves until
SIGTERM/SIGINT. One process per camera, so that a test stops one camera by
stopping its process and restarts it on the same port.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mount", default="/cam")
    ap.add_argument("--pattern", default="ball")
    ap.add_argument("--fps", type=int, default=15)
    ap.add_argument("--mounts", type=int, default=0)
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = ([args.mount] if args.mounts == 0 else
              ["/cam%d" % i for i in range(args.mounts)])
    for mount in mounts:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            "( videotestsrc is-live=true pattern=%s ! "
            "video/x-raw,format=I420,width=96,height=72,framerate=%d/1 ! "
            "jpegenc quality=70 ! rtpjpegpay name=pay0 pt=26 )"
            % (args.pattern, args.fps))
        factory.set_shared(True)
        server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        print("cannot listen on 127.0.0.1:%d" % args.port, file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("ready %d" % server.get_bound_port(), flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
