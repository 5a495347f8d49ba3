# SPDX-License-Identifier: GPL-2.0-or-later
"""A model of the Cirrus CL-GD5446's video memory and BitBLT engine for the cirrus guest
(cirrus.asm): it replays the blits the guest printed ("BLIT" parameter blocks, "DATA"
sources) and renders the expected picture of a mode, the hardware cursor on top.

Blit semantics (the CL-GD5446 TRM's BitBLT engine, as QEMU models them): the sixteen ROPs of
GR32 (other codes leave the destination), copies forward or backward (addresses then
name the last byte), a transparent colour compared after the ROP (8 and 16 bpp), colour
expansion (opaque: foreground/background; transparent: set bits in the foreground, or
with GR33 bit 1 clear bits in the background), 8x8 colour and monochrome patterns whose
first row is the source address's bits 2:0, solid fills, and GR2F's left skip. A blit
whose destination or video source leaves the 4 MiB is refused and changes nothing.
Standard library only."""
import struct

VRAM = 4 << 20

ROPS = {
    0x00: lambda d, s, m: 0,
    0x05: lambda d, s, m: s & d,
    0x06: lambda d, s, m: d,
    0x09: lambda d, s, m: s & ~d & m,
    0x0b: lambda d, s, m: ~d & m,
    0x0d: lambda d, s, m: s,
    0x0e: lambda d, s, m: m,
    0x50: lambda d, s, m: ~s & d & m,
    0x59: lambda d, s, m: s ^ d,
    0x6d: lambda d, s, m: s | d,
    0x90: lambda d, s, m: ~(s & d) & m,
    0x95: lambda d, s, m: ~(s ^ d) & m,
    0xad: lambda d, s, m: (s | ~d) & m,
    0xd0: lambda d, s, m: ~s & m,
    0xd6: lambda d, s, m: (~s | d) & m,
    0xda: lambda d, s, m: ~(s | d) & m,
}


def rop_bytes(rop, dst, src):
    """The ROP over two equal-length byte strings (bitwise, so byte order is moot)."""
    n = len(dst)
    m = (1 << (8 * n)) - 1
    fn = ROPS.get(rop, ROPS[0x06])
    v = fn(int.from_bytes(dst, "little"), int.from_bytes(src, "little"), m)
    return v.to_bytes(n, "little")


def formula_bytes(n):
    return bytes((k * 37 + (k >> 7)) & 0xff for k in range(n))


class Blit:
    FIELDS = "<HHHHIIBBBBIIHBBHH"

    def __init__(self, block):
        (w1, h1, self.dpitch, self.spitch, self.dst, self.src, self.mode, self.rop, self.ext,
         self.skip, self.fg, self.bg, self.transp, self.how, self.kind, self.length,
         self.ptr) = struct.unpack(self.FIELDS, block)
        # GR21/GR23/GR25/GR27 keep 5 bits: 13-bit widths, heights and pitches.
        self.w, self.h = (w1 & 0x1fff) + 1, (h1 & 0x1fff) + 1
        self.dpitch &= 0x1fff
        self.spitch &= 0x1fff
        self.pw = ((self.mode >> 4) & 3) + 1
        self.dst &= 0x3fffff
        self.src &= 0x3fffff


