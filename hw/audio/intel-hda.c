/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Intel I/O Controller Hub 6 High Definition Audio controller (-device intel-hda; PCI
 * 8086:2668, QEMU's name and IDs), the host side of the HD Audio link; the codecs on the
 * link are separate devices (hw/audio/hda-codec.c) that attach to it.
 *
 * After the "High Definition Audio Specification" revision 1.0a (HDA below): the
 * controller registers of section 3.3 in a 16 KiB memory BAR, the command ring (CORB,
 * 4.4.1) and response ring (RIRB, 4.4.2) in guest memory, the immediate command
 * registers (3.4), four input and four output stream descriptors walking buffer
 * descriptor lists (3.6) and the DMA position buffer (DPLBASE); register names below are
 * the spec's (and Intel's ICH6 datasheet's, chapter 18.2).
 *
 * Streams are paced by the virtual clock as ac97.c's channels are: a stream running at
 * rate r since base_ns has moved floor((now - base_ns) * r) frames. Output samples are
 * fetched when the codec's voice asks (intel_hda_sync_output) and at the end of every
 * buffer, where a timer completes it at its exact virtual time (IOC); input streams ask
 * the codecs for their samples on the same pace. Every guest address (rings, lists,
 * buffers, position buffer) is checked against RAM: a bad one sets the error bit the
 * chip has for it (CMEI, RIRBOIS, DESE, FIFOE) and never touches the host. */
#include "hw/audio/intel-hda.h"
#include "engine/log.h"
#include "engine/machine.h"
#include "engine/memory.h"
#include "engine/timer.h"
#include "hw/pci/pci.h"

#include <inttypes.h>
#include <string.h>

#define MMIO_SIZE 0x4000
#define N_IN 4
#define N_OUT 4
#define N_STREAMS (N_IN + N_OUT)
#define N_CODECS 15
#define WALL_HZ 24000000    /* the link's 24 MHz wall clock (HDA 3.3: WALCLK) */

/* Global registers (HDA 3.3). */
enum {
    R_GCAP = 0x00, R_VMIN = 0x02, R_VMAJ = 0x03, R_OUTPAY = 0x04, R_INPAY = 0x06, R_GCTL = 0x08,
    R_WAKEEN = 0x0c, R_STATESTS = 0x0e, R_GSTS = 0x10, R_OUTSTRMPAY = 0x18, R_INSTRMPAY = 0x1a,
    R_INTCTL = 0x20, R_INTSTS = 0x24, R_WALCLK = 0x30, R_OLD_SSYNC = 0x34, R_SSYNC = 0x38,
    R_CORBLBASE = 0x40, R_CORBUBASE = 0x44, R_CORBWP = 0x48, R_CORBRP = 0x4a, R_CORBCTL = 0x4c,
    R_CORBSTS = 0x4d, R_CORBSIZE = 0x4e, R_RIRBLBASE = 0x50, R_RIRBUBASE = 0x54, R_RIRBWP = 0x58,
    R_RINTCNT = 0x5a, R_RIRBCTL = 0x5c, R_RIRBSTS = 0x5d, R_RIRBSIZE = 0x5e, R_ICOI = 0x60,
    R_IRII = 0x64, R_ICIS = 0x68, R_DPLBASE = 0x70, R_DPUBASE = 0x74, R_SD0 = 0x80,
    R_WALCLK_ALIAS = 0x2030, R_SD0_LPIB_ALIAS = 0x2084,
};
#define GCAP_VALUE (N_OUT << 12 | N_IN << 8 | 1)   /* 4 out, 4 in, no bidirectional, 64-bit OK */
#define GCTL_CRST 0x1
#define GCTL_FCNTRL 0x2
#define GCTL_UNSOL 0x100
#define GSTS_FSTS 0x2
#define INT_GIE 0x80000000u
#define INT_CIE 0x40000000u
#define CORBRP_RST 0x8000
#define CORBCTL_CMEIE 0x1
#define CORBCTL_RUN 0x2
#define CORBSTS_CMEI 0x1
#define RIRBWP_RST 0x8000
#define RIRBCTL_RINTCTL 0x1
#define RIRBCTL_DMAEN 0x2
#define RIRBCTL_OIC 0x4
#define RIRBSTS_RINTFL 0x1
#define RIRBSTS_OIS 0x4
#define RING_SIZE_CAPS 0x40     /* CORBSZCAP/RIRBSZCAP: 256 entries only, as the ICH6 */
#define ICIS_ICB 0x1
#define ICIS_IRV 0x2
#define DPLBASE_ENABLE 0x1

/* Stream descriptor registers (HDA 3.3: SDnCTL to SDnBDPU), offsets within its 0x20 bytes. */
enum { SD_CTL = 0x00, SD_STS = 0x03, SD_LPIB = 0x04, SD_CBL = 0x08, SD_LVI = 0x0c, SD_FIFOW = 0x0e,
       SD_FIFOS = 0x10, SD_FMT = 0x12, SD_BDPL = 0x18, SD_BDPU = 0x1c };
#define CTL_SRST 0x1
#define CTL_RUN 0x2
#define CTL_IOCE 0x4
#define CTL_FEIE 0x8
#define CTL_DEIE 0x10
#define CTL_TP 0x40000      /* traffic priority: set at reset (Intel HD Audio PRM 307017, 1.2.35) */
#define CTL_MASK 0xf7001f   /* stream number, DIR (bidirectional only), TP, stripe, the enables */
#define STS_BCIS 0x4
#define STS_FIFOE 0x8
#define STS_DESE 0x10
#define STS_FIFORDY 0x20
#define STS_W1C (STS_BCIS | STS_FIFOE | STS_DESE)
#define BDLE_IOC 0x1
#define FIFOS_OUT 0x00bf    /* 192-byte FIFOs (the value is size - 1) */
#define FIFOS_IN 0x004f

typedef struct HdaStream {
    uint32_t ctl;           /* SDnCTL, 24 bits */
    uint8_t sts;
    uint32_t lpib, cbl;
    uint16_t lvi, fifow, fmt;
    uint32_t bdpl, bdpu;
    bool running;           /* moving samples (RUN and not stopped by an error) */
    uint32_t bde;           /* the current buffer descriptor */
    uint64_t bde_addr;
    uint32_t bde_len, bde_off;
    bool bde_ioc;
    int64_t base_ns;        /* the pace: frames moved since base_ns */
    int64_t base_frames;
    VTimer *timer;
} HdaStream;

struct IntelHda {
    Device dev;
    char *addr;             /* property */
    PciDevice pci;
    Vm *vm;
    uint32_t gctl, intctl, ssync;
    uint16_t wakeen, statests, gsts;
    uint32_t corblbase, corbubase;
    uint16_t corbwp, corbrp;
    uint8_t corbctl, corbsts, corbsize;
    uint32_t rirblbase, rirbubase;
    uint16_t rirbwp, rintcnt;
    uint8_t rirbctl, rirbsts, rirbsize;
    uint16_t rirb_count;    /* responses since RINTFL was last set */
    uint32_t icoi, irii;
    uint16_t icis;
    uint32_t dplbase, dpubase;
    int64_t wall_base_ns;
    HdaStream st[N_STREAMS];
    struct {
        const HdaCodecOps *ops;
        void *opaque;
    } codec[N_CODECS];      /* wiring: the codecs attached, by address */
};

/* A register write of some bytes of a dword: v holds them at their places, m their mask. */
#define MERGE(old, v, m) (((old) & ~(m)) | ((v) & (m)))

static bool stream_is_output(int i)
{
    return i >= N_IN;
}

static uint64_t addr64(uint32_t lo, uint32_t hi)
{
    return (uint64_t)hi << 32 | lo;
}

bool hda_format_decode(uint16_t fmt, HdaFormat *f)
{
    static const unsigned bits[8] = { 8, 16, 20, 24, 32, 0, 0, 0 };
    unsigned mult = ((fmt >> 11) & 7) + 1, div = ((fmt >> 8) & 7) + 1;
    f->bits = bits[(fmt >> 4) & 7];
    f->container = f->bits == 8 ? 1 : f->bits == 16 ? 2 : 4;
    f->channels = (fmt & 0xf) + 1;
    f->rate = (fmt & 0x4000 ? 44100 : 48000) * MIN(mult, 4) / div;
    return mult <= 4 && f->bits != 0;
}

/* ---- interrupts (HDA 3.3: INTCTL, INTSTS) ---- */

static uint32_t stream_int_bits(const IntelHda *s)
{
    uint32_t sis = 0;
    for (int i = 0; i < N_STREAMS; i++) {
        const HdaStream *st = &s->st[i];
        if (((st->sts & STS_BCIS) && (st->ctl & CTL_IOCE)) || ((st->sts & STS_FIFOE) && (st->ctl & CTL_FEIE)) ||
            ((st->sts & STS_DESE) && (st->ctl & CTL_DEIE)))
            sis |= 1u << i;
    }
    return sis;
}

static bool controller_int(const IntelHda *s)
{
    return ((s->rirbsts & RIRBSTS_RINTFL) && (s->rirbctl & RIRBCTL_RINTCTL)) ||
           ((s->rirbsts & RIRBSTS_OIS) && (s->rirbctl & RIRBCTL_OIC)) ||
           ((s->corbsts & CORBSTS_CMEI) && (s->corbctl & CORBCTL_CMEIE)) || (s->statests & s->wakeen);
}

static uint32_t hda_intsts(const IntelHda *s)
{
    uint32_t v = stream_int_bits(s) | (controller_int(s) ? INT_CIE : 0);
    return v ? v | INT_GIE : 0;
}

static void hda_update_irq(IntelHda *s)
{
    uint32_t sis = stream_int_bits(s);
    bool level = (s->intctl & INT_GIE) &&
                 ((sis & s->intctl) || ((s->intctl & INT_CIE) && controller_int(s)));
    pci_set_irq(&s->pci, level);
}

/* ---- commands and responses (HDA 4.4) ---- */

static unsigned ring_entries(uint8_t size_reg)
{
    static const unsigned n[4] = { 2, 16, 256, 256 };
    return n[size_reg & 3];
}

/* Sends a verb on the link; false when no codec has that address (no response). */
static bool hda_send(IntelHda *s, uint32_t cmd, uint32_t *resp)
{
    unsigned cad = cmd >> 28;
    if (cad >= N_CODECS || !s->codec[cad].ops)
        return false;
    *resp = s->codec[cad].ops->command(s->codec[cad].opaque, cmd & 0x0fffffff);
    VLOG(LOG_AUDIO, "intel-hda: codec %u node %u verb 0x%05x -> 0x%08x", cad, (cmd >> 20) & 0xff,
         cmd & 0xfffff, *resp);
    return true;
}

static void rirb_push(IntelHda *s, uint32_t resp, uint32_t ext)
{
    if (!(s->rirbctl & RIRBCTL_DMAEN)) {
        s->rirbsts |= RIRBSTS_OIS;   /* nowhere to put it: the response is lost */
        return;
    }
    unsigned wp = ((s->rirbwp & 0xff) + 1) % ring_entries(s->rirbsize);
    uint64_t a = addr64(s->rirblbase, s->rirbubase) + (uint64_t)wp * 8;
    uint8_t e[8];
    for (int k = 0; k < 4; k++) {
        e[k] = (uint8_t)(resp >> (8 * k));
        e[4 + k] = (uint8_t)(ext >> (8 * k));
    }
    GuestMemory *m = vm_mem(s->vm);
    if (!pci_bus_master_enabled(&s->pci) || !mem_is_ram(m, a, 8) || !mem_write(m, a, e, 8)) {
        /* The ring has no memory error bit: a response that cannot be written is an
         * overrun, as if the ring were not running. */
        s->rirbsts |= RIRBSTS_OIS;
        return;
    }
    s->rirbwp = (uint16_t)wp;
    unsigned cnt = s->rintcnt & 0xff ? s->rintcnt & 0xff : 256;
    if (++s->rirb_count >= cnt) {
        s->rirbsts |= RIRBSTS_RINTFL;
        s->rirb_count = 0;
    }
}

/* Sends what the CORB holds between its read and write pointers (HDA 4.4.1). */
static void corb_run(IntelHda *s)
{
    if (!(s->corbctl & CORBCTL_RUN) || !(s->gctl & GCTL_CRST))
        return;
    unsigned size = ring_entries(s->corbsize);
    GuestMemory *m = vm_mem(s->vm);
    /* At most one ring's worth per write of the write pointer. */
    for (unsigned n = 0; n < size && (s->corbrp & 0xff) % size != (s->corbwp & 0xff) % size; n++) {
        unsigned rp = ((s->corbrp & 0xff) + 1) % size;
        uint64_t a = addr64(s->corblbase, s->corbubase) + (uint64_t)rp * 4;
        uint8_t e[4];
        if (!pci_bus_master_enabled(&s->pci) || !mem_is_ram(m, a, 4) || !mem_read(m, a, e, 4)) {
            /* CORB memory error (HDA 3.3: CORBSTS): the ring stops. */
            VLOG(LOG_AUDIO, "intel-hda: CORB entry at 0x%" PRIx64 " outside RAM", a);
            s->corbsts |= CORBSTS_CMEI;
            s->corbctl &= (uint8_t)~CORBCTL_RUN;
            break;
        }
        s->corbrp = (uint16_t)((s->corbrp & CORBRP_RST) | rp);
        uint32_t cmd = e[0] | e[1] << 8 | e[2] << 16 | (uint32_t)e[3] << 24, resp;
        if (hda_send(s, cmd, &resp))
            rirb_push(s, resp, cmd >> 28);
    }
    /* No more responses in this frame: RINTFL before the count is reached (RINTCNT). */
    if (s->rirb_count) {
        s->rirbsts |= RIRBSTS_RINTFL;
        s->rirb_count = 0;
    }
    hda_update_irq(s);
}

/* ---- stream DMA (HDA 3.6, 4.5) ---- */

static void dma_position_update(IntelHda *s)
{
    if (!(s->dplbase & DPLBASE_ENABLE) || !pci_bus_master_enabled(&s->pci))
        return;
    uint64_t base = addr64(s->dplbase & ~0x7fu, s->dpubase);
    GuestMemory *m = vm_mem(s->vm);
    if (!mem_is_ram(m, base, 8 * N_STREAMS))
        return;   /* no error bit exists for it: positions outside RAM are not written */
    for (int i = 0; i < N_STREAMS; i++)
        mem_stl(m, base + 8 * (uint64_t)i, s->st[i].lpib);
}

static void stream_stop(IntelHda *s, int i, uint8_t why)
{
    HdaStream *st = &s->st[i];
    VLOG(LOG_AUDIO, "intel-hda: stream %d stopped%s%s", i, why & STS_DESE ? " (descriptor error)" : "",
         why & STS_FIFOE ? " (FIFO error)" : "");
    st->running = false;
    st->sts = (uint8_t)((st->sts | why) & ~STS_FIFORDY);
    if (why & STS_DESE)
        st->ctl &= ~(uint32_t)CTL_RUN;   /* a descriptor error clears RUN (SDnSTS.DESE) */
    vtimer_del(st->timer);
}

/* Loads descriptor st->bde (HDA 3.6: address, length in bytes, IOC). */
static bool stream_fetch(IntelHda *s, int i)
{
    HdaStream *st = &s->st[i];
    uint64_t a = addr64(st->bdpl & ~0x7fu, st->bdpu) + (uint64_t)st->bde * 16;
    GuestMemory *m = vm_mem(s->vm);
    uint8_t e[16];
    if (!mem_is_ram(m, a, sizeof(e)) || !mem_read(m, a, e, sizeof(e))) {
        stream_stop(s, i, STS_DESE);
        return false;
    }
    st->bde_addr = (uint64_t)e[0] | (uint64_t)e[1] << 8 | (uint64_t)e[2] << 16 | (uint64_t)e[3] << 24 |
                   (uint64_t)e[4] << 32 | (uint64_t)e[5] << 40 | (uint64_t)e[6] << 48 | (uint64_t)e[7] << 56;
    st->bde_len = e[8] | e[9] << 8 | e[10] << 16 | (uint32_t)e[11] << 24;
    st->bde_ioc = e[12] & BDLE_IOC;
    st->bde_off = 0;
    return true;
}

/* The current buffer is used up: its interrupt, then the next one (the list is a ring
 * of LVI + 1 entries). */
static bool stream_next(IntelHda *s, int i)
{
    HdaStream *st = &s->st[i];
    if (st->bde_ioc)
        st->sts |= STS_BCIS;
    st->bde = st->bde >= (st->lvi & 0xff) ? 0 : st->bde + 1;
    return stream_fetch(s, i);
}

/* Moves `bytes` between buf and the buffers (to_guest: input), advancing the list, LPIB
 * and the descriptor; false when the stream stopped. */
static bool stream_copy(IntelHda *s, int i, uint8_t *buf, size_t bytes, bool to_guest)
{
    HdaStream *st = &s->st[i];
    GuestMemory *m = vm_mem(s->vm);
    unsigned empty = 0;
    size_t done = 0;
    while (done < bytes) {
        if (st->bde_off >= st->bde_len) {
            /* Zero-length entries complete at once; a list of nothing but those is a
             * descriptor error, not a busy loop. */
            if (++empty > 256) {
                stream_stop(s, i, STS_DESE);
                return false;
            }
            if (!stream_next(s, i))
                return false;
            continue;
        }
        empty = 0;
        size_t n = MIN((size_t)(st->bde_len - st->bde_off), bytes - done);
        uint64_t a = st->bde_addr + st->bde_off;
        bool ok = mem_is_ram(m, a, n);
        if (to_guest && ok)
            mem_write(m, a, buf + done, n);
        else if (!to_guest && !(ok && mem_read(m, a, buf + done, n)))
            ok = false;
        if (!ok) {
            /* The bus gave nothing (output) or took nothing (input): a FIFO error. */
            if (!to_guest)
                memset(buf + done, 0, n);
            st->sts |= STS_FIFOE;
        }
        st->bde_off += (uint32_t)n;
        done += n;
        st->lpib = st->cbl ? (uint32_t)(((uint64_t)st->lpib + n) % st->cbl) : 0;
        if (st->bde_off >= st->bde_len && !stream_next(s, i))
            return false;
    }
    return true;
}

static void stream_arm_timer(IntelHda *s, int i, const HdaFormat *f)
{
    HdaStream *st = &s->st[i];
    if (!st->running) {
        vtimer_del(st->timer);
        return;
    }
    unsigned fb = f->container * f->channels;
    int64_t left = ((int64_t)st->bde_len - st->bde_off + fb - 1) / fb;
    /* The end of this buffer, and every 10 ms in long ones (LPIB, the position buffer). */
    left = CLAMP(left, 1, (int64_t)f->rate / 100 + 1);
    int64_t frames = st->base_frames + left;
    int64_t ns = ticks_to_ns(frames, f->rate);
    while (ns_to_ticks(ns, f->rate) < frames)
        ns++;
    vtimer_mod(st->timer, st->base_ns + ns);
}

static void hda_codecs_output(IntelHda *s, unsigned stream, const HdaFormat *f, const uint8_t *buf, size_t n)
{
    for (int c = 0; c < N_CODECS; c++)
        if (s->codec[c].ops)
            s->codec[c].ops->output(s->codec[c].opaque, stream, f, buf, n);
}

static void hda_codecs_input(IntelHda *s, unsigned stream, const HdaFormat *f, uint8_t *buf, size_t n)
{
    for (int c = 0; c < N_CODECS; c++)
        if (s->codec[c].ops && s->codec[c].ops->input(s->codec[c].opaque, stream, f, buf, n))
            return;
    memset(buf, 0, n);   /* no converter listens to this stream: the link carries zeros */
}

/* Moves the frames due by now. */
static void stream_run(IntelHda *s, int i)
{
    HdaStream *st = &s->st[i];
    if (!st->running)
        return;
    HdaFormat f;
    if (!hda_format_decode(st->fmt, &f)) {
        stream_stop(s, i, STS_FIFOE);
        hda_update_irq(s);
        return;
    }
    int64_t now = vm_clock_ns(s->vm);
    if (!pci_bus_master_enabled(&s->pci) || (s->ssync & (1u << i))) {
        /* No bus master, or held by its stream synchronization bit (SSYNC: the
         * FIFO fills, nothing is transferred): the pace starts afresh when it may. */
        st->base_ns = now;
        st->base_frames = 0;
        stream_arm_timer(s, i, &f);
        return;
    }
    int64_t due = ns_to_ticks(now - st->base_ns, f.rate) - st->base_frames;
    if (due > (int64_t)f.rate / 2) {
        /* A state load or a long stall: do not replay more than half a second. */
        st->base_frames += due - f.rate / 2;
        due = f.rate / 2;
    }
    unsigned fb = f.container * f.channels, stream = (st->ctl >> 20) & 0xf;
    uint8_t buf[4096];
    while (st->running && due > 0) {
        size_t frames = MIN((size_t)due, sizeof(buf) / fb), bytes = frames * fb;
        if (stream_is_output(i)) {
            if (!stream_copy(s, i, buf, bytes, false))
                break;
            if (stream)
                hda_codecs_output(s, stream, &f, buf, bytes);
        } else {
            if (stream)
                hda_codecs_input(s, stream, &f, buf, bytes);
            else
                memset(buf, 0, bytes);
            if (!stream_copy(s, i, buf, bytes, true))
                break;
        }
        st->base_frames += (int64_t)frames;
        due -= (int64_t)frames;
    }
    dma_position_update(s);
    stream_arm_timer(s, i, &f);
    hda_update_irq(s);
}

static void stream_start(IntelHda *s, int i)
{
    HdaStream *st = &s->st[i];
    HdaFormat f;
    bool fmt_ok = hda_format_decode(st->fmt, &f);
    VLOG(LOG_AUDIO, "intel-hda: stream %d (tag %u) runs: %u Hz, %u bits, %u channels, %u-byte buffer, LVI %u",
         i, (st->ctl >> 20) & 0xf, f.rate, f.bits, f.channels, st->cbl, st->lvi & 0xff);
    st->running = true;
    st->base_ns = vm_clock_ns(s->vm);
    st->base_frames = 0;
    st->bde = 0;
    if (!fmt_ok) {
        stream_stop(s, i, STS_FIFOE);   /* a reserved format: nothing can flow */
        return;
    }
    if (!stream_fetch(s, i))
        return;   /* a list outside RAM: stopped with DESE */
    st->sts |= STS_FIFORDY;
    stream_arm_timer(s, i, &f);
}

static void stream_reset(IntelHda *s, int i)
{
    HdaStream *st = &s->st[i];
    vtimer_del(st->timer);
    st->ctl = CTL_TP;
    st->sts = 0;
    st->lpib = st->cbl = 0;
    st->lvi = 0;
    st->fifow = 0x4;   /* 32 bytes */
    st->fmt = 0;
    st->bdpl = st->bdpu = 0;
    st->running = false;
    st->bde = 0;
    st->bde_addr = 0;
    st->bde_len = st->bde_off = 0;
    st->bde_ioc = false;
    st->base_ns = st->base_frames = 0;
}

static void stream_timer(HdaStream *st, IntelHda *s)
{
    stream_run(s, (int)(st - s->st));
}

static void stream_timer0(void *o) { stream_timer(&((IntelHda *)o)->st[0], o); }
static void stream_timer1(void *o) { stream_timer(&((IntelHda *)o)->st[1], o); }
static void stream_timer2(void *o) { stream_timer(&((IntelHda *)o)->st[2], o); }
static void stream_timer3(void *o) { stream_timer(&((IntelHda *)o)->st[3], o); }
static void stream_timer4(void *o) { stream_timer(&((IntelHda *)o)->st[4], o); }
static void stream_timer5(void *o) { stream_timer(&((IntelHda *)o)->st[5], o); }
static void stream_timer6(void *o) { stream_timer(&((IntelHda *)o)->st[6], o); }
static void stream_timer7(void *o) { stream_timer(&((IntelHda *)o)->st[7], o); }

static void stream_write_ctl(IntelHda *s, int i, uint32_t v)
{
    HdaStream *st = &s->st[i];
    if (st->running)
        stream_run(s, i);
    if (v & CTL_SRST) {
        /* Stream reset (SDnCTL.SRST): the descriptor's registers return to their defaults
         * and SRST reads back 1 until software clears it. */
        stream_reset(s, i);
        st->ctl |= CTL_SRST;
        dma_position_update(s);
        return;
    }
    bool was = st->ctl & CTL_RUN;
    st->ctl = v & CTL_MASK;
    if (!was && (v & CTL_RUN)) {
        stream_start(s, i);
        stream_run(s, i);
    } else if (was && !(v & CTL_RUN) && st->running) {
        st->running = false;
        st->sts &= (uint8_t)~STS_FIFORDY;
        vtimer_del(st->timer);
        VLOG(LOG_AUDIO, "intel-hda: stream %d stopped at LPIB %u", i, st->lpib);
    }
}

static uint32_t stream_read_dword(IntelHda *s, int i, unsigned r)
{
    HdaStream *st = &s->st[i];
    if (st->running)
        stream_run(s, i);   /* LPIB and STS as of now */
    switch (r) {
    case SD_CTL: return st->ctl | (uint32_t)st->sts << 24;
    case SD_LPIB: return st->lpib;
    case SD_CBL: return st->cbl;
    case SD_LVI: return st->lvi | (uint32_t)st->fifow << 16;
    case SD_FIFOS: return (stream_is_output(i) ? FIFOS_OUT : FIFOS_IN) | (uint32_t)st->fmt << 16;
    case SD_BDPL: return st->bdpl;
    case SD_BDPU: return st->bdpu;
    }
    return 0;
}

/* v holds the bytes written at their places in the dword, m their byte mask. */
static void stream_write_dword(IntelHda *s, int i, unsigned r, uint32_t v, uint32_t m)
{
    HdaStream *st = &s->st[i];
    switch (r) {
    case SD_CTL:
        if (m & 0xff000000u) {
            if (st->running)
                stream_run(s, i);
            st->sts &= (uint8_t)~((v >> 24) & STS_W1C);
        }
        if (m & 0xffffff)
            stream_write_ctl(s, i, (st->ctl & ~m) | (v & m & 0xffffff));
        break;
    case SD_CBL: st->cbl = (st->cbl & ~m) | (v & m); break;
    case SD_LVI:
        /* LVI in the low half, FIFOW in the high half. */
        st->lvi = (uint16_t)(MERGE(st->lvi, v, m) & 0xff);
        st->fifow = (uint16_t)((MERGE((uint32_t)st->fifow << 16, v, m) >> 16) & 0x7);
        break;
    case SD_FIFOS:
        /* FIFOS (low half) is read-only; FMT is the high half. */
        if (m & 0xffff0000) {
            if (st->running)
                stream_run(s, i);
            st->fmt = (uint16_t)(MERGE((uint32_t)st->fmt << 16, v, m) >> 16);
            if (st->running) {
                /* A new format while running: the pace starts again from now. */
                st->base_ns = vm_clock_ns(s->vm);
                st->base_frames = 0;
                stream_run(s, i);
            }
        }
        break;
    case SD_BDPL: st->bdpl = ((st->bdpl & ~m) | (v & m)) & ~0x7fu; break;
    case SD_BDPU: st->bdpu = (st->bdpu & ~m) | (v & m); break;
    default: break;   /* LPIB is read-only */
    }
    hda_update_irq(s);
}

/* ---- the controller ---- */

static void codecs_reset(IntelHda *s)
{
    for (int c = 0; c < N_CODECS; c++)
        if (s->codec[c].ops)
            s->codec[c].ops->reset(s->codec[c].opaque);
}

/* Controller reset (GCTL.CRST = 0, HDA 3.3): everything but the PCI space, the wake
 * registers and STATESTS returns to its default; the link and its codecs are reset. */
static void controller_reset(IntelHda *s)
{
    for (int i = 0; i < N_STREAMS; i++)
        stream_reset(s, i);
    s->gctl = 0;
    s->intctl = s->ssync = 0;
    s->gsts = 0;
    s->corblbase = s->corbubase = 0;
    s->corbwp = s->corbrp = 0;
    s->corbctl = s->corbsts = 0;
    s->corbsize = RING_SIZE_CAPS | 2;
    s->rirblbase = s->rirbubase = 0;
    s->rirbwp = s->rintcnt = 0;
    s->rirbctl = s->rirbsts = 0;
    s->rirbsize = RING_SIZE_CAPS | 2;
    s->rirb_count = 0;
    s->icoi = s->irii = 0;
    s->icis = 0;
    s->dplbase = s->dpubase = 0;
    codecs_reset(s);
}

static uint16_t codecs_present(const IntelHda *s)
{
    uint16_t mask = 0;
    for (int c = 0; c < N_CODECS; c++)
        if (s->codec[c].ops)
            mask |= (uint16_t)(1u << c);
    return mask;
}

static void write_gctl(IntelHda *s, uint32_t v)
{
    bool was = s->gctl & GCTL_CRST;
    if (!(v & GCTL_CRST)) {
        if (was)
            VLOG(LOG_AUDIO, "intel-hda: controller reset");
        controller_reset(s);
        return;
    }
    s->gctl = v & (GCTL_CRST | GCTL_UNSOL);   /* FCNTRL (flush) completes at once */
    if (!was) {
        /* Out of reset, each codec asks for an address: a state change (4.3). */
        s->statests |= codecs_present(s);
        VLOG(LOG_AUDIO, "intel-hda: link up, codecs 0x%x", s->statests);
    }
    if (v & GCTL_FCNTRL)
        s->gsts |= GSTS_FSTS;
}

static void immediate_command(IntelHda *s)
{
    uint32_t resp;
    if (hda_send(s, s->icoi, &resp)) {
        s->irii = resp;
        s->icis |= ICIS_IRV;
    }
    s->icis &= (uint16_t)~ICIS_ICB;   /* done (or no codec answered) */
}

static uint32_t hda_read_dword(IntelHda *s, unsigned a)
{
    if (a >= R_SD0 && a < R_SD0 + 0x20 * N_STREAMS)
        return stream_read_dword(s, (int)((a - R_SD0) / 0x20), (a - R_SD0) % 0x20);
    if (a >= R_SD0_LPIB_ALIAS && a < R_SD0_LPIB_ALIAS + 0x20 * N_STREAMS && (a - R_SD0_LPIB_ALIAS) % 0x20 == 0)
        return stream_read_dword(s, (int)((a - R_SD0_LPIB_ALIAS) / 0x20), SD_LPIB);
    switch (a) {
    case R_GCAP: return GCAP_VALUE | 0x00 << 16 | 0x01u << 24;   /* version 1.0 */
    case R_OUTPAY: return 0x3c | 0x1d << 16;                     /* OUTPAY, INPAY */
    case R_GCTL: return s->gctl;
    case R_WAKEEN: return s->wakeen | (uint32_t)s->statests << 16;
    case R_GSTS: return s->gsts;
    case R_OUTSTRMPAY: return 0x30 | 0x18 << 16;
    case R_INTCTL: return s->intctl;
    case R_INTSTS:
        for (int i = 0; i < N_STREAMS; i++)
            stream_run(s, i);
        return hda_intsts(s);
    case R_WALCLK: case R_WALCLK_ALIAS:
        return (uint32_t)ns_to_ticks(vm_clock_ns(s->vm) - s->wall_base_ns, WALL_HZ);
    case R_OLD_SSYNC: case R_SSYNC: return s->ssync;
    case R_CORBLBASE: return s->corblbase;
    case R_CORBUBASE: return s->corbubase;
    case R_CORBWP: return s->corbwp | (uint32_t)s->corbrp << 16;
    case R_CORBCTL: return s->corbctl | (uint32_t)s->corbsts << 8 | (uint32_t)s->corbsize << 16;
    case R_RIRBLBASE: return s->rirblbase;
    case R_RIRBUBASE: return s->rirbubase;
    case R_RIRBWP: return s->rirbwp | (uint32_t)s->rintcnt << 16;
    case R_RIRBCTL: return s->rirbctl | (uint32_t)s->rirbsts << 8 | (uint32_t)s->rirbsize << 16;
    case R_ICOI: return s->icoi;
    case R_IRII: return s->irii;
    case R_ICIS: return s->icis;
    case R_DPLBASE: return s->dplbase;
    case R_DPUBASE: return s->dpubase;
    }
    return 0;
}

static void hda_write_dword(IntelHda *s, unsigned a, uint32_t v, uint32_t m)
{
    if (a == R_GCTL) {
        if (m & 0xffff)
            write_gctl(s, MERGE(s->gctl, v, m));
        hda_update_irq(s);
        return;
    }
    if (a == R_WAKEEN) {
        /* WAKEEN and STATESTS (write 1 to clear) live on while the link is in reset. */
        s->wakeen = (uint16_t)(MERGE(s->wakeen, v, m) & 0x7fff);
        s->statests &= (uint16_t)~((v & m) >> 16);
        hda_update_irq(s);
        return;
    }
    if (!(s->gctl & GCTL_CRST))
        return;   /* in reset, the other registers ignore writes */
    if (a >= R_SD0 && a < R_SD0 + 0x20 * N_STREAMS) {
        stream_write_dword(s, (int)((a - R_SD0) / 0x20), (a - R_SD0) % 0x20, v, m);
        return;
    }
    switch (a) {
    case R_GSTS:
        s->gsts &= (uint16_t)~(v & m & GSTS_FSTS);
        break;
    case R_INTCTL:
        s->intctl = MERGE(s->intctl, v, m) & (INT_GIE | INT_CIE | ((1u << N_STREAMS) - 1));
        break;
    case R_OLD_SSYNC: case R_SSYNC:
        /* The ICH6 has SSYNC at 34h (its datasheet, 18.2.13), the spec at 38h: both
         * answer. Held streams start their pace when released, all in the same instant. */
        for (int i = 0; i < N_STREAMS; i++)
            stream_run(s, i);
        s->ssync = MERGE(s->ssync, v, m) & ((1u << N_STREAMS) - 1);
        break;
    case R_CORBLBASE:
        s->corblbase = MERGE(s->corblbase, v, m) & ~0x7fu;   /* 128-byte aligned */
        break;
    case R_CORBUBASE:
        s->corbubase = MERGE(s->corbubase, v, m);
        break;
    case R_CORBWP:
        if (m & 0xff0000) {
            /* CORBRPRST: the read pointer goes to 0 and the bit reads back set. */
            uint16_t rp = (uint16_t)(v >> 16);
            s->corbrp = rp & CORBRP_RST ? CORBRP_RST : (uint16_t)(s->corbrp & 0xff);
        }
        if (m & 0xff) {
            s->corbwp = (uint16_t)(v & 0xff);
            corb_run(s);
        }
        break;
    case R_CORBCTL:
        if (m & 0xff00)
            s->corbsts &= (uint8_t)~((v >> 8) & CORBSTS_CMEI);
        if (m & 0xff0000)
            s->corbsize = (uint8_t)(RING_SIZE_CAPS | ((v >> 16) & 3));
        if (m & 0xff) {
            s->corbctl = (uint8_t)(v & (CORBCTL_CMEIE | CORBCTL_RUN));
            corb_run(s);
        }
        break;
    case R_RIRBLBASE:
        s->rirblbase = MERGE(s->rirblbase, v, m) & ~0x7fu;
        break;
    case R_RIRBUBASE:
        s->rirbubase = MERGE(s->rirbubase, v, m);
        break;
    case R_RIRBWP:
        if ((m & 0xffff) && (v & RIRBWP_RST)) {
            s->rirbwp = 0;
            s->rirb_count = 0;
        }
        if (m & 0xffff0000)
            s->rintcnt = (uint16_t)(MERGE((uint32_t)s->rintcnt << 16, v, m) >> 16) & 0xff;
        break;
    case R_RIRBCTL:
        if (m & 0xff)
            s->rirbctl = (uint8_t)(v & (RIRBCTL_RINTCTL | RIRBCTL_DMAEN | RIRBCTL_OIC));
        if (m & 0xff00)
            s->rirbsts &= (uint8_t)~((v >> 8) & (RIRBSTS_RINTFL | RIRBSTS_OIS));
        if (m & 0xff0000)
            s->rirbsize = (uint8_t)(RING_SIZE_CAPS | ((v >> 16) & 3));
        break;
    case R_ICOI:
        s->icoi = MERGE(s->icoi, v, m);
        break;
    case R_ICIS:
        if (m & 0xff) {
            s->icis &= (uint16_t)~(v & ICIS_IRV);
            if ((v & ICIS_ICB) && !(s->icis & ICIS_ICB)) {
                s->icis |= ICIS_ICB;
                immediate_command(s);
            }
        }
        break;
    case R_DPLBASE:
        s->dplbase = MERGE(s->dplbase, v, m) & ~0x7eu;   /* 128-byte aligned, bit 0 enables */
        dma_position_update(s);
        break;
    case R_DPUBASE:
        s->dpubase = MERGE(s->dpubase, v, m);
        break;
    default:
        break;   /* read-only or reserved */
    }
    hda_update_irq(s);
}

static uint64_t hda_mmio_read(void *opaque, hwaddr off, unsigned size)
{
    IntelHda *s = opaque;
    if ((off & 3) + size > 4) {
        uint64_t v = 0;
        for (unsigned k = 0; k < size; k++)
            v |= hda_mmio_read(opaque, off + k, 1) << (8 * k);
        return v;
    }
    uint32_t d = hda_read_dword(s, (unsigned)(off & ~(hwaddr)3));
    d >>= 8 * (off & 3);
    return size == 4 ? d : d & ((1u << (8 * size)) - 1);
}

static void hda_mmio_write(void *opaque, hwaddr off, uint64_t value, unsigned size)
{
    IntelHda *s = opaque;
    if ((off & 3) + size > 4) {
        for (unsigned k = 0; k < size; k++)
            hda_mmio_write(opaque, off + k, (value >> (8 * k)) & 0xff, 1);
        return;
    }
    unsigned sh = 8 * (unsigned)(off & 3);
    uint32_t m = (size == 4 ? 0xffffffffu : ((1u << (8 * size)) - 1)) << sh;
    hda_write_dword(s, (unsigned)(off & ~(hwaddr)3), (uint32_t)value << sh, m);
}

static const MemOps hda_mmio_ops = {
    .read = hda_mmio_read,
    .write = hda_mmio_write,
    .min_size = 1,
    .max_size = 4,
};

/* ---- the link's interface for codecs ---- */

IntelHda *intel_hda_attach_codec(Vm *vm, const HdaCodecOps *ops, void *opaque, unsigned *cad, GError **err)
{
    bool found = false;
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        if (strcmp(d->klass->name, "intel-hda") != 0)
            continue;
        found = true;
        IntelHda *s = (IntelHda *)d;
        for (unsigned c = 0; c < N_CODECS; c++) {
            if (!s->codec[c].ops) {
                s->codec[c].ops = ops;
                s->codec[c].opaque = opaque;
                *cad = c;
                return s;
            }
        }
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                found ? "every intel-hda codec address is taken" : "needs an intel-hda controller (-device intel-hda first)");
    return NULL;
}

