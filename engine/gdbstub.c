/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The gdb stub: GDB's remote serial protocol (the gdb manual, appendix "Remote
 * Protocol") on a TCP socket of the main context. Packets are "$data#xx" with a
 * two-digit checksum, acknowledged with '+' until QStartNoAckMode; a lone 0x03 byte is
 * an interrupt. All-stop mode: the VM runs or is stopped as a whole, and gdb's threads
 * are the vCPUs (thread n = vCPU n - 1). The VM is reached through engine/debug.h; a
 * stop is noticed as a pause through the VM's state listener. */
#include "engine/gdbstub.h"
#include "engine/debug.h"
#include "engine/config.h"
#include "engine/log.h"
#include "engine/sockreader.h"
#include "engine/sockwriter.h"

#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GDB_MAX_PACKET (64u * 1024)   /* longest packet taken from gdb */
#define GDB_MAX_MEM 8192u             /* bytes per m/M request (PacketSize below) */
#define GDB_MAX_BACKLOG (1u << 20)

typedef enum { IN_IDLE, IN_DATA, IN_CSUM1, IN_CSUM2 } InState;

typedef struct GdbClient {
    GdbServer *srv;
    GSocketConnection *conn;
    GSocket *sock;
    SockReader *reader;
    SockWriter *out;
    GString *pkt;
    InState in;
    bool too_long;
    uint8_t sum;
    unsigned got_sum;
    bool no_ack;
    bool closing;                 /* drop once the backlog is written (detach) */
} GdbClient;

struct GdbServer {
    Vm *vm;
    GSocketService *service;
    GdbClient *client;
    guint state_listener;
    bool running;                 /* resumed for gdb: a stop reply is owed */
    bool was_running;             /* the VM ran when gdb attached, or gdb resumed it */
    int last_signal;              /* of a stop not made by a breakpoint: 5 (TRAP) or 2 (INT) */
    bool phys_mode;               /* Qqemu.PhyMemMode:1: m/M addresses are physical */
    unsigned g_cpu;               /* Hg: the vCPU whose registers and memory gdb means */
    void (*quit_fn)(void *data);
    void *quit_data;
};

/* ---- the target description: register numbers are the order below ---- */

enum {
    GREG_EAX = 0, GREG_EIP = 8, GREG_EFLAGS = 9, GREG_CS = 10, GREG_ST0 = 16, GREG_FCTRL = 24,
    GREG_FSTAT, GREG_FTAG, GREG_FISEG, GREG_FIOFF, GREG_FOSEG, GREG_FOOFF, GREG_FOP,
    GREG_XMM0 = 32, GREG_MXCSR = 40, GREG_CR0, GREG_CR2, GREG_CR3, GREG_CR4, GREG_EFER, GREG_COUNT,
};

/* gdb's i386 core and SSE features (names and types gdb's i386 support looks for), and
 * the system registers in a feature of Vireo's own: gdb shows every register of a
 * description ("info registers cr0", "$cr3"). No '#', '$', '*' or '}' may appear here:
 * the text goes into qXfer replies unescaped. */
