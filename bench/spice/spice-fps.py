#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The frame counter of bench/spice/run.py: a spice-client-glib client (GObject
introspection) that watches the display channel for --seconds after the first frame and
counts the frames it got: updates after which the centre pixel of the primary surface
has a new colour (the guest paints the whole screen one colour per frame). Prints
"FPS f frames n seconds s size WxH"."""
import argparse
import ctypes
import sys
import time

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject, SpiceClientGLib as Spice  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--timeout", type=float, default=120)
    o = ap.parse_args()
    loop = GLib.MainLoop()
    st = {"data": None, "w": 0, "h": 0, "stride": 0, "last": None, "frames": 0, "t0": None, "code": 1}
    session = Spice.Session(uri=o.uri)

    def finish(code):
        st["code"] = code
        session.disconnect()
        loop.quit()
        return False

    def primary_create(_ch, fmt, width, height, stride, shmid, imgdata):
        st.update(data=imgdata, w=width, h=height, stride=stride, last=None)

    def primary_destroy(_ch):
        st["data"] = None

    def invalidate(_ch, x, y, w, h):
        if not st["data"] or st["w"] != 1024:
            return
        cx, cy = st["w"] // 2, st["h"] // 2
        if not (x <= cx < x + w and y <= cy < y + h):
            return
        px = ctypes.string_at(st["data"] + cy * st["stride"] + cx * 4, 4)
        if px != st["last"]:
            st["last"] = px
            now = time.monotonic()
            if st["t0"] is None:
                st["t0"] = now
                return
            st["frames"] += 1
            if now - st["t0"] >= o.seconds:
                print("FPS %.1f frames %d seconds %.2f size %dx%d" % (st["frames"] / (now - st["t0"]), st["frames"],
                                                                    now - st["t0"], st["w"], st["h"]), flush=True)
                finish(0)

    def channel_new(_s, channel):
        if isinstance(channel, Spice.DisplayChannel):
            GObject.Object.connect(channel, "display-primary-create", primary_create)
            GObject.Object.connect(channel, "display-primary-destroy", primary_destroy)
            GObject.Object.connect(channel, "display-invalidate", invalidate)
            channel.connect()

    GObject.Object.connect(session, "channel-new", channel_new)
    if not session.connect():
        print("ERROR connect")
        return 2
    GLib.timeout_add_seconds(int(o.timeout), lambda: (print("ERROR timeout", flush=True), finish(3))[1])
    loop.run()
    return st["code"]


if __name__ == "__main__":
    sys.exit(main())
