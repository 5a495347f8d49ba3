/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs the SingleStepTests 80286 real-mode vectors against the interpreter or the
 * translator: for each test, load registers and memory, execute from CS:IP up to the
 * HLT that ends it, compare registers (with the undefined flags masked as
 * metadata.json says) and memory. Prints the pass rate per opcode and overall;
 * succeeds at >= 99.5%. Under the translator each test's instruction is a block of
 * its own (with the HLT after it, or alone when it ends the block), compiled and run
 * as translated code.
 *
 * Usage: singlestep-286 [-v] [-o OPCODE] [--accel interp|tcg] DIR
 *   -v          print the first failures of each opcode with the differences
 *   -o OPCODE   only files whose name starts with OPCODE (e.g. "D3" or "D3.4")
 *   --accel     the CPU back end (default interp) */
#include "cpu/jit/jit.h"
#include "cpu/x86/x86.h"
#include "engine/testing.h"
#include "engine/memory.h"
#include "engine/vcpu.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define PASS_THRESHOLD 99.5

/* Opcodes not run, and why (tests/cpu/README repeats this list). */
static const struct {
    const char *prefix;
    const char *why;
} skipped[] = {
    { "0F", "286 system opcodes and LOADALL; the 0F space differs on a P6" },
};

static const char *regs16[] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di" };
static const char *sregs[] = { "es", "cs", "ss", "ds" };

typedef struct Options {
    bool verbose;
    bool tcg;
    const char *only;
} Options;

static char *read_gz(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return NULL;
    GByteArray *buf = g_byte_array_new();
    uint8_t chunk[65536];
    int n;
    while ((n = gzread(f, chunk, sizeof(chunk))) > 0)
        g_byte_array_append(buf, chunk, (guint)n);
    gzclose(f);
    *len = buf->len;
    g_byte_array_append(buf, (const uint8_t *)"", 1);
    return (char *)g_byte_array_free(buf, FALSE);
}

static int64_t member_int(JsonObject *o, const char *name, int64_t dflt)
{
    return json_object_has_member(o, name) ? json_object_get_int_member(o, name) : dflt;
}

/* The flags mask for an opcode file ("D3" or "D3.4") from metadata.json. */
static uint32_t flags_mask_for(JsonObject *meta, const char *opcode, const char **status)
{
    *status = "normal";
    if (!meta)
        return 0xffff;
    g_auto(GStrv) parts = g_strsplit(opcode, ".", 2);
    if (!json_object_has_member(meta, parts[0]))
        return 0xffff;
    JsonObject *o = json_object_get_object_member(meta, parts[0]);
    if (parts[1] && json_object_has_member(o, "reg")) {
        JsonObject *r = json_object_get_object_member(o, "reg");
        if (json_object_has_member(r, parts[1]))
            o = json_object_get_object_member(r, parts[1]);
    }
    if (json_object_has_member(o, "status"))
        *status = json_object_get_string_member(o, "status");
    return (uint32_t)member_int(o, "flags-mask", 0xffff);
}

typedef struct Runner {
    Vm *vm;
    Vcpu *v;
    X86Cpu *cpu;
} Runner;

static void set_real_seg(X86SegState *s, uint16_t sel, bool code)
{
    s->sel = sel;
    s->base = (uint32_t)sel << 4;
    s->limit = 0xffff;
    s->attr = X86_ATTR_P | X86_ATTR_S | (code ? 0xb : 0x3);
}

static void load_ram(Runner *r, JsonArray *ram)
{
    for (guint k = 0; k < json_array_get_length(ram); k++) {
        JsonArray *e = json_array_get_array_element(ram, k);
        uint64_t addr = (uint64_t)json_array_get_int_element(e, 0);
        uint8_t val = (uint8_t)json_array_get_int_element(e, 1);
        mem_write(r->v->mem, addr, &val, 1);
    }
}