static const char target_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
    "<target version=\"1.0\">\n"
    "<architecture>i386</architecture>\n"
    "<feature name=\"org.gnu.gdb.i386.core\">\n"
    "<flags id=\"i386_eflags\" size=\"4\">\n"
    "<field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"PF\" start=\"2\" end=\"2\"/>\n"
    "<field name=\"AF\" start=\"4\" end=\"4\"/><field name=\"ZF\" start=\"6\" end=\"6\"/>\n"
    "<field name=\"SF\" start=\"7\" end=\"7\"/><field name=\"TF\" start=\"8\" end=\"8\"/>\n"
    "<field name=\"IF\" start=\"9\" end=\"9\"/><field name=\"DF\" start=\"10\" end=\"10\"/>\n"
    "<field name=\"OF\" start=\"11\" end=\"11\"/><field name=\"NT\" start=\"14\" end=\"14\"/>\n"
    "<field name=\"RF\" start=\"16\" end=\"16\"/><field name=\"VM\" start=\"17\" end=\"17\"/>\n"
    "<field name=\"AC\" start=\"18\" end=\"18\"/><field name=\"VIF\" start=\"19\" end=\"19\"/>\n"
    "<field name=\"VIP\" start=\"20\" end=\"20\"/><field name=\"ID\" start=\"21\" end=\"21\"/>\n"
    "</flags>\n"
    "<reg name=\"eax\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ecx\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"edx\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ebx\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"esp\" bitsize=\"32\" type=\"data_ptr\"/>\n"
    "<reg name=\"ebp\" bitsize=\"32\" type=\"data_ptr\"/>\n"
    "<reg name=\"esi\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"edi\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"eip\" bitsize=\"32\" type=\"code_ptr\"/>\n"
    "<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>\n"
    "<reg name=\"cs\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ds\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"es\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"fs\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "</feature>\n"
    "<feature name=\"org.gnu.gdb.i386.sse\">\n"
    "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
    "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
    "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n"
    "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
    "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n"
    "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
    "<union id=\"vec128\">\n"
    "<field name=\"v4_float\" type=\"v4f\"/><field name=\"v2_double\" type=\"v2d\"/>\n"
    "<field name=\"v16_int8\" type=\"v16i8\"/><field name=\"v8_int16\" type=\"v8i16\"/>\n"
    "<field name=\"v4_int32\" type=\"v4i32\"/><field name=\"v2_int64\" type=\"v2i64\"/>\n"
    "<field name=\"uint128\" type=\"uint128\"/>\n"
    "</union>\n"
    "<flags id=\"i386_mxcsr\" size=\"4\">\n"
    "<field name=\"IE\" start=\"0\" end=\"0\"/><field name=\"DE\" start=\"1\" end=\"1\"/>\n"
    "<field name=\"ZE\" start=\"2\" end=\"2\"/><field name=\"OE\" start=\"3\" end=\"3\"/>\n"
    "<field name=\"UE\" start=\"4\" end=\"4\"/><field name=\"PE\" start=\"5\" end=\"5\"/>\n"
    "<field name=\"DAZ\" start=\"6\" end=\"6\"/><field name=\"IM\" start=\"7\" end=\"7\"/>\n"
    "<field name=\"DM\" start=\"8\" end=\"8\"/><field name=\"ZM\" start=\"9\" end=\"9\"/>\n"
    "<field name=\"OM\" start=\"10\" end=\"10\"/><field name=\"UM\" start=\"11\" end=\"11\"/>\n"
    "<field name=\"PM\" start=\"12\" end=\"12\"/><field name=\"FZ\" start=\"15\" end=\"15\"/>\n"
    "</flags>\n"
    "<reg name=\"xmm0\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm1\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm2\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm3\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm4\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm5\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm6\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm7\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"mxcsr\" bitsize=\"32\" type=\"i386_mxcsr\" group=\"vector\"/>\n"
    "</feature>\n"
    "<feature name=\"org.vireo.i386.sys\">\n"
    "<reg name=\"cr0\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "<reg name=\"cr2\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "<reg name=\"cr3\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "<reg name=\"cr4\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "<reg name=\"efer\" bitsize=\"64\" type=\"int64\" group=\"system\"/>\n"
    "</feature>\n"
    "</target>\n";

/* Bytes of register n in the g packet. */
static unsigned reg_size(unsigned n)
{
    if (n >= GREG_ST0 && n < GREG_FCTRL)
        return 10;
    if (n >= GREG_XMM0 && n < GREG_MXCSR)
        return 16;
    if (n == GREG_EFER)
        return 8;
    return 4;
}

/* The x87 tag word in FSAVE's full form, which gdb's ftag holds, from FXSAVE's abridged
 * one and the registers' contents (SDM vol. 1, 8.1.7 and the FXSAVE table): 00 valid,
 * 01 zero, 10 special (NaN, infinity, denormal, unsupported), 11 empty. */
static uint32_t full_tag_word(const CpuX86State *s)
{
    unsigned top = (s->fsw >> 11) & 7;
    uint32_t tags = 0;
    for (unsigned r = 0; r < 8; r++) {
        unsigned tag = 3;
        if (s->ftw & (1u << r)) {
            const uint8_t *v = s->st[(r - top) & 7];
            uint64_t mant;
            memcpy(&mant, v, 8);
            unsigned exp = (v[8] | (v[9] << 8)) & 0x7fff;
            if (exp == 0x7fff)
                tag = 2;
            else if (exp == 0)
                tag = mant ? 2 : 1;
            else
                tag = (mant >> 63) ? 0 : 2;
        }
        tags |= tag << (2 * r);
    }
    return tags;
}

static void reg_get(const CpuX86State *s, unsigned n, uint8_t *out)
{
    uint64_t v = 0;
    if (n < 8) {
        v = s->regs[n];
    } else if (n == GREG_EIP) {
        v = s->rip;
    } else if (n == GREG_EFLAGS) {
        v = s->rflags;
    } else if (n >= GREG_CS && n < GREG_ST0) {
        /* gdb's order: cs ss ds es fs gs */
        static const unsigned seg[6] = { CPU_SEG_CS, CPU_SEG_SS, CPU_SEG_DS, CPU_SEG_ES, CPU_SEG_FS, CPU_SEG_GS };
        v = s->seg[seg[n - GREG_CS]].sel;
    } else if (n >= GREG_ST0 && n < GREG_FCTRL) {
        memcpy(out, s->st[n - GREG_ST0], 10);
        return;
    } else if (n >= GREG_XMM0 && n < GREG_MXCSR) {
        memcpy(out, s->xmm[n - GREG_XMM0], 16);
        return;
    } else {
        switch (n) {
        case GREG_FCTRL: v = s->fcw; break;
        case GREG_FSTAT: v = s->fsw; break;
        case GREG_FTAG: v = full_tag_word(s); break;
        case GREG_FISEG: v = s->fcs; break;
        case GREG_FIOFF: v = s->fip; break;
        case GREG_FOSEG: v = s->fds; break;
        case GREG_FOOFF: v = s->fdp; break;
        case GREG_FOP: v = s->fop; break;
        case GREG_MXCSR: v = s->mxcsr; break;
        case GREG_CR0: v = s->cr0; break;
        case GREG_CR2: v = s->cr2; break;
        case GREG_CR3: v = s->cr3; break;
        case GREG_CR4: v = s->cr4; break;
        case GREG_EFER: v = s->efer; break;
        }
    }
    for (unsigned k = 0; k < reg_size(n); k++)
        out[k] = (uint8_t)(v >> (8 * k));
}

