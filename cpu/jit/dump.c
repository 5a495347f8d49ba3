/* SPDX-License-Identifier: GPL-2.0-or-later */
/* -d in_asm,out_asm (QEMU's names, -D FILE for a file): for each block the translator
 * compiles, its guest code at the block's linear addresses and the host code at the
 * addresses it runs from, disassembled by capstone. One log message per area and
 * block, so the blocks of several vCPUs do not interleave line by line. Builds
 * without capstone refuse both areas when -d is parsed (engine/log.c). */
#include "cpu/jit/dump.h"
#include "cpu/x86/cpu-internal.h"
#include "engine/log.h"
#include "vireo-config.h"

#include <inttypes.h>

#ifdef HAVE_CAPSTONE
#include <capstone/capstone.h>

/* Appends one line per instruction; bytes capstone does not decode (data the
 * translator keeps beside its code, such as an exit's description) as .byte lines. */
static void disassemble(GString *out, cs_mode mode, const uint8_t *p, size_t len, uint64_t addr)
{
    csh h;
    if (cs_open(CS_ARCH_X86, mode, &h) != CS_ERR_OK) {
        g_string_append(out, "(capstone cannot disassemble x86)\n");
        return;
    }
    size_t off = 0;
    while (off < len) {
        cs_insn *insn = NULL;
        size_t n = cs_disasm(h, p + off, len - off, addr + off, 0, &insn);
        for (size_t k = 0; k < n; k++)
            g_string_append_printf(out, "0x%08" PRIx64 ":  %s%s%s\n", insn[k].address, insn[k].mnemonic,
                                   insn[k].op_str[0] ? " " : "", insn[k].op_str);
        if (n) {
            off = (size_t)(insn[n - 1].address + insn[n - 1].size - addr);
            cs_free(insn, n);
        }
        if (off < len) {
            g_string_append_printf(out, "0x%08" PRIx64 ":  .byte 0x%02x\n", addr + off, p[off]);
            off++;
        }
    }
    cs_close(&h);
}

/* The host address of the guest's code at lin, len bytes within its page: through the
 * fetch TLB entry block_get used when it decoded the block, else a page walk. */
static const uint8_t *guest_code(X86Cpu *c, uint64_t lin, size_t len)
{
    if ((lin & 0xfff) + len > 0x1000)
        return NULL; /* cannot happen: blocks are decoded from one page */
    const X86Tlb *tlb = c->cpl == 3 ? c->tlb_user : c->tlb_sup;
    const X86Tlb *e = &tlb[x86_tlb_index(lin)];
    if (e->tag_x == (lin & ~UINT64_C(0xfff)))
        return (const uint8_t *)(e->add_r + lin);
    uint64_t phys;
    if (!x86_cpu_debug_translate(c, lin, &phys))
        return NULL;
    const uint8_t *page = mem_read_page(c->mem, phys & ~UINT64_C(0xfff));
    return page ? page + (phys & 0xfff) : NULL;
}

void jit_dump_block(X86Cpu *c, const X86Insn *insns, unsigned n, const void *code, size_t size,
                    const uint32_t *host_at)
{
    uint64_t lin = (c->seg[S_CS].base + c->eip) & c->lin_mask;
    unsigned bits = c->long64 ? 64 : c->code32 ? 32 : 16;
    size_t bytes = 0;
    for (unsigned k = 0; k < n; k++)
        bytes += insns[k].len;
    if (vlog_mask & LOG_IN_ASM) {
        g_autoptr(GString) s = g_string_new(NULL);
        g_string_append_printf(s, "IN: %04x:%08" PRIx64 " (linear 0x%08" PRIx64 "), %u-bit, %u instructions, %zu bytes\n",
                               c->seg[S_CS].sel, c->eip, lin, bits, n, bytes);
        const uint8_t *p = guest_code(c, lin, bytes);
        if (p)
            disassemble(s, bits == 64 ? CS_MODE_64 : bits == 32 ? CS_MODE_32 : CS_MODE_16, p, bytes, lin);
        else
            g_string_append(s, "(the guest code is not readable now)\n");
        g_string_truncate(s, s->len - 1);
        vlog_write(LOG_IN_ASM, "%s", s->str);
    }
    if (vlog_mask & LOG_OUT_ASM) {
        g_autoptr(GString) s = g_string_new(NULL);
        const uint8_t *h = code;
        uint64_t at = (uint64_t)(uintptr_t)code;
        g_string_append_printf(s, "OUT: block %04x:%08" PRIx64 " (linear 0x%08" PRIx64 "), %zu bytes of host code at %p\n",
                               c->seg[S_CS].sel, c->eip, lin, size, code);
        bool ranges = host_at != NULL;
        for (unsigned k = 0; ranges && k < n; k++)
            ranges = host_at[k] <= host_at[k + 1] && host_at[n] <= size;
        if (!ranges) {
            disassemble(s, CS_MODE_64, h, size, at);
        } else {
            /* Each guest instruction's host code under a line naming it, as QEMU's
             * "-- guest addr" lines do. */
            g_string_append(s, "-- prologue\n");
            disassemble(s, CS_MODE_64, h, host_at[0], at);
            uint64_t g = lin;
            for (unsigned k = 0; k < n; k++) {
                g_string_append_printf(s, "-- guest 0x%08" PRIx64 "\n", g);
                disassemble(s, CS_MODE_64, h + host_at[k], host_at[k + 1] - host_at[k], at + host_at[k]);
                g += insns[k].len;
            }
            g_string_append(s, "-- out of line: slow paths, exits\n");
            disassemble(s, CS_MODE_64, h + host_at[n], size - host_at[n], at + host_at[n]);
        }
        g_string_truncate(s, s->len - 1);
        vlog_write(LOG_OUT_ASM, "%s", s->str);
    }
}

#else

void jit_dump_block(X86Cpu *c, const X86Insn *insns, unsigned n, const void *code, size_t size,
                    const uint32_t *host_at)
{
    /* -d refuses in_asm and out_asm in this build, so this is never called. */
    (void)c, (void)insns, (void)n, (void)code, (void)size, (void)host_at;
}

#endif