/* Loads the initial registers and memory of a test. */
static void setup_test(Runner *r, JsonObject *t)
{
    JsonObject *init = json_object_get_object_member(t, "initial");
    JsonObject *ir = json_object_get_object_member(init, "regs");
    X86State s;
    x86_cpu_reset(r->cpu);
    x86_cpu_get_state(r->cpu, &s);
    for (unsigned k = 0; k < 8; k++)
        s.regs[k] = (uint32_t)member_int(ir, regs16[k], 0);
    for (unsigned k = 0; k < 4; k++)
        set_real_seg(&s.seg[k], (uint16_t)member_int(ir, sregs[k], 0), k == X86_CS);
    set_real_seg(&s.seg[X86_FS], 0, false);
    set_real_seg(&s.seg[X86_GS], 0, false);
    s.eip = (uint32_t)member_int(ir, "ip", 0);
    /* Bits 12-15 are always clear on a 286 in real mode. */
    s.eflags = ((uint32_t)member_int(ir, "flags", 2) & 0x0fff) | 2;
    x86_cpu_set_state(r->cpu, &s);
    load_ram(r, json_object_get_array_member(init, "ram"));
}

/* Runs one test; on failure appends the differences to why. */
static bool run_test(Runner *r, JsonObject *t, uint32_t fmask, GString *why)
{
    JsonObject *init = json_object_get_object_member(t, "initial");
    JsonObject *fin = json_object_get_object_member(t, "final");
    JsonObject *ir = json_object_get_object_member(init, "regs");
    JsonObject *fr = json_object_get_object_member(fin, "regs");
    setup_test(r, t);
    X86RunResult res = x86_cpu_run(r->cpu, 64);
    bool ok = true;
    if (res != X86_RUN_HALT) {
        g_string_append_printf(why, " did not reach HLT (run result %d);", res);
        ok = false;
    }
    X86State o;
    x86_cpu_get_state(r->cpu, &o);
    for (unsigned k = 0; k < 8; k++) {
        uint32_t want = (uint32_t)member_int(fr, regs16[k], member_int(ir, regs16[k], 0));
        if ((o.regs[k] & 0xffff) != want) {
            g_string_append_printf(why, " %s=%04x want %04x;", regs16[k], o.regs[k] & 0xffff, want);
            ok = false;
        }
    }
    for (unsigned k = 0; k < 4; k++) {
        uint32_t want = (uint32_t)member_int(fr, sregs[k], member_int(ir, sregs[k], 0));
        if (o.seg[k].sel != want) {
            g_string_append_printf(why, " %s=%04x want %04x;", sregs[k], o.seg[k].sel, want);
            ok = false;
        }
    }
    uint32_t want_ip = (uint32_t)member_int(fr, "ip", member_int(ir, "ip", 0));
    if ((o.eip & 0xffff) != want_ip) {
        g_string_append_printf(why, " ip=%04x want %04x;", o.eip, want_ip);
        ok = false;
    }
    uint32_t mask = 0x0fff & fmask;
    uint32_t want_fl = (uint32_t)member_int(fr, "flags", member_int(ir, "flags", 2));
    if ((o.eflags & mask) != (want_fl & mask)) {
        g_string_append_printf(why, " flags=%03x want %03x (mask %03x);", o.eflags & mask, want_fl & mask, mask);
        ok = false;
    }
    /* An interrupt frame pushed by the instruction (final SP = initial SP - 6 and a
     * new CS:IP) holds FLAGS at SS:SP+4: its undefined bits are masked too. */
    uint32_t flags_at = UINT32_MAX;
    uint32_t isp = (uint32_t)member_int(ir, "sp", 0), fsp = (uint32_t)member_int(fr, "sp", isp);
    if (fmask != 0xffff && ((isp - fsp) & 0xffff) == 6) {
        uint32_t ss = (uint32_t)member_int(fr, "ss", member_int(ir, "ss", 0));
        flags_at = ss * 16 + ((fsp + 4) & 0xffff);
    }
    /* Memory: the final value of every byte the test mentions. */
    GHashTable *want_mem = g_hash_table_new(g_direct_hash, g_direct_equal);
    JsonArray *rams[2] = { json_object_get_array_member(init, "ram"), json_object_get_array_member(fin, "ram") };
    for (unsigned a = 0; a < 2; a++)
        for (guint k = 0; k < json_array_get_length(rams[a]); k++) {
            JsonArray *e = json_array_get_array_element(rams[a], k);
            g_hash_table_insert(want_mem, GUINT_TO_POINTER((guint)json_array_get_int_element(e, 0)),
                                GUINT_TO_POINTER((guint)json_array_get_int_element(e, 1) + 1));
        }
    GHashTableIter it;
    gpointer key, val;
    g_hash_table_iter_init(&it, want_mem);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        uint8_t b;
        uint32_t addr = GPOINTER_TO_UINT(key);
        mem_read(r->v->mem, addr, &b, 1);
        uint8_t m = addr == flags_at ? (uint8_t)fmask : addr == flags_at + 1 ? (uint8_t)(fmask >> 8) : 0xff;
        if ((b & m) != ((GPOINTER_TO_UINT(val) - 1) & m)) {
            g_string_append_printf(why, " [%05x]=%02x want %02x;", GPOINTER_TO_UINT(key), b, GPOINTER_TO_UINT(val) - 1);
            ok = false;
        }
    }
    g_hash_table_destroy(want_mem);
    return ok;
}