/* A segment register written in protected mode: the selector's descriptor from the GDT
 * or LDT fills the hidden part, as a MOV to the register would (SDM vol. 3, 3.4.3),
 * without its privilege checks (a debugger may do what the guest may not). */
static bool load_descriptor(Vm *vm, unsigned cpu, CpuX86State *s, unsigned which, uint16_t sel, GError **err)
{
    CpuSegment *sg = &s->seg[which];
    if ((sel & ~3u) == 0) {
        if (which == CPU_SEG_CS || which == CPU_SEG_SS) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "CS and SS cannot hold a null selector");
            return false;
        }
        *sg = (CpuSegment){ .sel = sel };
        return true;
    }
    uint64_t table = (sel & 4) ? s->ldtr.base : s->gdt_base;
    uint32_t limit = (sel & 4) ? s->ldtr.limit : s->gdt_limit;
    if ((uint32_t)(sel & ~7u) + 7 > limit) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "selector 0x%x is outside the %s", sel,
                    (sel & 4) ? "LDT" : "GDT");
        return false;
    }
    uint8_t d[8];
    if (!vm_debug_read(vm, cpu, table + (sel & ~7u), d, sizeof(d), false, err))
        return false;
    uint32_t lo = d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
    uint32_t hi = d[4] | d[5] << 8 | d[6] << 16 | (uint32_t)d[7] << 24;
    uint16_t attr = (uint16_t)((hi >> 8) & 0xf0ff);
    if (!(attr & 0x80) || !(attr & 0x10)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "selector 0x%x is not a present code or data segment", sel);
        return false;
    }
    uint32_t lim = (lo & 0xffff) | (hi & 0x000f0000u);
    if (hi & (1u << 23))
        lim = lim << 12 | 0xfff;
    sg->sel = sel;
    sg->attr = attr;
    sg->limit = lim;
    sg->base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
    return true;
}

/* Sets register n in s; false (err set) for a value the stub cannot apply. */
static bool reg_set(Vm *vm, unsigned cpu, CpuX86State *s, unsigned n, const uint8_t *in, GError **err)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < reg_size(n) && k < 8; k++)
        v |= (uint64_t)in[k] << (8 * k);
    if (n < 8) {
        s->regs[n] = (uint32_t)v;
    } else if (n == GREG_EIP) {
        s->rip = (uint32_t)v;
    } else if (n == GREG_EFLAGS) {
        s->rflags = (uint32_t)v;
    } else if (n >= GREG_CS && n < GREG_ST0) {
        static const unsigned seg[6] = { CPU_SEG_CS, CPU_SEG_SS, CPU_SEG_DS, CPU_SEG_ES, CPU_SEG_FS, CPU_SEG_GS };
        CpuSegment *sg = &s->seg[seg[n - GREG_CS]];
        if (sg->sel == (uint16_t)v)
            return true;
        /* Protected mode: the descriptor; real mode and V86: base = selector * 16. */
        if ((s->cr0 & 1) && !(s->rflags & (1u << 17)))
            return load_descriptor(vm, cpu, s, seg[n - GREG_CS], (uint16_t)v, err);
        sg->sel = (uint16_t)v;
        sg->base = (uint64_t)(uint16_t)v << 4;
    } else if (n >= GREG_ST0 && n < GREG_FCTRL) {
        memcpy(s->st[n - GREG_ST0], in, 10);
    } else if (n >= GREG_XMM0 && n < GREG_MXCSR) {
        memcpy(s->xmm[n - GREG_XMM0], in, 16);
    } else {
        switch (n) {
        case GREG_FCTRL: s->fcw = (uint16_t)v; break;
        case GREG_FSTAT: s->fsw = (uint16_t)v; break;
        case GREG_FTAG: {
            uint8_t ftw = 0;
            for (unsigned r = 0; r < 8; r++)
                if (((v >> (2 * r)) & 3) != 3)
                    ftw |= (uint8_t)(1u << r);
            s->ftw = ftw;
            break;
        }
        case GREG_FISEG: s->fcs = (uint16_t)v; break;
        case GREG_FIOFF: s->fip = (uint32_t)v; break;
        case GREG_FOSEG: s->fds = (uint16_t)v; break;
        case GREG_FOOFF: s->fdp = (uint32_t)v; break;
        case GREG_FOP: s->fop = (uint16_t)(v & 0x7ff); break;
        case GREG_MXCSR: s->mxcsr = (uint32_t)v; break;
        case GREG_CR0: s->cr0 = (uint32_t)v; break;
        case GREG_CR2: s->cr2 = (uint32_t)v; break;
        case GREG_CR3: s->cr3 = (uint32_t)v; break;
        case GREG_CR4: s->cr4 = (uint32_t)v; break;
        case GREG_EFER: s->efer = v; break;
        }
    }
    return true;
}