class Model:
    def __init__(self):
        self.m = bytearray(VRAM)

    def _region(self, start, pitch, w, h, backward):
        span = (h - 1) * pitch
        lo, hi = (start - span - (w - 1), start) if backward else (start, start + span + w - 1)
        return lo >= 0 and hi < VRAM

    def _skips(self, b):
        if b.pw == 3:
            dskip = b.skip & 0x1f
            return dskip, dskip // 3
        return (b.skip & 7) * b.pw, b.skip & 7

    def _expand_bytes(self, b):
        dskip, sskip = self._skips(b)
        pixels = (b.w - dskip + b.pw - 1) // b.pw if b.w > dskip else 0
        n = max(1, (sskip + pixels + 7) // 8)
        if b.ext & 0x01:
            n = (n + 3) & ~3
        return n

    def _line_start(self, b, y, backward):
        return b.dst - y * b.dpitch - (b.w - 1) if backward else b.dst + y * b.dpitch

    def _put_pixels(self, b, off, pixels):
        """pixels: list of (x byte offset in the line, colour or None) through the ROP."""
        line = self.m[off:off + b.w]
        for x, col in pixels:
            if col is None:
                continue
            n = min(b.pw, b.w - x)
            cb = col.to_bytes(4, "little")[:n]
            line[x:x + n] = rop_bytes(b.rop, bytes(line[x:x + n]), cb)
        self.m[off:off + b.w] = line

    def blit(self, b, sysdata=None):
        pattern, expand, transp = b.mode & 0x40, b.mode & 0x80, b.mode & 0x08
        if b.mode & 0x02:
            return "refused"
        solid = (b.ext & 0x04) and pattern and expand and not transp
        backward = bool(b.mode & 0x01) and not (pattern or expand or solid)
        if not (solid or pattern or expand) and transp and b.pw > 2:
            return "refused"
        if not self._region(b.dst, b.dpitch, b.w, b.h, backward):
            return "refused"
        system = b.mode & 0x04
        ppitch = 32 if b.pw >= 3 else 8 * b.pw
        if not solid and not system:
            if pattern:
                size = 8 if expand else 8 * ppitch
                ok = self._region(b.src & ~(size - 1), 0, size, 1, False)
            elif expand:
                eb = self._expand_bytes(b)
                ok = self._region(b.src, eb, eb, b.h, False)
            else:
                ok = self._region(b.src, b.spitch, b.w, b.h, backward)
            if not ok:
                return "refused"
        dskip, sskip = self._skips(b)
        if pattern:
            size = 8 if expand else 8 * ppitch
            pat = bytes(sysdata[:size]) if system else bytes(self.m[b.src & ~(size - 1):(b.src & ~(size - 1)) + size])
        ebytes = self._expand_bytes(b)
        inv = bool(b.ext & 0x02)
        for y in range(b.h):
            off = self._line_start(b, y, backward)
            if solid:
                self._put_pixels(b, off, [(x, b.fg) for x in range(0, b.w, b.pw)])
            elif pattern and expand:
                bits = pat[(b.src + y) & 7]
                px = []
                for i, x in enumerate(range(dskip, b.w, b.pw)):
                    v = bits >> (7 - ((sskip + i) & 7)) & 1
                    if not transp:
                        px.append((x, b.fg if v else b.bg))
                    elif v ^ inv:
                        px.append((x, b.bg if inv else b.fg))
                self._put_pixels(b, off, px)
            elif pattern:
                row = pat[((b.src + y) & 7) * ppitch:]
                px = []
                for i, x in enumerate(range(dskip, b.w, b.pw), start=dskip // b.pw):
                    k = (i & 7) * b.pw
                    px.append((x, int.from_bytes(row[k:k + b.pw], "little")))
                self._put_pixels(b, off, px)
            elif expand:
                if system:
                    bits = sysdata[y * ebytes:(y + 1) * ebytes]
                else:
                    bits = self.m[b.src + y * ebytes:b.src + (y + 1) * ebytes]
                px = []
                for i, x in enumerate(range(dskip, b.w, b.pw)):
                    bit = sskip + i
                    v = bits[bit // 8] >> (7 - bit % 8) & 1
                    if not transp:
                        px.append((x, b.fg if v else b.bg))
                    elif v ^ inv:
                        px.append((x, b.bg if inv else b.fg))
                self._put_pixels(b, off, px)
            else:
                if system:
                    line_len = (b.w + 3) & ~3
                    src = bytes(sysdata[y * line_len:y * line_len + b.w])
                else:
                    soff = b.src - y * b.spitch - (b.w - 1) if backward else b.src + y * b.spitch
                    if abs(soff - off) < b.w and soff != off:
                        raise ValueError("the model does not replay copies overlapping within a line")
                    src = bytes(self.m[soff:soff + b.w])
                dst = bytes(self.m[off:off + b.w])
                res = bytearray(rop_bytes(b.rop, dst, src))
                if transp:
                    # Pixels whose result equals the transparent colour keep the destination.
                    t = b.transp.to_bytes(2, "little")[:b.pw]
                    starts = (range(b.w - b.pw, -b.pw, -b.pw) if backward else range(0, b.w, b.pw))
                    for first in starts:
                        idx = [first + j for j in range(b.pw) if 0 <= first + j < b.w]
                        if all(res[i] == t[i - first] for i in idx):
                            for i in idx:
                                res[i] = dst[i]
                self.m[off:off + b.w] = res
        return "done"

    def sys_length(self, b):
        if b.mode & 0x40:
            return 8 if b.mode & 0x80 else 8 * (32 if b.pw >= 3 else 8 * b.pw)
        if b.mode & 0x80:
            return self._expand_bytes(b) * b.h
        return ((b.w + 3) & ~3) * b.h

    # ---- the picture ----

    def render(self, w, h, bpp, pitch, dac=None, start=0):
        """The expected screendump as RGB bytes."""
        out = bytearray(w * h * 3)
        m = self.m
        for y in range(h):
            base = start + y * pitch
            o = y * w * 3
            if bpp == 32:
                for x in range(w):
                    p = base + 4 * x
                    out[o:o + 3] = bytes((m[p + 2], m[p + 1], m[p]))
                    o += 3
            elif bpp == 24:
                for x in range(w):
                    p = base + 3 * x
                    out[o:o + 3] = bytes((m[p + 2], m[p + 1], m[p]))
                    o += 3
            elif bpp in (15, 16):
                for x in range(w):
                    v = m[base + 2 * x] | m[base + 2 * x + 1] << 8
                    if bpp == 16:
                        r, g, b = v >> 11 & 31, v >> 5 & 63, v & 31
                        rgb = (r << 3 | r >> 2, g << 2 | g >> 4, b << 3 | b >> 2)
                    else:
                        r, g, b = v >> 10 & 31, v >> 5 & 31, v & 31
                        rgb = (r << 3 | r >> 2, g << 3 | g >> 2, b << 3 | b >> 2)
                    out[o:o + 3] = bytes(rgb)
                    o += 3
            else:
                for x in range(w):
                    out[o:o + 3] = dac[m[base + x]]
                    o += 3
        return out

    def draw_cursor(self, out, w, h, cx, cy, pattern, col0, col15):
        """The 32x32 cursor of pattern number `pattern`: (plane 0, plane 1) = (1,0)
        inverts, (0,1) colour 0, (1,1) colour 15."""
        base = VRAM - 0x4000 + (pattern & 0x3f) * 256
        for r in range(32):
            y = cy + r
            if y >= h:
                break
            for x in range(32):
                if cx + x >= w:
                    break
                b0 = self.m[base + r * 4 + x // 8] >> (7 - x % 8) & 1
                b1 = self.m[base + 128 + r * 4 + x // 8] >> (7 - x % 8) & 1
                o = 3 * (y * w + cx + x)
                if b0 and not b1:
                    out[o:o + 3] = bytes(c ^ 0xff for c in out[o:o + 3])
                elif b1 and not b0:
                    out[o:o + 3] = col0
                elif b0 and b1:
                    out[o:o + 3] = col15


def dac6(v):
    v &= 63
    return v << 2 | (v & 1) * 3