/* A P6 raises #UD for LOCK except on the memory-destination forms of these
 * instructions (SDM vol. 2, LOCK); the 286 accepted it anywhere. */
static bool lock_rejected_by_p6(JsonArray *bytes)
{
    guint n = json_array_get_length(bytes), k = 0;
    bool lock = false;
    for (; k < n; k++) {
        int b = (int)json_array_get_int_element(bytes, k);
        if (b == 0xf0)
            lock = true;
        else if (b != 0x26 && b != 0x2e && b != 0x36 && b != 0x3e && b != 0xf2 && b != 0xf3)
            break;
    }
    if (!lock || k >= n)
        return false;
    int op = (int)json_array_get_int_element(bytes, k);
    if (k + 1 >= n)
        return true;
    int modrm = (int)json_array_get_int_element(bytes, k + 1);
    bool mem = (modrm >> 6) != 3;
    int reg = (modrm >> 3) & 7;
    bool ok;
    if (op < 0x38 && (op & 7) < 2)
        ok = true;
    else if (op >= 0x80 && op <= 0x83)
        ok = reg != 7;
    else if (op == 0x86 || op == 0x87)
        ok = true;
    else if (op == 0xf6 || op == 0xf7)
        ok = reg == 2 || reg == 3;
    else if (op == 0xfe || op == 0xff)
        ok = reg <= 1;
    else
        return true;
    return !(ok && mem);
}

/* Instructions the 286 knows differently: longer than its 10-byte limit (#GP on the
 * 286, valid up to 15 bytes on a P6), or MOV to/from FS/GS (sreg 4/5: #UD on the
 * 286). Returns the reason or NULL. */
static const char *encoding_differs(JsonArray *bytes)
{
    guint n = json_array_get_length(bytes);
    /* The bytes are the instruction followed by one HLT. */
    if (n - 1 > 10)
        return "longer than the 286's 10-byte limit";
    guint k = 0;
    while (k < n) {
        int b = (int)json_array_get_int_element(bytes, k);
        if (b != 0x26 && b != 0x2e && b != 0x36 && b != 0x3e && b != 0xf0 && b != 0xf2 && b != 0xf3)
            break;
        k++;
    }
    if (k + 1 < n) {
        int op = (int)json_array_get_int_element(bytes, k);
        int reg = ((int)json_array_get_int_element(bytes, k + 1) >> 3) & 7;
        if ((op == 0x8c || op == 0x8e) && (reg == 4 || reg == 5))
            return "FS/GS, which the 286 does not have";
    }
    return NULL;
}

static uint32_t initial_word(JsonObject *t, uint32_t addr)
{
    JsonArray *ram = json_object_get_array_member(json_object_get_object_member(t, "initial"), "ram");
    uint32_t v = 0;
    for (guint k = 0; k < json_array_get_length(ram); k++) {
        JsonArray *e = json_array_get_array_element(ram, k);
        uint32_t a = (uint32_t)json_array_get_int_element(e, 0);
        if (a == addr || a == addr + 1)
            v |= (uint32_t)json_array_get_int_element(e, 1) << (a == addr ? 0 : 8);
    }
    return v;
}

/* A segment-limit violation at the 64 KiB wrap: the P6 raises #SS (stack) or #GP
 * before the access and leaves the registers as they were; the 286 reports every
 * segment overrun as INT 13, after advancing SI/DI in string instructions. True when
 * the interpreter faults with #SS/#GP on the test's instruction and the 286 entered
 * its INT 13 handler. */
