#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A SPICE client for tests/guests/spice.py, through spice-client-glib's GObject
introspection (Debian gir1.2-spiceclientglib-2.0 and python3-gi): connects, and once the
inputs channel is open types the given set 1 scancodes (press and release each).
Prints "INPUTS-OPEN" and "SENT n", or "ERROR <event>" when the server refuses.

With --audio S it instead records S seconds from the playback channel and prints
"AUDIO rate=R channels=C frames=N hz=F rms=L" (F from the left channel's periods).

With --record HZ it is the VM's microphone: it prints "RECORD-OPEN" once the record
channel is open, and while the server asks for recording ("RECORD-START rate=R") sends
a sine of HZ at amplitude --amp on both channels, in real time, until the session ends
(--timeout); it prints "RECORD-SENT frames=N" when the server stops the recording.

With --cursor it connects as a viewer (display and cursor channels), waits for the
cursor's shape and prints "CURSOR w=W h=H hot=X,Y" and "CURSOR-PIXEL x,y=RRGGBBAA" for
the points given as --cursor-at "x,y;x,y" (spice-client-glib's RGBA bytes). With
--display-expect "x,y=RRGGBB;..." it then waits until its display channel's picture has
those colours there (while the client draws the cursor itself, the picture must not
carry it too), printing "DISPLAY-PIXEL x,y=RRGGBB" for each, or the last values seen with
"ERROR timeout".

With --display-match FILE.ppm it is a viewer (display channel) that waits until its
picture equals that binary PPM (the screendump), printing "DISPLAY-MATCH WxH", or
"ERROR timeout differ=N" at --timeout; with --ca-file it trusts that CA for TLS
(spice://HOST?tls-port=N); a refused connection prints "ERROR <event>".

With --clipboard TEXT it instead works the main channel's agent messages: when the
guest's agent grabs its clipboard it asks for the text and prints "GUEST-CLIPBOARD T";
then it grabs the client's clipboard with TEXT, answers the agent's request with it
("CLIENT-CLIPBOARD-SENT n"), and sends a monitors config of --monitor WxH
("MONITORS-SENT"). It ends when all three happened.

Usage: spice-client.py --uri spice://HOST?port=N [--password P] [--keys 2d,15,2c] [--audio S]
                       [--record HZ [--amp A]] [--cursor --cursor-at X,Y;... [--display-expect X,Y=RGB;...]]
                       [--clipboard TEXT --monitor WxH] [--display-match PPM [--ca-file CA]]"""
import argparse
import ctypes
import math
import struct
import sys
import time

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject, SpiceClientGLib as Spice  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--password")
    ap.add_argument("--keys", default="")
    ap.add_argument("--timeout", type=int, default=20)
    ap.add_argument("--audio", type=float, default=0)
    ap.add_argument("--record", type=float, default=0)
    ap.add_argument("--amp", type=int, default=8000)
    ap.add_argument("--cursor", action="store_true")
    ap.add_argument("--cursor-at", default="")
    ap.add_argument("--display-expect", default="")
    ap.add_argument("--display-match")
    ap.add_argument("--ca-file")
    ap.add_argument("--clipboard")
    ap.add_argument("--monitor", default="1024x768")
    o = ap.parse_args()
    keys = [int(k, 16) for k in o.keys.split(",") if k]
    loop = GLib.MainLoop()
    status = {"code": 1}
    session = Spice.Session(uri=o.uri)
    if o.password is not None:
        session.set_property("password", o.password)
    if o.ca_file:
        session.set_property("ca-file", o.ca_file)

    def finish(code):
        status["code"] = code
        session.disconnect()
        loop.quit()
        return False

    def inputs_event(channel, event):
        if event == Spice.ChannelEvent.OPENED:
            print("INPUTS-OPEN", flush=True)
            for k in keys:
                channel.key_press_and_release(k)
            print("SENT %d" % len(keys), flush=True)
            # Let the messages leave before the session closes.
            GLib.timeout_add(500, finish, 0)
        elif event != Spice.ChannelEvent.CLOSED:
            print("ERROR %s" % event.value_nick, flush=True)
            finish(2)

    def main_event(channel, event):
        if event not in (Spice.ChannelEvent.OPENED, Spice.ChannelEvent.CLOSED):
            print("ERROR %s" % event.value_nick, flush=True)
            finish(2)

    audio = {"rate": 0, "channels": 0, "data": bytearray()}

    def playback_start(_channel, fmt, channels, rate):
        audio["rate"], audio["channels"] = rate, channels

    def playback_data(_channel, data, size):
        audio["data"] += ctypes.string_at(data, size)
        if audio["rate"] and len(audio["data"]) >= o.audio * audio["rate"] * 4:
            report_audio()
            finish(0)

    def report_audio():
        n = len(audio["data"]) // 4
        left = struct.unpack("<%dh" % (2 * n), bytes(audio["data"][:4 * n]))[0::2]
        # The pitch from the periods between rising zero crossings: the mean of those
        # near the median, so a gap in a real-time stream does not move it.
        part = left[n // 10:]
        rises = [i for i in range(1, len(part)) if part[i - 1] < 0 <= part[i]]
        periods = sorted(b - a for a, b in zip(rises, rises[1:]))
        hz = 0
        if periods:
            med = periods[len(periods) // 2]
            near = [p for p in periods if abs(p - med) <= 0.1 * med]
            hz = audio["rate"] / (sum(near) / len(near))
        rms = math.sqrt(sum(v * v for v in part) / len(part)) if part else 0
        print("AUDIO rate=%d channels=%d frames=%d hz=%.1f rms=%.0f" % (audio["rate"], audio["channels"], n, hz, rms),
              flush=True)

    rec = {"rate": 0, "sent": 0, "t0": 0.0, "source": 0}

    def record_send():
        # Catch up with real time since the start, in 10 ms steps; the tone's phase runs on.
        due = int((time.monotonic() - rec["t0"]) * rec["rate"]) - rec["sent"]
        if due > 0:
            frames = bytearray()
            for i in range(rec["sent"], rec["sent"] + due):
                v = int(o.amp * math.sin(2 * math.pi * o.record * i / rec["rate"]))
                frames += struct.pack("<hh", v, v)
            buf = ctypes.create_string_buffer(bytes(frames), len(frames))
            rec["channel"].send_data(ctypes.addressof(buf), len(frames), int(time.monotonic() * 1000) & 0xffffffff)
            rec["sent"] += due
        return True

    def record_start(channel, fmt, channels, rate):
        print("RECORD-START rate=%d channels=%d" % (rate, channels), flush=True)
        rec["channel"], rec["rate"], rec["t0"], rec["sent"] = channel, rate, time.monotonic(), 0
        if not rec["source"]:
            rec["source"] = GLib.timeout_add(10, record_send)

    def record_stop(_channel):
        if rec["source"]:
            GLib.source_remove(rec["source"])
            rec["source"] = 0
        print("RECORD-SENT frames=%d" % rec["sent"], flush=True)

    def record_event(channel, event):
        if event == Spice.ChannelEvent.OPENED:
            print("RECORD-OPEN", flush=True)
        elif event == Spice.ChannelEvent.CLOSED:
            finish(0)
        else:
            print("ERROR %s" % event.value_nick, flush=True)
            finish(2)

    # "cursor-set" (deprecated for the "cursor" property, whose boxed fields this
    # introspection data misplaces) gives the numbers as they are.
    def cursor_set(_channel, w, h, hot_x, hot_y, rgba):
        if not w or not h or not rgba:
            return
        print("CURSOR w=%d h=%d hot=%d,%d" % (w, h, hot_x, hot_y), flush=True)
        data = ctypes.string_at(rgba, w * h * 4)
        for pt in o.cursor_at.split(";"):
            if pt:
                x, y = (int(v) for v in pt.split(","))
                px = data[4 * (y * w + x):4 * (y * w + x) + 4]
                print("CURSOR-PIXEL %d,%d=%s" % (x, y, px.hex()), flush=True)
        display["cursor"] = True
        if not o.display_expect:
            GLib.timeout_add(200, finish, 0)
        else:
            display_check()

    # The display channel's primary surface (32-bit xRGB, little-endian: B, G, R, x).
    display = {"data": 0, "stride": 0, "w": 0, "h": 0, "cursor": False}
    expect = {}
    for item in o.display_expect.split(";"):
        if item:
            at, rgb = item.split("=")
            expect[tuple(int(v) for v in at.split(","))] = rgb.lower()

    def display_pixel(x, y):
        if not display["data"] or x >= display["w"] or y >= display["h"]:
            return None
        b = ctypes.string_at(display["data"] + y * display["stride"] + 4 * x, 3)
        return "%02x%02x%02x" % (b[2], b[1], b[0])

    def display_check():
        if not display["cursor"]:
            return
        got = {pt: display_pixel(*pt) for pt in expect}
        if got == expect:
            for (x, y), rgb in got.items():
                print("DISPLAY-PIXEL %d,%d=%s" % (x, y, rgb), flush=True)
            GLib.timeout_add(200, finish, 0)
            display["cursor"] = False
        else:
            display["last"] = got

    def primary_create(_channel, _fmt, w, h, stride, _shmid, data):
        display.update(data=data, stride=stride, w=w, h=h)

    want = {}
    if o.display_match:
        with open(o.display_match, "rb") as f:
            data = f.read()
        # P6, width, height, 255, then RGB bytes (the header as display.c writes it).
        magic, w, h, maxval, rgb = data.split(maxsplit=4)
        want.update(w=int(w), h=int(h), rgb=rgb)

    def match_check():
        if not display["data"] or (display["w"], display["h"]) != (want["w"], want["h"]):
            display["differ"] = -1
            return
        raw = ctypes.string_at(display["data"], display["stride"] * display["h"])
        got = bytearray(want["w"] * want["h"] * 3)
        for y in range(want["h"]):
            row = raw[y * display["stride"]:y * display["stride"] + 4 * want["w"]]
            got[3 * want["w"] * y:3 * want["w"] * (y + 1):3] = row[2::4]
            got[3 * want["w"] * y + 1:3 * want["w"] * (y + 1):3] = row[1::4]
            got[3 * want["w"] * y + 2:3 * want["w"] * (y + 1):3] = row[0::4]
        if bytes(got) == want["rgb"]:
            print("DISPLAY-MATCH %dx%d" % (want["w"], want["h"]), flush=True)
            want["w"] = -1  # done
            GLib.timeout_add(100, finish, 0)
        else:
            display["differ"] = sum(1 for i in range(0, len(got), 3) if got[i:i + 3] != want["rgb"][i:i + 3])

    def invalidate(_channel, _x, _y, _w, _h):
        if expect:
            display_check()
        if want and want["w"] >= 0:
            match_check()

    UTF8_TEXT = 1  # VD_AGENT_CLIPBOARD_UTF8_TEXT
    clip = {"got": False, "sent": False, "monitors": False, "grabbed": False}

    def clip_check():
        if clip["got"] and clip["sent"] and clip["monitors"]:
            GLib.timeout_add(500, finish, 0)

    def clip_grab(channel, selection, _types, _ntypes):
        # The guest copied: ask for its text. Its agent announced its capabilities
        # before, so the client's own grab and monitors config go now too.
        channel.clipboard_selection_request(selection, UTF8_TEXT)
        if not clip["grabbed"]:
            clip["grabbed"] = True
            channel.clipboard_selection_grab(0, [UTF8_TEXT])
            w, h = (int(v) for v in o.monitor.split("x"))
            channel.update_display_enabled(0, True, False)
            channel.update_display(0, 0, 0, w, h, False)
            if channel.send_monitor_config():
                print("MONITORS-SENT", flush=True)
                clip["monitors"] = True
        clip_check()
        return True

    def clip_data(_channel, _selection, ctype, data, size):
        text = ctypes.string_at(data, size).decode(errors="replace") if size else ""
        print("GUEST-CLIPBOARD type=%d %s" % (ctype, text), flush=True)
        clip["got"] = True
        clip_check()

    def clip_request(channel, selection, ctype):
        data = o.clipboard.encode()
        channel.clipboard_selection_notify(selection, ctype, data)
        print("CLIENT-CLIPBOARD-SENT %d" % len(data), flush=True)
        clip["sent"] = True
        clip_check()
        return True

    def channel_new(_session, channel):
        if o.display_match:
            if isinstance(channel, Spice.DisplayChannel):
                GObject.Object.connect(channel, "display-primary-create", primary_create)
                GObject.Object.connect(channel, "display-invalidate", invalidate)
                channel.connect()
            elif isinstance(channel, Spice.MainChannel):
                GObject.Object.connect(channel, "channel-event", main_event)
            return
        if o.cursor:
            # As a viewer: the display too (the server refreshes while one is connected).
            if isinstance(channel, Spice.CursorChannel):
                GObject.Object.connect(channel, "cursor-set", cursor_set)
                channel.connect()
            elif isinstance(channel, Spice.DisplayChannel):
                GObject.Object.connect(channel, "display-primary-create", primary_create)
                GObject.Object.connect(channel, "display-invalidate", invalidate)
                channel.connect()
            return
        if o.clipboard is not None:
            if isinstance(channel, Spice.MainChannel):
                GObject.Object.connect(channel, "channel-event", main_event)
                GObject.Object.connect(channel, "main-clipboard-selection-grab", clip_grab)
                GObject.Object.connect(channel, "main-clipboard-selection", clip_data)
                GObject.Object.connect(channel, "main-clipboard-selection-request", clip_request)
            return
        if o.record:
            if isinstance(channel, Spice.RecordChannel):
                GObject.Object.connect(channel, "record-start", record_start)
                GObject.Object.connect(channel, "record-stop", record_stop)
                GObject.Object.connect(channel, "channel-event", record_event)
                channel.connect()
            return
        if o.audio and isinstance(channel, Spice.PlaybackChannel):
            GObject.Object.connect(channel, "playback-start", playback_start)
            GObject.Object.connect(channel, "playback-data", playback_data)
            channel.connect()
            return
        if o.audio:
            return
        if isinstance(channel, Spice.InputsChannel):
            GObject.Object.connect(channel, "channel-event", inputs_event)
            channel.connect()  # channels other than main are opened by the client
        elif isinstance(channel, Spice.MainChannel):
            GObject.Object.connect(channel, "channel-event", main_event)

    # Session.connect and Channel.connect are SPICE's own: signals go through GObject's.
    GObject.Object.connect(session, "channel-new", channel_new)
    if not session.connect():
        print("ERROR connect", flush=True)
        return 2
    GLib.timeout_add_seconds(o.timeout, lambda: (print("ERROR timeout %s differ=%s" % (
        display.get("last", ""), display.get("differ", "")), flush=True), finish(3))[1])
    loop.run()
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
