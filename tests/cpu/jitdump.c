/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The translator's jitdump file (-accel tcg,jitdump=on; cpu/jit/perf.c) read back as
 * `perf inject --jit` reads it (tools/perf/Documentation/jitdump-specification.txt):
 * the header, one JIT_CODE_LOAD record per translated block whose code bytes equal
 * the host code at its address, names with the blocks' CS:EIP, the JIT_CODE_CLOSE
 * record at the end, and the file mapped executable while the translator runs (what
 * perf record notices it by). Chaining is off so no exit is patched after the record
 * was written: the bytes must then equal, byte for byte, the code that ran. */
#include "cpu/jit/jit.h"
#include "cpu/x86/x86.h"
#include "engine/memory.h"
#include "engine/testing.h"
#include "engine/vcpu.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CODE 0x20000u

/* ECX = 1000 calls of f (EAX += ECX; EBX = EAX * 3), then HLT. */
static const uint8_t program[] = {
    0xb9, 0xe8, 0x03, 0x00, 0x00,       /* 20000 mov ecx, 1000 */
    0xe8, 0x04, 0x00, 0x00, 0x00,       /* 20005 call 2000e */
    0x49,                               /* 2000a dec ecx */
    0x75, 0xf8,                         /* 2000b jnz 20005 */
    0xf4,                               /* 2000d hlt */
    0x01, 0xc8,                         /* 2000e add eax, ecx */
    0x6b, 0xd8, 0x03,                   /* 20010 imul ebx, eax, 3 */
    0xc3,                               /* 20013 ret */
};

static unsigned failures;

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            printf("FAIL: ");                                                            \
            printf(__VA_ARGS__);                                                         \
            printf("\n");                                                                \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Whether /proc/self/maps has path mapped executable. */
static bool mapped_exec(const char *path)
{
    g_autofree char *maps = NULL;
    if (!g_file_get_contents("/proc/self/maps", &maps, NULL, NULL))
        return false;
    g_auto(GStrv) lines = g_strsplit(maps, "\n", -1);
    for (char **l = lines; *l; l++) {
        char perms[8] = "";
        if (strstr(*l, path) && sscanf(*l, "%*x-%*x %7s", perms) == 1 && perms[2] == 'x')
            return true;
    }
    return false;
}

/* Walks the records of data[0..len): counts the code loads (and checks each against
 * the live code cache when live), finds the entry block's name, and whether the last
 * record is JIT_CODE_CLOSE. */
static void check_records(const uint8_t *data, size_t len, bool live, const JitStats *st, bool want_close)
{
    uint64_t loads = 0, bytes = 0, next_index = 0, last_ts = rd64(data + 24);
    bool entry = false, f_block = false, closed = false;
    size_t off = 40;
    while (off < len) {
        CHECK(!closed, "a record after JIT_CODE_CLOSE");
        if (len - off < 16) {
            CHECK(0, "a torn record prefix at %zu", off);
            return;
        }
        uint32_t id = rd32(data + off), total = rd32(data + off + 4);
        uint64_t ts = rd64(data + off + 8);
        if (total < 16 || total > len - off) {
            CHECK(0, "record at %zu: size %u beyond the file (%zu bytes)", off, total, len);
            return;
        }
        CHECK(ts >= last_ts, "record at %zu: timestamp goes back", off);
        last_ts = ts;
        if (id == 0) { /* JIT_CODE_LOAD */
            const uint8_t *r = data + off;
            uint32_t pid = rd32(r + 16);
            uint64_t vma = rd64(r + 24), addr = rd64(r + 32), size = rd64(r + 40), index = rd64(r + 48);
            const char *name = (const char *)r + 56;
            size_t nlen = strnlen(name, total - 56);
            CHECK(nlen < total - 56 && 56 + nlen + 1 + size == total,
                  "code load at %zu: name and %" PRIu64 " code bytes do not fill its %u bytes", off, size, total);
            CHECK(pid == (uint32_t)getpid(), "code load pid %u", pid);
            CHECK(vma == addr && addr, "code load vma %" PRIx64 " addr %" PRIx64, vma, addr);
            CHECK(index == next_index, "code index %" PRIu64 ", expected %" PRIu64, index, next_index);
            CHECK(g_str_has_prefix(name, "vireo-jit:0008:"), "code load name '%s'", name);
            next_index++;
            loads++;
            bytes += size;
            entry |= !strcmp(name, "vireo-jit:0008:00020000");
            f_block |= !strcmp(name, "vireo-jit:0008:0002000e");
            if (live && 56 + nlen + 1 + size == total)
                CHECK(!memcmp(r + 56 + nlen + 1, (const void *)(uintptr_t)addr, size),
                      "code load '%s': the bytes differ from the host code at %" PRIx64, name, addr);
        } else if (id == 3) { /* JIT_CODE_CLOSE */
            CHECK(total == 16, "JIT_CODE_CLOSE of %u bytes", total);
            closed = true;
        } else {
            CHECK(0, "unexpected record type %u at %zu", id, off);
        }
        off += total;
    }
    CHECK(loads == st->blocks, "%" PRIu64 " code loads for %" PRIu64 " blocks translated", loads, st->blocks);
    CHECK(bytes == st->code_bytes, "%" PRIu64 " code bytes in the file, %" PRIu64 " generated", bytes, st->code_bytes);
    CHECK(entry && f_block, "no record named for the blocks at 0008:00020000 and 0008:0002000e");
    CHECK(closed == want_close, want_close ? "no JIT_CODE_CLOSE at the end" : "JIT_CODE_CLOSE too early");
    printf("%s: %" PRIu64 " code loads, %" PRIu64 " bytes of host code%s\n", live ? "while running" : "after detaching",
           loads, bytes, closed ? ", closed" : "");
}