/* ---- hex ---- */

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static void hex_append(GString *out, const uint8_t *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t k = 0; k < len; k++) {
        g_string_append_c(out, digits[buf[k] >> 4]);
        g_string_append_c(out, digits[buf[k] & 15]);
    }
}

/* Decodes exactly len bytes of hex; false on a bad digit or short input. */
static bool hex_decode(const char *p, uint8_t *buf, size_t len)
{
    for (size_t k = 0; k < len; k++) {
        int hi = hex_digit(p[2 * k]), lo = hi < 0 ? -1 : hex_digit(p[2 * k + 1]);
        if (hi < 0 || lo < 0)
            return false;
        buf[k] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* A hex number up to the next character not a hex digit; end gets that position. */
static bool hex_number(const char *p, uint64_t *v, const char **end)
{
    uint64_t n = 0;
    const char *q = p;
    for (int d; (d = hex_digit(*q)) >= 0; q++) {
        if (n >> 60)
            return false;
        n = n << 4 | (unsigned)d;
    }
    if (q == p)
        return false;
    *v = n;
    *end = q;
    return true;
}

/* ---- output ---- */

static void client_close(GdbClient *c);
static void client_flush(GdbClient *c)
{
    g_autoptr(GError) err = NULL;
    if (!sock_writer_flush(c->out, &err)) {
        VLOG(LOG_GUEST, "gdb: dropping the debugger: %s", err->message);
        c->closing = true;
    }
    if (c->closing && !sock_writer_pending(c->out))
        client_close(c);
}

static void client_on_ready(void *opaque)
{
    client_flush(opaque);
}

static void send_raw(GdbClient *c, const char *data, size_t len)
{
    if (!sock_writer_append(c->out, data, len)) {
        VLOG(LOG_GUEST, "gdb: dropping a debugger that does not read its replies");
        c->closing = true;
    }
}

static void send_packet(GdbClient *c, const char *payload)
{
    uint8_t sum = 0;
    for (const char *p = payload; *p; p++)
        sum += (uint8_t)*p;
    g_autofree char *frame = g_strdup_printf("$%s#%02x", payload, sum);
    VLOG(LOG_CPU, "gdb: <- %.200s", payload);
    send_raw(c, frame, strlen(frame));
}

static void send_error(GdbClient *c, int code, const GError *err)
{
    if (err)
        VLOG(LOG_CPU, "gdb: error: %s", err->message);
    char e[8];
    snprintf(e, sizeof(e), "E%02x", code & 0xff);
    send_packet(c, e);
}

/* ---- stops ---- */

static void stop_reply(GdbServer *s, GString *out)
{
    VmState st = vm_get_state(s->vm);
    if (st == VM_STATE_SHUTDOWN) {
        int status = vm_exit_status(s->vm);
        g_string_append_printf(out, "W%02x", status < 0 ? 0 : status & 0xff);
        return;
    }
    unsigned cpu = 0;
    CpuDebugStop stop;
    if (!vm_debug_stop_reason(s->vm, &cpu, &stop) || stop.reason == CPU_DEBUG_STOP_NONE) {
        g_string_append_printf(out, "T%02xthread:%02x;", s->last_signal, s->g_cpu + 1);
        return;
    }
    g_string_append_printf(out, "T05thread:%02x;", cpu + 1);
    if (stop.reason == CPU_DEBUG_STOP_BREAK)
        g_string_append(out, stop.kind == CPU_DEBUG_BREAK_HW ? "hwbreak:;" : "swbreak:;");
    else if (stop.reason == CPU_DEBUG_STOP_WATCH)
        g_string_append_printf(out, "%s:%" G_GINT64_MODIFIER "x;",
                               stop.kind == CPU_DEBUG_WATCH_READ ? "rwatch"
                               : stop.kind == CPU_DEBUG_WATCH_ACCESS ? "awatch" : "watch",
                               stop.addr);
    s->g_cpu = cpu;
}

static void on_state(Vm *vm, VmState state, void *data)
{
    GdbServer *s = data;
    GdbClient *c = s->client;
    if (!c || !s->running || state == VM_STATE_RUNNING)
        return;
    /* A pause queued before gdb resumed the VM is no stop of this run. */
    if (vm_get_state(vm) == VM_STATE_RUNNING)
        return;
    s->running = false;
    g_autoptr(GString) out = g_string_new(NULL);
    if (state == VM_STATE_ERROR)
        g_string_append(out, "X06");
    else
        stop_reply(s, out);
    send_packet(c, out->str);
    client_flush(c);
}

static void resume(GdbServer *s, GdbClient *c, int step_cpu)
{
    GError *err = NULL;
    if (!vm_debug_resume(s->vm, step_cpu, &err)) {
        send_error(c, 1, err);
        g_error_free(err);
        return;
    }
    s->last_signal = 5;
    s->running = true;
    s->was_running = true;
}

/* ---- packets ---- */

static bool parse_thread(const char *p, int *cpu, unsigned ncpus)
{
    /* -1: all threads, 0: any thread */
    if (!strcmp(p, "-1") || !strcmp(p, "0")) {
        *cpu = -1;
        return true;
    }
    uint64_t t;
    const char *end;
    if (!hex_number(p, &t, &end) || *end || t < 1 || t > ncpus)
        return false;
    *cpu = (int)t - 1;
    return true;
}

static void cmd_read_regs(GdbServer *s, GdbClient *c)
{
    CpuX86State st;
    GError *err = NULL;
    if (!vm_debug_get_regs(s->vm, s->g_cpu, &st, &err)) {
        send_error(c, 1, err);
        g_error_free(err);
        return;
    }
    g_autoptr(GString) out = g_string_new(NULL);
    for (unsigned n = 0; n < GREG_COUNT; n++) {
        uint8_t b[16];
        reg_get(&st, n, b);
        hex_append(out, b, reg_size(n));
    }
    send_packet(c, out->str);
}

/* G (all registers from first) or P (register first alone). */
static void cmd_write_regs(GdbServer *s, GdbClient *c, const char *hex, unsigned first, unsigned count)
{
    CpuX86State st;
    GError *err = NULL;
    if (!vm_debug_get_regs(s->vm, s->g_cpu, &st, &err)) {
        send_error(c, 1, err);
        g_error_free(err);
        return;
    }
    for (unsigned n = first; n < first + count; n++) {
        uint8_t b[16];
        unsigned size = reg_size(n);
        if (strlen(hex) < 2 * size || !hex_decode(hex, b, size)) {
            send_error(c, 22, NULL);
            return;
        }
        hex += 2 * size;
        if (!reg_set(s->vm, s->g_cpu, &st, n, b, &err)) {
            send_error(c, 22, err);
            g_error_free(err);
            return;
        }
    }
    if (!vm_debug_set_regs(s->vm, s->g_cpu, &st, &err)) {
        send_error(c, 22, err);
        g_error_free(err);
        return;
    }
    send_packet(c, "OK");
}

static void cmd_memory(GdbServer *s, GdbClient *c, const char *args, bool write)
{
    uint64_t addr, len;
    const char *p;
    if (!hex_number(args, &addr, &p) || *p != ',' || !hex_number(p + 1, &len, &p) ||
        (write ? *p != ':' : *p != 0) || len > GDB_MAX_MEM) {
        send_error(c, 22, NULL);
        return;
    }
    g_autofree uint8_t *buf = g_malloc(len ? len : 1);
    GError *err = NULL;
    if (write) {
        if (strlen(p + 1) != 2 * len || !hex_decode(p + 1, buf, len)) {
            send_error(c, 22, NULL);
            return;
        }
        if (!vm_debug_write(s->vm, s->g_cpu, addr, buf, len, s->phys_mode, &err)) {
            send_error(c, 14, err);
            g_error_free(err);
            return;
        }
        send_packet(c, "OK");
        return;
    }
    if (!vm_debug_read(s->vm, s->g_cpu, addr, buf, len, s->phys_mode, &err)) {
        send_error(c, 14, err);
        g_error_free(err);
        return;
    }
    g_autoptr(GString) out = g_string_sized_new(2 * len + 1);
    hex_append(out, buf, len);
    send_packet(c, out->str);
}

/* Z/z type,addr,kind */
static void cmd_point(GdbServer *s, GdbClient *c, const char *args, bool insert)
{
    uint64_t type, addr, kind;
    const char *p;
    if (!hex_number(args, &type, &p) || *p != ',' || !hex_number(p + 1, &addr, &p) || *p != ',' ||
        !hex_number(p + 1, &kind, &p) || (*p && *p != ';')) {
        send_error(c, 22, NULL);
        return;
    }
    if (type > CPU_DEBUG_WATCH_ACCESS) {
        send_packet(c, "");
        return;
    }
    GError *err = NULL;
    bool ok = insert ? vm_debug_insert(s->vm, (CpuDebugKind)type, addr, kind, &err)
                     : vm_debug_remove(s->vm, (CpuDebugKind)type, addr, kind, &err);
    if (!ok) {
        send_error(c, 22, err);
        g_error_free(err);
        return;
    }
    send_packet(c, "OK");
}

/* c/s with an optional address to resume at. */
static void cmd_resume(GdbServer *s, GdbClient *c, const char *args, bool step)
{
    if (*args) {
        uint64_t addr;
        const char *end;
        CpuX86State st;
        GError *err = NULL;
        if (!hex_number(args, &addr, &end) || *end) {
            send_error(c, 22, NULL);
            return;
        }
        if (!vm_debug_get_regs(s->vm, s->g_cpu, &st, &err) ||
            (st.rip = (uint32_t)addr, !vm_debug_set_regs(s->vm, s->g_cpu, &st, &err))) {
            send_error(c, 22, err);
            g_error_free(err);
            return;
        }
    }
    resume(s, c, step ? (int)s->g_cpu : -1);
}

/* vCont;ACTION[:THREAD];... — all-stop: a step for a thread steps that vCPU (the others
 * stay stopped, as with QEMU); otherwise everything continues. */
static void cmd_vcont(GdbServer *s, GdbClient *c, const char *args)
{
    unsigned ncpus = vm_debug_cpu_count(s->vm);
    int step_cpu = -1;
    g_auto(GStrv) actions = g_strsplit(args, ";", -1);
    for (char **a = actions; *a; a++) {
        if (!**a)
            continue;
        char *colon = strchr(*a, ':');
        int cpu = -1;
        if (colon && !parse_thread(colon + 1, &cpu, ncpus)) {
            send_error(c, 22, NULL);
            return;
        }
        char act = **a;
        if (act == 's' || act == 'S') {
            if (step_cpu < 0)
                step_cpu = cpu >= 0 ? cpu : (int)s->g_cpu;
        } else if (act != 'c' && act != 'C') {
            send_error(c, 22, NULL);
            return;
        }
    }
    if (step_cpu >= 0)
        s->g_cpu = (unsigned)step_cpu;
    resume(s, c, step_cpu);
}

static void cmd_query(GdbServer *s, GdbClient *c, const char *q)
{
    unsigned ncpus = vm_debug_cpu_count(s->vm);
    if (g_str_has_prefix(q, "qSupported")) {
        g_autofree char *r = g_strdup_printf("PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;"
                                             "QStartNoAckMode+;vContSupported+",
                                             2 * GDB_MAX_MEM + 16);
        send_packet(c, r);
    } else if (g_str_has_prefix(q, "qXfer:features:read:")) {
        const char *p = q + strlen("qXfer:features:read:");
        uint64_t off, len;
        const char *end;
        if (!g_str_has_prefix(p, "target.xml:")) {
            send_error(c, 0, NULL);
            return;
        }
        p += strlen("target.xml:");
        if (!hex_number(p, &off, &end) || *end != ',' || !hex_number(end + 1, &len, &end) || *end) {
            send_error(c, 22, NULL);
            return;
        }
        size_t total = sizeof(target_xml) - 1;
        if (off > total) {
            send_error(c, 22, NULL);
            return;
        }
        if (len > GDB_MAX_MEM)
            len = GDB_MAX_MEM;
        size_t n = total - off < len ? total - off : len;
        g_autoptr(GString) out = g_string_new(off + n < total ? "m" : "l");
        g_string_append_len(out, target_xml + off, (gssize)n);
        send_packet(c, out->str);
    } else if (!strcmp(q, "qAttached")) {
        send_packet(c, "1");
    } else if (!strcmp(q, "qC")) {
        g_autofree char *r = g_strdup_printf("QC%x", s->g_cpu + 1);
        send_packet(c, r);
    } else if (!strcmp(q, "qfThreadInfo")) {
        g_autoptr(GString) out = g_string_new("m");
        for (unsigned i = 0; i < ncpus; i++)
            g_string_append_printf(out, "%s%x", i ? "," : "", i + 1);
        send_packet(c, out->str);
    } else if (!strcmp(q, "qsThreadInfo")) {
        send_packet(c, "l");
    } else if (g_str_has_prefix(q, "qThreadExtraInfo,")) {
        int cpu;
        if (!parse_thread(q + strlen("qThreadExtraInfo,"), &cpu, ncpus) || cpu < 0) {
            send_error(c, 22, NULL);
            return;
        }
        g_autofree char *text = g_strdup_printf("CPU#%d", cpu);
        g_autoptr(GString) out = g_string_new(NULL);
        hex_append(out, (const uint8_t *)text, strlen(text));
        send_packet(c, out->str);
    } else if (!strcmp(q, "qqemu.PhyMemMode")) {
        send_packet(c, s->phys_mode ? "1" : "0");
    } else if (g_str_has_prefix(q, "qSymbol")) {
        send_packet(c, "OK");
    } else {
        send_packet(c, "");
    }
}

/* The debugger leaves: its breakpoints and watchpoints go (the VM is stopped for
 * that while it runs), and a VM that ran before it attached, or that it ran, runs on;
 * one paused by -S and never continued stays paused. */
static void release_vm(GdbServer *s)
{
    VmState st = vm_get_state(s->vm);
    s->running = false;
    if (st == VM_STATE_SHUTDOWN || st == VM_STATE_ERROR)
        return;
    if (st == VM_STATE_RUNNING)
        vm_pause(s->vm);
    vm_debug_remove_all(s->vm);
    if (s->was_running || st == VM_STATE_RUNNING)
        vm_debug_resume(s->vm, -1, NULL);
}

static void handle_packet(GdbServer *s, GdbClient *c, const char *p)
{
    VLOG(LOG_CPU, "gdb: -> %.200s", p);
    unsigned ncpus = vm_debug_cpu_count(s->vm);
    switch (p[0]) {
    case '?': {
        g_autoptr(GString) out = g_string_new(NULL);
        stop_reply(s, out);
        send_packet(c, out->str);
        break;
    }
    case 'q':
        cmd_query(s, c, p);
        break;
    case 'Q':
        if (!strcmp(p, "QStartNoAckMode")) {
            send_packet(c, "OK");
            c->no_ack = true;
        } else if (!strcmp(p, "Qqemu.PhyMemMode:1") || !strcmp(p, "Qqemu.PhyMemMode:0")) {
            s->phys_mode = p[strlen(p) - 1] == '1';
            send_packet(c, "OK");
        } else {
            send_packet(c, "");
        }
        break;
    case 'H': {
        int cpu;
        if (p[1] && parse_thread(p + 2, &cpu, ncpus)) {
            if (p[1] == 'g' && cpu >= 0)
                s->g_cpu = (unsigned)cpu;
            send_packet(c, "OK");
        } else {
            send_error(c, 22, NULL);
        }
        break;
    }
    case 'T': {
        int cpu;
        if (parse_thread(p + 1, &cpu, ncpus) && cpu >= 0)
            send_packet(c, "OK");
        else
            send_error(c, 22, NULL);
        break;
    }
    case 'g':
        cmd_read_regs(s, c);
        break;
    case 'G':
        cmd_write_regs(s, c, p + 1, 0, GREG_COUNT);
        break;
    case 'p': {
        uint64_t n;
        const char *end;
        if (!hex_number(p + 1, &n, &end) || *end || n >= GREG_COUNT) {
            send_error(c, 22, NULL);
            break;
        }
        CpuX86State st;
        GError *err = NULL;
        if (!vm_debug_get_regs(s->vm, s->g_cpu, &st, &err)) {
            send_error(c, 1, err);
            g_error_free(err);
            break;
        }
        uint8_t b[16];
        reg_get(&st, (unsigned)n, b);
        g_autoptr(GString) out = g_string_new(NULL);
        hex_append(out, b, reg_size((unsigned)n));
        send_packet(c, out->str);
        break;
    }
    case 'P': {
        uint64_t n;
        const char *end;
        if (!hex_number(p + 1, &n, &end) || *end != '=' || n >= GREG_COUNT) {
            send_error(c, 22, NULL);
            break;
        }
        cmd_write_regs(s, c, end + 1, (unsigned)n, 1);
        break;
    }
    case 'm':
        cmd_memory(s, c, p + 1, false);
        break;
    case 'M':
        cmd_memory(s, c, p + 1, true);
        break;
    case 'Z':
    case 'z':
        cmd_point(s, c, p + 1, p[0] == 'Z');
        break;
    case 'c':
    case 's':
        cmd_resume(s, c, p + 1, p[0] == 's');
        break;
    case 'C':
    case 'S': {
        /* The signal means nothing to a PC; an address may follow it. */
        const char *semi = strchr(p, ';');
        cmd_resume(s, c, semi ? semi + 1 : "", p[0] == 'S');
        break;
    }
    case 'v':
        if (!strcmp(p, "vCont?"))
            send_packet(c, "vCont;c;C;s;S");
        else if (g_str_has_prefix(p, "vCont;"))
            cmd_vcont(s, c, p + strlen("vCont;"));
        else
            send_packet(c, "");
        break;
    case 'k':
        /* No reply: the process goes away, as QEMU's does. */
        VLOG(LOG_CPU, "gdb: kill");
        if (s->quit_fn)
            s->quit_fn(s->quit_data);
        else
            vm_poweroff(s->vm);
        break;
    case 'D':
        /* Detach: the VM runs on without the debugger's breakpoints. */
        s->was_running = true;
        release_vm(s);
        send_packet(c, "OK");
        c->closing = true;
        break;
    default:
        send_packet(c, "");
        break;
    }
}

/* ---- input ---- */

static void interrupt(GdbServer *s)
{
    VLOG(LOG_CPU, "gdb: interrupt");
    if (!s->running)
        return;
    s->last_signal = 2;
    vm_pause(s->vm);
}

static void scan_input(GdbClient *c, const char *buf, size_t len)
{
    GdbServer *s = c->srv;
    for (size_t k = 0; k < len && !c->closing; k++) {
        char ch = buf[k];
        switch (c->in) {
        case IN_IDLE:
            if (ch == '$') {
                g_string_truncate(c->pkt, 0);
                c->too_long = false;
                c->sum = 0;
                c->in = IN_DATA;
            } else if (ch == 0x03) {
                interrupt(s);
            }
            /* '+' and '-' acknowledge our packets; nothing is resent. */
            break;
        case IN_DATA:
            if (ch == '#') {
                c->in = IN_CSUM1;
            } else {
                c->sum += (uint8_t)ch;
                if (c->pkt->len < GDB_MAX_PACKET)
                    g_string_append_c(c->pkt, ch);
                else
                    c->too_long = true;
            }
            break;
        case IN_CSUM1:
        case IN_CSUM2: {
            int d = hex_digit(ch);
            c->got_sum = (c->in == IN_CSUM1 ? 0 : c->got_sum << 4) | (unsigned)(d < 0 ? 0x100 : d);
            if (c->in == IN_CSUM1) {
                c->in = IN_CSUM2;
                break;
            }
            c->in = IN_IDLE;
            if (c->got_sum != c->sum) {
                if (!c->no_ack)
                    send_raw(c, "-", 1);
                break;
            }
            if (!c->no_ack)
                send_raw(c, "+", 1);
            if (c->too_long)
                send_error(c, 22, NULL);
            else
                handle_packet(s, c, c->pkt->str);
            break;
        }
        }
    }
    client_flush(c);
}

static void client_on_input(void *opaque, const char *data, size_t len)
{
    scan_input(opaque, data, len);
}

static void client_on_gone(void *opaque, const char *why)
{
    VLOG(LOG_CPU, "gdb: debugger gone (%s)", why);
    client_close(opaque);
}

static void client_close(GdbClient *c)
{
    GdbServer *s = c->srv;
    if (s->client != c)
        return;
    s->client = NULL;
    sock_reader_free(c->reader);
    sock_writer_free(c->out);
    g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
    g_object_unref(c->conn);
    g_string_free(c->pkt, TRUE);
    g_free(c);
    release_vm(s);
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
    GdbServer *s = data;
    if (s->client) {
        VLOG(LOG_CPU, "gdb: refusing a second debugger");
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
        return TRUE;
    }
    GdbClient *c = g_new0(GdbClient, 1);
    c->srv = s;
    c->conn = g_object_ref(conn);
    c->sock = g_socket_connection_get_socket(conn);
    g_socket_set_blocking(c->sock, FALSE);
    c->out = sock_writer_new(c->sock, GDB_MAX_BACKLOG, client_on_ready, c);
    c->pkt = g_string_sized_new(256);
    s->client = c;
    s->running = false;
    s->was_running = vm_get_state(s->vm) == VM_STATE_RUNNING;
    s->phys_mode = false;
    s->g_cpu = 0;
    s->last_signal = 5;
    c->reader = sock_reader_new(c->sock, client_on_input, client_on_gone, c);
    /* gdb attaches to a stopped target. */
    vm_pause(s->vm);
    VLOG(LOG_CPU, "gdb: debugger connected");
    return TRUE;
}

/* "tcp::PORT", "tcp:HOST:PORT", "tcp:[V6]:PORT". host is NULL for the loopback. */
static bool parse_spec(const char *spec, char **host, guint16 *port, GError **err)
{
    if (!g_str_has_prefix(spec, "tcp:")) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "-gdb %s: only tcp::PORT or tcp:HOST:PORT is supported", spec);
        return false;
    }
    const char *rest = spec + 4;
    const char *colon = strrchr(rest, ':');
    if (!colon) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-gdb %s: the port is missing (tcp::1234)", spec);
        return false;
    }
    g_autofree char *h = g_strndup(rest, colon - rest);
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        char *inner = g_strndup(h + 1, strlen(h) - 2);
        g_free(h);
        h = inner;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 1 || p > 65535) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-gdb %s: '%s' is not a port (1-65535)", spec,
                    colon + 1);
        return false;
    }
    *port = (guint16)p;
    *host = *h ? g_steal_pointer(&h) : NULL;
    return true;
}