static bool limit_fault_differs(Runner *r, JsonObject *t)
{
    JsonObject *ir = json_object_get_object_member(json_object_get_object_member(t, "initial"), "regs");
    JsonObject *fr = json_object_get_object_member(json_object_get_object_member(t, "final"), "regs");
    uint32_t ip13 = initial_word(t, 0x34), cs13 = initial_word(t, 0x36);
    if ((uint32_t)member_int(fr, "cs", -1) != cs13 || (uint32_t)member_int(fr, "ip", -1) != ((ip13 + 1) & 0xffff))
        return false;
    setup_test(r, t);
    x86_cpu_set_run_flags(r->cpu, X86_RUN_STOP_ON_HLT | X86_RUN_STOP_ON_EXCEPTION);
    X86RunResult res = x86_cpu_run(r->cpu, 1);
    x86_cpu_set_run_flags(r->cpu, X86_RUN_STOP_ON_HLT);
    X86State s;
    x86_cpu_get_state(r->cpu, &s);
    int vec = x86_cpu_last_exception(r->cpu, NULL, NULL);
    return res == X86_RUN_EXCEPTION && (vec == X86_EXC_SS || vec == X86_EXC_GP) &&
           s.eip == (uint32_t)member_int(ir, "ip", 0);
}

/* For a test the P6 must reject with #UD: true if the interpreter does. */
static bool raises_ud(Runner *r, JsonObject *t)
{
    setup_test(r, t);
    x86_cpu_set_run_flags(r->cpu, X86_RUN_STOP_ON_HLT | X86_RUN_STOP_ON_EXCEPTION);
    X86RunResult res = x86_cpu_run(r->cpu, 1);
    x86_cpu_set_run_flags(r->cpu, X86_RUN_STOP_ON_HLT);
    return res == X86_RUN_EXCEPTION && x86_cpu_last_exception(r->cpu, NULL, NULL) == X86_EXC_UD;
}