void intel_hda_detach_codec(IntelHda *s, unsigned cad)
{
    if (cad < N_CODECS) {
        s->codec[cad].ops = NULL;
        s->codec[cad].opaque = NULL;
    }
}

void intel_hda_sync_output(IntelHda *s)
{
    for (int i = N_IN; i < N_STREAMS; i++)
        stream_run(s, i);
}

/* ---- the device object ---- */

static void hda_reset(Device *dev)
{
    IntelHda *s = (IntelHda *)dev;
    pci_device_reset(&s->pci);
    controller_reset(s);
    s->wakeen = 0;
    s->statests = 0;
    s->wall_base_ns = vm_clock_ns(s->vm);
    hda_update_irq(s);
}

static bool hda_realize(Device *dev, GError **err)
{
    IntelHda *s = (IntelHda *)dev;
    PciBus *bus = pci_root_bus(dev->vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, s->addr, &devfn, err))
        return false;
    s->vm = dev->vm;
    pci_device_init(&s->pci, bus, devfn, "intel-hda", 0x8086, 0x2668, 0x040300, 0x01);
    s->pci.opaque = s;
    pci_device_set_subsystem(&s->pci, 0x8086, 0x0000);
    pci_device_set_interrupt_pin(&s->pci, 1);
    s->pci.wmask[0x44] = 0x07;   /* TCSEL (ICH6 datasheet 18.1.20): drivers clear it */
    pci_register_bar_mmio(&s->pci, 0, MMIO_SIZE, &hda_mmio_ops, s);
    static void (*const timer_fn[N_STREAMS])(void *) = {
        stream_timer0, stream_timer1, stream_timer2, stream_timer3,
        stream_timer4, stream_timer5, stream_timer6, stream_timer7,
    };
    for (int i = 0; i < N_STREAMS; i++)
        s->st[i].timer = vtimer_new(s->vm, timer_fn[i], s);
    controller_reset(s);
    return true;
}