static bool listen_on(GdbServer *s, const char *host, guint16 port, GError **err)
{
    g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(host);
    if (!ia) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-gdb: '%s' is not an IP address", host);
        return false;
    }
    g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(ia, port);
    GError *local = NULL;
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(s->service), addr, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, NULL, NULL, &local)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "-gdb: cannot listen on %s port %u: %s", host, port,
                    local->message);
        g_error_free(local);
        return false;
    }
    return true;
}

GdbServer *gdb_server_new(Vm *vm, const char *spec, GError **err)
{
    g_autofree char *host = NULL;
    guint16 port;
    if (!parse_spec(spec, &host, &port, err))
        return NULL;
    GError *why = NULL;
    if (!vm_debug_supported(vm, &why)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-gdb: %s", why->message);
        g_error_free(why);
        return NULL;
    }
    GdbServer *s = g_new0(GdbServer, 1);
    s->vm = vm;
    s->last_signal = 5;
    s->service = g_socket_service_new();
    bool ok;
    if (host) {
        ok = listen_on(s, host, port, err);
    } else {
        /* This machine only: a stub reads and writes all of the guest. The IPv6
         * loopback is a bonus where the host has it. */
        ok = listen_on(s, "127.0.0.1", port, err);
        if (ok)
            listen_on(s, "::1", port, NULL);
    }
    if (!ok) {
        g_object_unref(s->service);
        g_free(s);
        return NULL;
    }
    g_signal_connect(s->service, "incoming", G_CALLBACK(on_incoming), s);
    g_socket_service_start(s->service);
    s->state_listener = vm_add_state_listener(vm, on_state, s);
    return s;
}

void gdb_server_free(GdbServer *s)
{
    if (!s)
        return;
    vm_remove_state_listener(s->vm, s->state_listener);
    if (s->client) {
        /* The last reply (the exit status) still goes out if the debugger reads. */
        GdbClient *c = s->client;
        sock_writer_drain(c->out, 2);
        /* No resuming on the way out. */
        s->client = NULL;
        sock_reader_free(c->reader);
        sock_writer_free(c->out);
        g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
        g_object_unref(c->conn);
        g_string_free(c->pkt, TRUE);
        g_free(c);
    }
    g_socket_service_stop(s->service);
    g_socket_listener_close(G_SOCKET_LISTENER(s->service));
    g_object_unref(s->service);
    g_free(s);
}

void gdb_server_set_quit_handler(GdbServer *s, void (*fn)(void *data), void *data)
{
    s->quit_fn = fn;
    s->quit_data = data;
}