int main(void)
{
    GError *err = NULL;
    if (!jit_supported(&err)) {
        printf("SKIP: %s\n", err->message);
        return 77;
    }
    /* No exit is patched after its block's record, so the bytes stay those written. */
    setenv("VIREO_JIT_CHAIN", "0", 1);
    Vm *vm = vm_new_for_test(UINT64_C(16) << 20);
    Vcpu *v = vm_vcpu(vm);
    atomic_store(&v->a20, true);
    X86Cpu *c = x86_cpu_new(v);
    x86_cpu_set_run_flags(c, X86_RUN_STOP_ON_HLT | X86_RUN_STOP_ON_EXCEPTION);
    JitOptions o = { .jitdump = true };
    if (!jit_attach(c, &o, &err)) {
        printf("FAIL: %s\n", err->message);
        return 1;
    }
    g_autofree char *path = g_strdup_printf("/tmp/jit-%d.dump", (int)getpid());
    CHECK(mapped_exec(path), "%s is not mapped executable (perf record would not see it)", path);

    mem_write(v->mem, CODE, program, sizeof(program));
    X86State st = { 0 };
    for (unsigned k = 0; k < X86_NSEG; k++)
        st.seg[k] = (X86SegState){ 0x10, 0xc093, 0, 0xffffffffu };
    st.seg[X86_CS] = (X86SegState){ 0x08, 0xc09b, 0, 0xffffffffu };
    st.regs[X86_ESP] = 0x10000;
    st.eip = CODE;
    st.eflags = 0x2;
    st.cr0 = X86_CR0_PE | X86_CR0_ET;
    st.gdt_limit = 0x1f;
    st.idt_limit = 0x7ff;
    st.ldtr.attr = 0x82;
    st.tr = (X86SegState){ 0x20, 0x8b, 0, 0x67 };
    x86_cpu_set_state(c, &st);
    X86RunResult r = x86_cpu_run(c, 100000);
    X86State end;
    x86_cpu_get_state(c, &end);
    CHECK(r == X86_RUN_HALT, "the program did not reach its HLT (run result %d, EIP %08x)", r, end.eip);
    CHECK(end.regs[X86_EAX] == 500500 && end.regs[X86_EBX] == 1501500, "EAX %u EBX %u", end.regs[X86_EAX],
          end.regs[X86_EBX]);
    JitStats js;
    jit_get_stats(c, &js);
    CHECK(js.blocks >= 3 && js.flushes == 0, "%" PRIu64 " blocks translated, %" PRIu64 " flushes", js.blocks,
          js.flushes);

    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, &err)) {
        printf("FAIL: %s\n", err->message);
        return 1;
    }
    const uint8_t *d = (const uint8_t *)data;
    if (len < 40) {
        printf("FAIL: %s has %zu bytes, no header\n", path, (size_t)len);
        return 1;
    }
    CHECK(rd32(d) == 0x4A695444, "magic %08x", rd32(d));
    CHECK(rd32(d + 4) == 1, "version %u", rd32(d + 4));
    CHECK(rd32(d + 8) == 40, "header size %u", rd32(d + 8));
    CHECK(rd32(d + 12) == 62, "elf_mach %u (EM_X86_64 is 62)", rd32(d + 12));
    CHECK(rd32(d + 20) == (uint32_t)getpid(), "header pid %u", rd32(d + 20));
    CHECK(rd64(d + 32) == 0, "flags %" PRIx64 " (0: CLOCK_MONOTONIC timestamps)", rd64(d + 32));
    check_records(d, len, true, &js, false);

    jit_detach(c);
    CHECK(!mapped_exec(path), "%s still mapped after the translator detached", path);
    g_free(data);
    data = NULL;
    if (!g_file_get_contents(path, &data, &len, &err)) {
        printf("FAIL: %s\n", err->message);
        return 1;
    }
    check_records((const uint8_t *)data, len, false, &js, true);
    unlink(path);
    x86_cpu_free(c);
    vm_free(vm);
    if (failures)
        return 1;
    printf("PASS\n");
    return 0;
}