static void hda_unrealize(Device *dev)
{
    IntelHda *s = (IntelHda *)dev;
    for (int i = 0; i < N_STREAMS; i++)
        vtimer_free(s->st[i].timer);
}

static bool hda_check(const void *state, GError **err)
{
    const IntelHda *s = state;
    for (int i = 0; i < N_STREAMS; i++) {
        const HdaStream *st = &s->st[i];
        if ((st->ctl & ~(uint32_t)(CTL_MASK | CTL_SRST)) || st->lvi > 0xff || st->bde > 0xff ||
            (st->bdpl & 0x7f) || st->bde_off > st->bde_len) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "intel-hda: stream %d registers out of range", i);
            return false;
        }
    }
    if ((s->corbwp | (s->corbrp & ~CORBRP_RST) | s->rirbwp) > 0xff || s->rintcnt > 0xff) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "intel-hda: ring pointers out of range");
        return false;
    }
    return pci_device_state_check(&s->pci, err);
}

static void hda_post_load(void *state)
{
    IntelHda *s = state;
    pci_device_post_load(&s->pci);
    hda_update_irq(s);
}

static const VmStateField hda_stream_fields[] = {
    VMSTATE_U32(HdaStream, ctl),
    VMSTATE_U8(HdaStream, sts),
    VMSTATE_U32(HdaStream, lpib),
    VMSTATE_U32(HdaStream, cbl),
    VMSTATE_U16(HdaStream, lvi),
    VMSTATE_U16(HdaStream, fifow),
    VMSTATE_U16(HdaStream, fmt),
    VMSTATE_U32(HdaStream, bdpl),
    VMSTATE_U32(HdaStream, bdpu),
    VMSTATE_BOOL(HdaStream, running),
    VMSTATE_U32(HdaStream, bde),
    VMSTATE_U64(HdaStream, bde_addr),
    VMSTATE_U32(HdaStream, bde_len),
    VMSTATE_U32(HdaStream, bde_off),
    VMSTATE_BOOL(HdaStream, bde_ioc),
    VMSTATE_I64(HdaStream, base_ns),
    VMSTATE_I64(HdaStream, base_frames),
    VMSTATE_TIMER(HdaStream, timer),
    VMSTATE_END,
};