static const char *skip_reason(const char *opcode, const char *status)
{
    for (unsigned k = 0; k < G_N_ELEMENTS(skipped); k++)
        if (g_str_has_prefix(opcode, skipped[k].prefix))
            return skipped[k].why;
    if (!strcmp(status, "undefined") || !strcmp(status, "prefix"))
        return status;
    return NULL;
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    Options opt = { 0 };
    const char *dir = NULL;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "-v"))
            opt.verbose = true;
        else if (!strcmp(argv[k], "-o") && k + 1 < argc)
            opt.only = argv[++k];
        else if (!strcmp(argv[k], "--accel") && k + 1 < argc && !strcmp(argv[k + 1], "tcg"))
            opt.tcg = true, k++;
        else if (!strcmp(argv[k], "--accel") && k + 1 < argc && !strcmp(argv[k + 1], "interp"))
            k++;
        else if (argv[k][0] == '-')
            dir = NULL, k = argc;
        else
            dir = argv[k];
    }
    if (!dir) {
        fprintf(stderr, "usage: singlestep-286 [-v] [-o OPCODE] [--accel interp|tcg] DIR\n");
        return 2;
    }
    GError *err = NULL;
    if (opt.tcg && !jit_supported(&err)) {
        printf("SKIP: %s\n", err->message);
        g_error_free(err);
        return 77;
    }
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        printf("SKIP: test vectors not found at %s (they live in ../shared/cputests/80286-real)\n", dir);
        return 77;
    }

    g_autofree char *meta_path = g_build_filename(dir, "metadata.json", NULL);
    JsonParser *meta_parser = json_parser_new();
    JsonObject *meta = NULL;
    if (json_parser_load_from_file(meta_parser, meta_path, NULL))
        meta = json_object_get_object_member(json_node_get_object(json_parser_get_root(meta_parser)), "opcodes");

    GDir *d = g_dir_open(dir, 0, NULL);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while (d && (name = g_dir_read_name(d)))
        if (g_str_has_suffix(name, ".json.gz"))
            g_ptr_array_add(files, g_strdup(name));
    if (d)
        g_dir_close(d);
    g_ptr_array_sort(files, cmp_str);

    Runner r;
    r.vm = vm_new_for_test(UINT64_C(4) << 20);
    r.v = vm_vcpu(r.vm);
    atomic_store(&r.v->a20, true);
    /* The 286 sees RAM everywhere below 1 MiB + 64 KiB. */
    mem_set_ram_window(r.v->mem, 0xa0000, 0x60000, true, true);
    r.cpu = x86_cpu_new(r.v);
    x86_cpu_set_run_flags(r.cpu, X86_RUN_STOP_ON_HLT);
    if (opt.tcg) {
        JitOptions jo = { 0 };
        if (!jit_attach(r.cpu, &jo, &err)) {
            printf("FAIL: cannot attach the translator: %s\n", err->message);
            return 1;
        }
    }

    uint64_t total = 0, passed = 0;
    GString *below = g_string_new(NULL);
    for (guint f = 0; f < files->len; f++) {
        const char *file = files->pdata[f];
        g_autofree char *opcode = g_strndup(file, strlen(file) - strlen(".json.gz"));
        if (opt.only && !g_str_has_prefix(opcode, opt.only))
            continue;
        const char *status;
        uint32_t fmask = flags_mask_for(meta, opcode, &status);
        const char *why = skip_reason(opcode, status);
        if (why) {
            printf("%-6s skipped: %s\n", opcode, why);
            continue;
        }
        g_autofree char *path = g_build_filename(dir, file, NULL);
        size_t len;
        g_autofree char *text = read_gz(path, &len);
        JsonParser *p = json_parser_new();
        if (!text || !json_parser_load_from_data(p, text, (gssize)len, NULL)) {
            printf("%-6s ERROR: cannot read %s\n", opcode, path);
            g_object_unref(p);
            total++;
            continue;
        }
        JsonArray *tests = json_node_get_array(json_parser_get_root(p));
        unsigned n = json_array_get_length(tests), ok = 0, shown = 0;
        unsigned na_lock = 0, na_enc = 0, na_limit = 0;
        for (unsigned k = 0; k < json_array_get_length(tests); k++) {
            JsonObject *t = json_array_get_object_element(tests, k);
            JsonArray *bytes = json_object_get_array_member(t, "bytes");
            if (lock_rejected_by_p6(bytes)) {
                /* Not comparable with the 286, but the #UD itself is checked. */
                if (raises_ud(&r, t)) {
                    na_lock++;
                    n--;
                } else if (opt.verbose && shown++ < 5) {
                    printf("  FAIL %s #%u \"%s\": LOCK accepted, a P6 raises #UD\n", opcode, k,
                           json_object_get_string_member(t, "name"));
                }
                continue;
            }
            if (encoding_differs(bytes)) {
                na_enc++;
                n--;
                continue;
            }
            GString *diff = g_string_new(NULL);
            if (run_test(&r, t, fmask, diff)) {
                ok++;
            } else if (limit_fault_differs(&r, t)) {
                na_limit++;
                n--;
            } else if (opt.verbose && shown++ < 5) {
                printf("  FAIL %s #%u \"%s\":%s\n", opcode, k, json_object_get_string_member(t, "name"), diff->str);
            }
            g_string_free(diff, TRUE);
        }
        g_object_unref(p);
        total += n;
        passed += ok;
        printf("%-6s %3u/%3u %6.2f%%", opcode, ok, n, n ? 100.0 * ok / n : 100.0);
        if (na_lock)
            printf("  [%u n/a: LOCK a P6 rejects, #UD checked]", na_lock);
        if (na_enc)
            printf("  [%u n/a: encoding the 286 rejects]", na_enc);
        if (na_limit)
            printf("  [%u n/a: 64 KiB wrap fault, INT 13 on the 286]", na_limit);
        printf("\n");
        if (ok != n)
            g_string_append_printf(below, " %s", opcode);
    }
    double pct = total ? 100.0 * (double)passed / (double)total : 0.0;
    if (below->len)
        printf("below 100%%:%s\n", below->str);
    printf("overall: %.2f%% passed (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " applicable)\n", pct, passed, total);
    g_string_free(below, TRUE);
    bool translated = true;
    if (opt.tcg) {
        /* (Proof that the tests ran as translated code, not through the handlers.) */
        JitStats js;
        jit_get_stats(r.cpu, &js);
        printf("translator: %" G_GUINT64_FORMAT " blocks translated, %" G_GUINT64_FORMAT " instructions inline, %" G_GUINT64_FORMAT
               " called\n", js.blocks, js.insns_inline, js.insns_called);
        translated = js.blocks >= total / 2;
        if (!translated)
            printf("FAIL: fewer blocks translated than half the tests\n");
        jit_detach(r.cpu);
    }
    x86_cpu_free(r.cpu);
    vm_free(r.vm);
    g_ptr_array_free(files, TRUE);
    g_object_unref(meta_parser);
    return total && pct >= PASS_THRESHOLD && translated ? 0 : 1;
}