static const VmStateDesc hda_stream_vmsd = {
    .name = "intel-hda-stream",
    .version = 1,
    .fields = hda_stream_fields,
};

static const VmStateField hda_fields[] = {
    VMSTATE_STRUCT(IntelHda, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_U32(IntelHda, gctl),
    VMSTATE_U32(IntelHda, intctl),
    VMSTATE_U32(IntelHda, ssync),
    VMSTATE_U16(IntelHda, wakeen),
    VMSTATE_U16(IntelHda, statests),
    VMSTATE_U16(IntelHda, gsts),
    VMSTATE_U32(IntelHda, corblbase),
    VMSTATE_U32(IntelHda, corbubase),
    VMSTATE_U16(IntelHda, corbwp),
    VMSTATE_U16(IntelHda, corbrp),
    VMSTATE_U8(IntelHda, corbctl),
    VMSTATE_U8(IntelHda, corbsts),
    VMSTATE_U8(IntelHda, corbsize),
    VMSTATE_U32(IntelHda, rirblbase),
    VMSTATE_U32(IntelHda, rirbubase),
    VMSTATE_U16(IntelHda, rirbwp),
    VMSTATE_U16(IntelHda, rintcnt),
    VMSTATE_U8(IntelHda, rirbctl),
    VMSTATE_U8(IntelHda, rirbsts),
    VMSTATE_U8(IntelHda, rirbsize),
    VMSTATE_U16(IntelHda, rirb_count),
    VMSTATE_U32(IntelHda, icoi),
    VMSTATE_U32(IntelHda, irii),
    VMSTATE_U16(IntelHda, icis),
    VMSTATE_U32(IntelHda, dplbase),
    VMSTATE_U32(IntelHda, dpubase),
    VMSTATE_I64(IntelHda, wall_base_ns),
    VMSTATE_STRUCT_ARRAY(IntelHda, st, N_STREAMS, HdaStream, &hda_stream_vmsd),
    VMSTATE_END,
};

static const VmStateDesc hda_vmsd = {
    .name = "intel-hda",
    .version = 1,
    .fields = hda_fields,
    .check = hda_check,
    .post_load = hda_post_load,
};

static const DeviceProp hda_props[] = {
    PCI_DEVICE_PROP_ADDR(IntelHda, addr),
    { NULL },
};

static const DeviceClass hda_class = {
    .name = "intel-hda",
    .description = "Intel ICH6 High Definition Audio controller (PCI 8086:2668); add hda-duplex or hda-output",
    .instance_size = sizeof(IntelHda),
    .user_creatable = true,
    .props = hda_props,
    .vmsd = &hda_vmsd,
    .realize = hda_realize,
    .reset = hda_reset,
    .unrealize = hda_unrealize,
};

static void __attribute__((constructor)) hda_register(void)
{
    device_class_register(&hda_class);
}
