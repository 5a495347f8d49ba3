/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Lockstep test of the translator (cpu/jit) against the interpreter: random programs
 * of basic blocks (ALU, MOV, MOVZX/MOVSX, XCHG, CBW/CWD, LEA, INC/DEC, TEST, shifts, IMUL, stack,
 * LZCNT/POPCNT/CRC32,
 * CALL/RET, indirect JMP/CALL, LOOP, SETcc/CMOVcc on
 * registers and memory, through 32- and 16-bit addressing, in 32- and 16-bit code,
 * with reads of a read-only alias and accesses to an unmapped page that fault) run on
 * two CPUs from the same state, one interpreting and one translating, one block at a
 * time; registers, EFLAGS, EIP, the data memory and the exception must agree after
 * every block. A tiny code cache makes the translator flush many times. Then looping
 * programs in runs of random budgets (chains), and programs that chain into a page
 * they remap (CR3 reloads and INVLPG between rounds), through direct links and
 * through the lookup table of a RET with many targets.
 *
 * usage: lockstep [-n PROGRAMS] [-s SEED] [-v] */
#include "cpu/jit/jit.h"
#include "cpu/x86/x86.h"
#include "engine/memory.h"
#include "engine/testing.h"
#include "engine/vcpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Physical layout (below 64 KiB, so 16-bit addressing reaches the data too). */
#define DATA 0x8000u        /* 8 KiB of data, then the stack */
#define DATA_SIZE 0x3000u
#define STACK_TOP 0xb000u
#define CODE 0x20000u
#define PDIR 0x30000u
#define RO_ALIAS 0x800000u  /* 4 MiB page mapping physical 0, read-only */
#define UNMAPPED 0x400000u  /* not present: #PF */
#define MAX_BLOCKS 12

typedef struct Gen {
    uint8_t code[8192];
    unsigned len;
    bool code32;
    uint32_t block_at[MAX_BLOCKS + 1];   /* EIP of each block */
    unsigned block_insns[MAX_BLOCKS + 1];
    unsigned nblocks;
    bool leaf;                           /* block_at[nblocks] is a leaf that CALLs reach */
    bool in_leaf;                        /* generating it: keep the stack balanced */
    size_t jcc_field[MAX_BLOCKS];        /* rel field of each block's branch */
    unsigned jcc_size[MAX_BLOCKS];
    unsigned jcc_to[MAX_BLOCKS];
    bool jcc_abs[MAX_BLOCKS];            /* the field is MOV EDX's absolute target */
} Gen;

static uint64_t rng;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static unsigned pick(unsigned n)
{
    return rnd() % n;
}

static void b8(Gen *g, unsigned v)
{
    g->code[g->len++] = (uint8_t)v;
}

static void b16(Gen *g, unsigned v)
{
    b8(g, v);
    b8(g, v >> 8);
}

static void b32(Gen *g, uint32_t v)
{
    b16(g, v);
    b16(g, v >> 16);
}

/* A destination register: EAX, ECX, EDX (the others hold addresses); for bytes also
 * AH, CH, DH. */
static unsigned dst_reg(unsigned size)
{
    static const unsigned r8[] = { 0, 1, 2, 4, 5, 6 };
    return size == 1 ? r8[pick(6)] : pick(3);
}

static unsigned src_reg(void)
{
    return pick(8) == 4 ? 0 : pick(8); /* any but ESP, mostly */
}

/* ModRM (with SIB, displacement) for reg field r and a memory operand through one of
 * the address registers; 16-bit addressing with a 67h prefix emitted before the
 * opcode by the caller. */
static void modrm_mem(Gen *g, unsigned r, bool a16)
{
    if (a16) {
        /* [SI+d8] [DI+d8] [BP+d8] (SS) [BX+d8] */
        static const unsigned rm16[] = { 4, 5, 6, 7 };
        b8(g, 0x40 | (r << 3) | rm16[pick(4)]);
        b8(g, pick(64));
        return;
    }
    /* EBX, ESI (read-only alias), EDI, EBP (unmapped, rarely) as base. */
    unsigned roll = pick(100);
    unsigned base = roll < 45 ? 3 : roll < 65 ? 6 : roll < 97 ? 7 : 5;
    switch (pick(3)) {
    case 0:
        b8(g, 0x40 | (r << 3) | base);
        b8(g, pick(128));
        break;
    case 1:
        b8(g, 0x80 | (r << 3) | base);
        b32(g, pick(0x800));
        break;
    default: /* [base + EAX&... no: index ECX would be random; use base + base*scale? keep disp */
        b8(g, 0x44 | (r << 3));
        b8(g, (pick(2) << 6) | (4 << 3) | base); /* SIB with no index */
        b8(g, pick(128));
        break;
    }
}

/* One random instruction (two for PUSH+POP); returns how many. */
static unsigned gen_insn(Gen *g)
{
    bool op16 = pick(4) == 0;
    bool byte = pick(3) == 0;
    bool a16 = pick(6) == 0;
    bool mem = pick(2) == 0;
    unsigned kind = pick(16);
    if (op16)
        b8(g, 0x66);
    if (a16 == g->code32)
        b8(g, 0x67); /* the other address size (harmless without a memory operand) */
    unsigned sz = byte ? 1 : 2; /* 1: byte; otherwise the w bit */
    switch (kind) {
    case 0: case 1: case 2: { /* ALU E,G / G,E */
        unsigned alu = pick(8), dir = pick(2);
        b8(g, (alu << 3) | (dir << 1) | (sz - 1));
        unsigned d = dst_reg(byte ? 1 : 4);
        if (mem)
            modrm_mem(g, dir ? d : src_reg() & (byte ? 3 : 7), a16);
        else
            b8(g, 0xc0 | ((dir ? d : src_reg() & 7) << 3) | (dir ? src_reg() & 7 : d));
        break;
    }
    case 3: { /* ALU E,imm */
        unsigned alu = pick(8);
        unsigned op = byte ? 0x80 : pick(2) ? 0x83 : 0x81;
        b8(g, op);
        if (mem)
            modrm_mem(g, alu, a16);
        else
            b8(g, 0xc0 | (alu << 3) | dst_reg(byte ? 1 : 4));
        if (op == 0x81)
            (op16 != !g->code32) ? b16(g, rnd()) : b32(g, rnd());
        else
            b8(g, rnd());
        break;
    }
    case 4: /* ALU acc, imm */
        b8(g, (pick(8) << 3) | (byte ? 4 : 5));
        if (byte)
            b8(g, rnd());
        else
            (op16 != !g->code32) ? b16(g, rnd()) : b32(g, rnd());
        break;
    case 5: /* MOV E,G / G,E */
        b8(g, 0x88 | (pick(2) << 1) | (sz - 1));
        if (mem)
            modrm_mem(g, g->code[g->len - 1] & 2 ? dst_reg(byte ? 1 : 4) : src_reg() & (byte ? 3 : 7), a16);
        else
            b8(g, 0xc0 | (dst_reg(byte ? 1 : 4) << 3) | dst_reg(byte ? 1 : 4));
        break;
    case 6: /* MOV r, imm / MOV E, imm */
        if (mem) {
            b8(g, byte ? 0xc6 : 0xc7);
            modrm_mem(g, 0, a16);
        } else {
            b8(g, (byte ? 0xb0 : 0xb8) + dst_reg(byte ? 1 : 4));
        }
        if (byte)
            b8(g, rnd());
        else
            (op16 != !g->code32) ? b16(g, rnd()) : b32(g, rnd());
        break;
    case 7: /* TEST */
        if (pick(2)) {
            b8(g, 0x84 | (sz - 1));
            if (mem)
                modrm_mem(g, src_reg() & 3, a16);
            else
                b8(g, 0xc0 | (src_reg() << 3) | src_reg());
        } else {
            b8(g, 0xf6 | (sz - 1));
            if (mem)
                modrm_mem(g, 0, a16);
            else
                b8(g, 0xc0 | src_reg());
            if (byte)
                b8(g, rnd());
            else
                (op16 != !g->code32) ? b16(g, rnd()) : b32(g, rnd());
        }
        break;
    case 8: /* INC/DEC */
        if (!byte && !mem) {
            b8(g, 0x40 + (pick(2) << 3) + dst_reg(4));
        } else {
            b8(g, 0xfe | (sz - 1));
            if (mem)
                modrm_mem(g, pick(2), a16);
            else
                b8(g, 0xc0 | (pick(2) << 3) | dst_reg(byte ? 1 : 4));
        }
        break;
    case 9: /* LEA */
        b8(g, 0x8d);
        modrm_mem(g, dst_reg(4), a16);
        break;
    case 10: { /* shifts and rotates by an immediate, by one or by CL */
        unsigned how = pick(4);
        bool one = how == 0;
        b8(g, (how == 0 ? 0xd0 : how == 1 ? 0xd2 : 0xc0) | (byte ? 0 : 1));
        if (how == 1)
            one = true; /* no immediate */
        if (mem)
            modrm_mem(g, pick(8) == 6 ? 4 : pick(8), a16);
        else
            b8(g, 0xc0 | ((pick(8) == 6 ? 4 : pick(8)) << 3) | dst_reg(byte ? 1 : 4));
        if (!one)
            b8(g, pick(40));
        break;
    }
    case 11: /* PUSH / POP of a scratch register */
        b8(g, (pick(2) || g->in_leaf ? 0x50 : 0x58) + dst_reg(4));
        if ((g->code[g->len - 1] & 0xf8) == 0x50) {
            if (op16 && g->in_leaf)
                b8(g, 0x66); /* the leaf's return address stays where RET finds it */
            b8(g, 0x58 + dst_reg(4)); /* keep the stack balanced */
            return 2;
        }
        break;
    case 12: /* SETcc / CMOVcc */
        b8(g, 0x0f);
        if (pick(2)) {
            b8(g, 0x90 | pick(16));
            if (mem)
                modrm_mem(g, 0, a16);
            else
                b8(g, 0xc0 | dst_reg(1));
        } else {
            b8(g, 0x40 | pick(16));
            if (mem)
                modrm_mem(g, dst_reg(4), a16);
            else
                b8(g, 0xc0 | (dst_reg(4) << 3) | src_reg());
        }
        break;
    case 13: { /* IMUL r, r/m, imm8 / imm / IMUL r, r/m */
        unsigned form = pick(3);
        if (form == 2)
            b8(g, 0x0f);
        b8(g, form == 0 ? 0x6b : form == 1 ? 0x69 : 0xaf);
        if (mem)
            modrm_mem(g, dst_reg(4), a16);
        else
            b8(g, 0xc0 | (dst_reg(4) << 3) | src_reg());
        if (form == 0)
            b8(g, rnd());
        else if (form == 1)
            (op16 != !g->code32) ? b16(g, rnd()) : b32(g, rnd());
        break;
    }
    case 14: /* MOVZX / MOVSX, XCHG, CBW/CWDE, CWD/CDQ, NOP, BSWAP, fences, PUSH imm / r/m,
              * LZCNT/POPCNT/CRC32, DIV, a frame LEAVE pops, CLD/STD, MOV moffs */
        switch (pick(13)) {
        case 0:
            b8(g, 0x0f);
            b8(g, 0xb6 | (pick(2) << 3) | pick(2));
            if (mem)
                modrm_mem(g, dst_reg(4), a16);
            else
                b8(g, 0xc0 | (dst_reg(4) << 3) | src_reg());
            break;
        case 1:
            b8(g, 0x86 | (sz - 1));
            if (mem)
                modrm_mem(g, dst_reg(byte ? 1 : 4), a16);
            else
                b8(g, 0xc0 | (dst_reg(byte ? 1 : 4) << 3) | dst_reg(byte ? 1 : 4));
            break;
        case 2:
            b8(g, 0x91 + pick(2)); /* with ECX or EDX */
            break;
        case 3:
            b8(g, 0x98 + pick(2));
            break;
        case 4:
            b8(g, 0x90);
            break;
        case 5: /* BSWAP r32, or LFENCE/MFENCE/SFENCE */
            b8(g, 0x0f);
            if (pick(4)) {
                b8(g, 0xc8 + dst_reg(4));
            } else {
                b8(g, 0xae);
                b8(g, 0xe8 + 8 * pick(3));
            }
            break;
        case 6: /* PUSH imm8 / imm / r/m, then POP of the same size */
            switch (pick(3)) {
            case 0:
                b8(g, 0x6a);
                b8(g, rnd());
                break;
            case 1:
                b8(g, 0x68);
                (op16 != !g->code32) ? b16(g, rnd()) : b32(g, rnd());
                break;
            default:
                b8(g, 0xff);
                if (mem)
                    modrm_mem(g, 6, a16);
                else
                    b8(g, 0xf0 | src_reg());
                break;
            }
            if (op16)
                b8(g, 0x66);
            b8(g, 0x58 + dst_reg(4));
            return 2;
        case 7: /* LZCNT, POPCNT (CF/ZF for the next Jcc), CRC32 (flags kept): handler calls */
            switch (pick(3)) {
            case 0:
                b8(g, 0xf3);
                b8(g, 0x0f);
                b8(g, 0xbd);
                break;
            case 1:
                b8(g, 0xf3);
                b8(g, 0x0f);
                b8(g, 0xb8);
                break;
            default:
                b8(g, 0xf2);
                b8(g, 0x0f);
                b8(g, 0x38);
                b8(g, 0xf0 | (sz - 1));
                break;
            }
            if (mem)
                modrm_mem(g, dst_reg(4), a16);
            else
                b8(g, 0xc0 | (dst_reg(4) << 3) | src_reg());
            break;
        case 8: /* DIV r/m: half of them after XOR EDX, EDX (a quotient that fits), the
                 * others mostly #DE (a divisor of zero, or EDX not below it) */
            if (pick(2)) {
                if (op16)
                    b8(g, 0x66); /* (the prefixes above went to the XOR) */
                if (a16 == g->code32)
                    b8(g, 0x67);
                b8(g, 0x31);
                b8(g, 0xd2);
                if (op16)
                    b8(g, 0x66);
                if (a16 == g->code32)
                    b8(g, 0x67);
                b8(g, 0xf6 | (sz - 1));
                if (mem)
                    modrm_mem(g, 6, a16);
                else
                    b8(g, 0xf0 | src_reg());
                return 2;
            }
            b8(g, 0xf6 | (sz - 1));
            if (mem)
                modrm_mem(g, 6, a16);
            else
                b8(g, 0xf0 | src_reg());
            break;
        case 9: /* PUSH EBP; MOV EBP, ESP; PUSH r; LEAVE (the frame's own size throughout) */
            b8(g, 0x55);
            if (op16)
                b8(g, 0x66);
            b8(g, 0x89);
            b8(g, 0xe5);
            if (op16)
                b8(g, 0x66);
            b8(g, 0x50 + dst_reg(4));
            if (op16)
                b8(g, 0x66);
            b8(g, 0xc9);
            return 4;
        case 10: /* CLD / STD */
            b8(g, 0xfc + pick(2));
            break;
        default: { /* MOV AL/eAX, moffs / moffs, AL/eAX: in the data, across a page end, unmapped */
            b8(g, 0xa0 | (pick(2) << 1) | (sz - 1));
            unsigned where = pick(16);
            uint32_t at = where == 0 ? DATA + 0xffe : DATA + 0x400 + pick(0x800);
            if (a16)
                b16(g, at);
            else
                b32(g, where == 1 ? UNMAPPED + pick(0x1000) : at);
            break;
        }
        }
        break;
    default: /* NOT / NEG / ADC / SBB against CF from a previous op */
        b8(g, 0xf6 | (sz - 1));
        if (mem)
            modrm_mem(g, 2 + pick(2), a16);
        else
            b8(g, 0xc0 | ((2 + pick(2)) << 3) | dst_reg(byte ? 1 : 4));
        break;
    }
    return 1;
}

/* 32-bit code: an ALU op on a register (the translator leaves its flags unstored,
 * cpu/jit/README.md "Deferred flags"), a move that writes another register or a
 * byte of one, or an INC/DEC (or two) that takes the flags over and an instruction
 * that reads its CF, then an access that often faults (EBP's base is unmapped) or an ALU op
 * with a memory operand: the fault must see the flags before it. Returns the number
 * of instructions. */
static unsigned gen_deferred(Gen *g)
{
    static const unsigned alus[] = { 0, 1, 4, 5, 6, 7 }; /* ADD OR AND SUB XOR CMP */
    unsigned d = dst_reg(4);
    if (pick(2)) {
        b8(g, (alus[pick(6)] << 3) | 1);
        b8(g, 0xc0 | (src_reg() << 3) | d);
    } else {
        b8(g, 0x83);
        b8(g, 0xc0 | (alus[pick(6)] << 3) | d);
        b8(g, rnd());
    }
    unsigned n = 3;
    switch (pick(7)) {
    case 5: case 6:
        /* INC/DEC of a register (32, 16 or 8 bits), which takes the flags over but
         * for CF, and an ADC, SBB or SETC that reads that CF */
        switch (pick(3)) {
        case 0:
            b8(g, 0x40 | (pick(2) << 3) | dst_reg(4));
            break;
        case 1:
            b8(g, 0x66);
            b8(g, 0x40 | (pick(2) << 3) | dst_reg(4));
            break;
        default:
            b8(g, 0xfe);
            b8(g, 0xc0 | (pick(2) << 3) | dst_reg(1));
            break;
        }
        if (pick(3) == 0) {
            /* a second INC/DEC: the first one's flags are dead but for CF */
            b8(g, 0x40 | (pick(2) << 3) | dst_reg(4));
            n++;
        }
        if (pick(2)) {
            b8(g, pick(2) ? 0x13 : 0x1b);
            b8(g, 0xc0 | (dst_reg(4) << 3) | src_reg());
        } else {
            b8(g, 0x0f);
            b8(g, 0x92);
            b8(g, 0xc0 | dst_reg(1));
        }
        n++;
        break;
    case 0: /* MOV r8, [mem] (AH..DH too) */
        b8(g, 0x8a);
        modrm_mem(g, dst_reg(1), false);
        break;
    case 1: /* MOV r8, imm */
        b8(g, 0xb0 + dst_reg(1));
        b8(g, rnd());
        break;
    case 2: /* MOVZX r32, byte [mem] */
        b8(g, 0x0f);
        b8(g, 0xb6);
        modrm_mem(g, dst_reg(4), false);
        break;
    case 3: /* LEA r32, [mem] */
        b8(g, 0x8d);
        modrm_mem(g, dst_reg(4), false);
        break;
    default: /* MOV r32, r32 */
        b8(g, 0x8b);
        b8(g, 0xc0 | (dst_reg(4) << 3) | src_reg());
        break;
    }
    /* MOV r32, [EBP + d8] or ALU r32, [EBP + d8], else anywhere */
    b8(g, pick(3) ? 0x8b : (alus[pick(6)] << 3) | 3);
    if (pick(2)) {
        b8(g, 0x45 | (dst_reg(4) << 3));
        b8(g, pick(128));
    } else {
        modrm_mem(g, dst_reg(4), false);
    }
    return n;
}

/* DS's base in the program being generated (gen_sse's aligned operands), and the
 * XMM registers every side starts with. */
static uint32_t gen_ds_base;
static uint8_t xmm_init[8][16];

/* XMM register values with zero bytes and repeated letters among random ones, so
 * that compares and string searches find something. */
static void xmm_fill(void)
{
    for (unsigned r = 0; r < 8; r++)
        for (unsigned k = 0; k < 16; k++) {
            unsigned roll = pick(8);
            xmm_init[r][k] = (uint8_t)(roll == 0 ? 0 : roll < 4 ? 'a' + pick(4) : rnd());
        }
}

/* A memory operand for ModRM.reg r in 32-bit code: the usual random one (16-byte
 * operands there mostly misaligned: #GP for the aligned forms), or [disp32] 16-byte
 * aligned in the data. */
static void sse_mem(Gen *g, unsigned r)
{
    if (pick(3) == 0) {
        modrm_mem(g, r, false);
        return;
    }
    b8(g, (r << 3) | 5);
    b32(g, DATA + 16 * pick(0x100) - gen_ds_base + (pick(8) == 0 ? 8 : 0));
}

/* [pfx] 0F op with ModRM.reg x and a memory operand, or register rm. */
static void sse_move(Gen *g, unsigned pfx, unsigned op, bool mem, unsigned x, unsigned rm)
{
    if (pfx)
        b8(g, pfx);
    b8(g, 0x0f);
    b8(g, op);
    if (mem)
        sse_mem(g, x);
    else
        b8(g, 0xc0 | (x << 3) | rm);
}

/* An SSE instruction (32-bit code) in a form the translator compiles inline or one
 * it leaves to its handler: moves between XMM registers, memory and general
 * registers, the SSE2 integer and bitwise operations, shuffles, shifts by an
 * immediate, PMOVMSKB, SSSE3's PSHUFB and PALIGNR, SSE4's PTEST and PCMPISTRI, and now
 * and then an MMX form. */
static unsigned gen_sse(Gen *g)
{
    static const uint8_t binops[] = {
        0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x74, 0x75, 0x76,
        0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xe1, 0xe2, 0xe3,
        0xe4, 0xe5, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf8,
        0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe,
    };
    bool mem = pick(2) == 0;
    unsigned x = pick(8), y = pick(8);
    switch (pick(12)) {
    case 0: case 1: { /* loads: MOVUPS, MOVAPS (PD), MOVDQA, MOVDQU, MOVQ, MOVD */
        static const uint8_t pfx[] = { 0, 0, 0x66, 0x66, 0xf3, 0xf3, 0x66 };
        static const uint8_t ops[] = { 0x10, 0x28, 0x28, 0x6f, 0x6f, 0x7e, 0x6e };
        unsigned f = pick(7);
        sse_move(g, pfx[f], ops[f], mem, x, ops[f] == 0x6e ? src_reg() : y);
        break;
    }
    case 2: { /* stores: MOVUPS, MOVAPS, MOVDQA, MOVDQU, MOVQ, MOVD, MOVNTDQ, MOVNTPS */
        static const uint8_t pfx[] = { 0, 0x66, 0x66, 0xf3, 0x66, 0x66, 0x66, 0 };
        static const uint8_t ops[] = { 0x11, 0x29, 0x7f, 0x7f, 0xd6, 0x7e, 0xe7, 0x2b };
        unsigned f = pick(8);
        sse_move(g, pfx[f], ops[f], mem || f >= 6, x, ops[f] == 0x7e ? dst_reg(4) : y);
        break;
    }
    case 3: case 4: case 5: case 6: /* 66 0F binop, or 0F 54-57 */
        if (pick(6) == 0) {
            if (pick(2))
                b8(g, 0x66);
            b8(g, 0x0f);
            b8(g, 0x54 + pick(4));
        } else {
            b8(g, 0x66);
            b8(g, 0x0f);
            b8(g, binops[pick(sizeof(binops))]);
        }
        if (mem)
            sse_mem(g, x);
        else
            b8(g, 0xc0 | (x << 3) | y);
        break;
    case 7: /* PMOVMSKB r32, xmm; PSHUFD/HW/LW */
        if (pick(2)) {
            b8(g, 0x66);
            b8(g, 0x0f);
            b8(g, 0xd7);
            b8(g, 0xc0 | (dst_reg(4) << 3) | y);
        } else {
            b8(g, pick(3) == 0 ? 0xf3 : pick(2) ? 0xf2 : 0x66);
            b8(g, 0x0f);
            b8(g, 0x70);
            if (mem)
                sse_mem(g, x);
            else
                b8(g, 0xc0 | (x << 3) | y);
            b8(g, rnd());
        }
        break;
    case 8: { /* shifts by imm8 (every /digit: the invalid ones are #UD) */
        b8(g, 0x66);
        b8(g, 0x0f);
        b8(g, 0x71 + pick(3));
        b8(g, 0xc0 | (pick(8) << 3) | y);
        b8(g, pick(4) ? pick(20) : rnd());
        break;
    }
    case 9: { /* PSHUFB, PTEST, PALIGNR, PCMPISTRI */
        static const uint8_t maps[] = { 0x38, 0x38, 0x3a, 0x3a }, ops[] = { 0x00, 0x17, 0x0f, 0x63 };
        unsigned f = pick(4);
        b8(g, 0x66);
        b8(g, 0x0f);
        b8(g, maps[f]);
        b8(g, ops[f]);
        if (mem)
            sse_mem(g, x);
        else
            b8(g, 0xc0 | (x << 3) | y);
        if (f == 2)
            b8(g, pick(36));
        else if (f == 3)
            b8(g, pick(0x80));
        break;
    }
    case 10: /* MMX: MOVQ mm, mm/m64 (its handler) */
        b8(g, 0x0f);
        b8(g, 0x6f);
        if (mem)
            modrm_mem(g, x, false);
        else
            b8(g, 0xc0 | (x << 3) | y);
        break;
    default: /* a value through a general register and back: MOVD xmm, r32; PADDD; MOVD r32, xmm */
        b8(g, 0x66);
        b8(g, 0x0f);
        b8(g, 0x6e);
        b8(g, 0xc0 | (x << 3) | src_reg());
        b8(g, 0x66);
        b8(g, 0x0f);
        b8(g, 0xfe);
        b8(g, 0xc0 | (x << 3) | y);
        b8(g, 0x66);
        b8(g, 0x0f);
        b8(g, 0x7e);
        b8(g, 0xc0 | (x << 3) | dst_reg(4));
        return 3;
    }
    return 1;
}

#define LOOP_COUNTER 0x2800u /* offset in DATA: beyond every random access and the stack */
#define LOOP_ROUNDS 4

/* Blocks of random instructions, each ending in Jcc/JMP to a later block or the
 * next; the last ends with HLT. loop_off (the DS offset of a counter, or 0): the last
 * block first decrements it and jumps back to the first block while it is not zero,
 * so blocks run again through the translator's chained exits. start: the first
 * block's offset from CODE (a start near 4 KiB puts the page end among the
 * instructions, some of which then cross it). */
static void gen_program(Gen *g, bool code32, uint32_t loop_off, unsigned start)
{
    memset(g, 0, sizeof(*g));
    g->code32 = code32;
    g->len = start;
    g->nblocks = 1 + pick(MAX_BLOCKS);
    g->leaf = pick(2);
    uint32_t eip0 = code32 ? CODE : 0;
    for (unsigned b = 0; b < g->nblocks; b++) {
        g->block_at[b] = eip0 + g->len;
        unsigned n = 1 + pick(14), insns = 0;
        for (unsigned k = 0; k < n; k++) {
            unsigned roll = code32 ? pick(10) : 9;
            insns += roll == 0 ? gen_deferred(g) : roll == 1 ? gen_sse(g) : gen_insn(g);
        }
        g->block_insns[b] = insns + 1;
        if (b + 1 == g->nblocks) {
            if (loop_off) {
                /* DEC dword [loop_off]; JNZ first block */
                if (!code32)
                    b8(g, 0x66);
                b8(g, 0xff);
                b8(g, code32 ? 0x0d : 0x0e);
                code32 ? b32(g, loop_off) : b16(g, loop_off);
                b8(g, 0x0f);
                b8(g, 0x85);
                uint32_t next = eip0 + g->len + (code32 ? 4 : 2);
                uint32_t rel = g->block_at[0] - next;
                code32 ? b32(g, rel) : b16(g, rel);
            }
            b8(g, 0xf4); /* HLT */
            break;
        }
        unsigned end = pick(8);
        if (end == 2 && code32) {
            /* MOV EDX, target; JMP EDX or CALL EDX (the leaf) */
            bool call = g->leaf && pick(2);
            g->jcc_to[b] = call ? g->nblocks : b + 1 + pick(g->nblocks - b - 1);
            g->jcc_abs[b] = true;
            g->block_insns[b]++;
            b8(g, 0xba);
            g->jcc_field[b] = g->len;
            g->jcc_size[b] = 4;
            b32(g, 0);
            b8(g, 0xff);
            b8(g, call ? 0xd2 : 0xe2);
            continue;
        }
        if (end == 0 && g->leaf) {
            /* CALL the leaf, which returns to the next block */
            b8(g, 0xe8);
            g->jcc_to[b] = g->nblocks;
        } else if (end == 1) {
            /* LOOP to the next instruction (the next block, taken or not), with ECX
             * or CX by the address size */
            if (pick(2))
                b8(g, 0x67);
            b8(g, 0xe2);
            b8(g, 0);
            continue;
        } else {
            g->jcc_to[b] = b + 1 + pick(g->nblocks - b - 1);
            if (pick(4) == 0) {
                b8(g, 0xe9);
            } else {
                b8(g, 0x0f);
                b8(g, 0x80 | pick(16));
            }
        }
        g->jcc_field[b] = g->len;
        g->jcc_size[b] = code32 ? 4 : 2;
        code32 ? b32(g, 0) : b16(g, 0);
    }
    if (g->leaf) {
        /* A few instructions and RET */
        unsigned b = g->nblocks, n = 1 + pick(5), insns = 0;
        g->block_at[b] = eip0 + g->len;
        g->in_leaf = true;
        for (unsigned k = 0; k < n; k++)
            insns += code32 && pick(10) == 0 ? gen_deferred(g) : gen_insn(g);
        b8(g, 0xc3);
        g->block_insns[b] = insns + 1;
    }
    for (unsigned b = 0; b + 1 < g->nblocks; b++) {
        if (!g->jcc_size[b])
            continue;
        if (g->jcc_abs[b]) {
            memcpy(g->code + g->jcc_field[b], &g->block_at[g->jcc_to[b]], 4);
            continue;
        }
        uint32_t next = eip0 + (uint32_t)g->jcc_field[b] + g->jcc_size[b];
        uint32_t rel = g->block_at[g->jcc_to[b]] - next;
        memcpy(g->code + g->jcc_field[b], &rel, g->jcc_size[b]);
    }
}

typedef struct Side {
    Vm *vm;
    Vcpu *v;
    X86Cpu *c;
    uint64_t counted; /* instructions counted at the last comparison */
} Side;

static void side_init(Side *s, bool jit, size_t cache_size)
{
    s->counted = 0;
    s->vm = vm_new_for_test(UINT64_C(16) << 20);
    s->v = vm_vcpu(s->vm);
    atomic_store(&s->v->a20, true);
    s->c = x86_cpu_new(s->v);
    x86_cpu_set_run_flags(s->c, X86_RUN_STOP_ON_HLT | X86_RUN_STOP_ON_EXCEPTION);
    if (jit) {
        JitOptions o = { .cache_size = cache_size };
        GError *err = NULL;
        if (!jit_attach(s->c, &o, &err)) {
            printf("SKIP: %s\n", err->message);
            exit(77);
        }
    }
}

/* The XMM registers from xmm_init (X86State has none). */
static void set_xmm(Side *s)
{
    static CpuX86State cs;
    x86_cpu_save(s->c, &cs);
    memcpy(cs.xmm, xmm_init, sizeof(xmm_init));
    GError *err = NULL;
    if (!x86_cpu_load(s->c, &cs, &err)) {
        printf("FAIL: loading the XMM registers: %s\n", err->message);
        exit(1);
    }
}

static void side_load(Side *s, const Gen *g, const uint8_t *data, const X86State *st)
{
    GuestMemory *m = s->v->mem;
    mem_write(m, DATA, data, DATA_SIZE);
    mem_write(m, CODE, g->code, sizeof(g->code));
    uint32_t pd[1024] = { 0 };
    pd[0] = 0x83 | 0x4;                          /* 4 MiB at 0, RW */
    pd[RO_ALIAS >> 22] = 0x81 | 0x4;             /* the same, read-only */
    mem_write(m, PDIR, pd, sizeof(pd));
    x86_cpu_set_state(s->c, st);
    set_xmm(s);
}

static void make_state(X86State *st, bool code32)
{
    memset(st, 0, sizeof(*st));
    st->regs[X86_EAX] = rnd();
    st->regs[X86_ECX] = rnd();
    st->regs[X86_EDX] = rnd();
    st->regs[X86_EBX] = DATA + pick(0x1000);
    st->regs[X86_ESI] = RO_ALIAS + DATA + pick(0x1000);
    st->regs[X86_EDI] = DATA + 0x1000 + pick(0x800);
    st->regs[X86_EBP] = pick(8) ? DATA + 0x800 + pick(0x800) : UNMAPPED + pick(0x1000);
    st->regs[X86_ESP] = STACK_TOP;
    st->eflags = 0x2 | (rnd() & 0x8d5);
    /* Flat data segments (every offset valid), not always at base 0. */
    for (unsigned k = 0; k < X86_NSEG; k++)
        st->seg[k] = (X86SegState){ 0x10, 0xc093, pick(2) ? 0 : pick(0x400), 0xffffffffu };
    st->seg[X86_CS] = code32 ? (X86SegState){ 0x08, 0xc09b, 0, 0xffffffffu }
                             : (X86SegState){ 0x18, 0x009b, CODE, 0xffff };
    st->eip = code32 ? CODE : 0;
    st->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
    st->cr3 = PDIR;
    st->cr4 = X86_CR4_PSE | X86_CR4_OSFXSR;
    /* Now and then SSE off: #NM (CR0.TS) or #UD (no CR4.OSFXSR) from its instructions. */
    unsigned sse_off = pick(32);
    if (sse_off == 0)
        st->cr0 |= X86_CR0_TS;
    else if (sse_off == 1)
        st->cr4 &= ~(uint32_t)X86_CR4_OSFXSR;
    st->gdt_limit = 0x1f;
    st->idt_limit = 0x7ff;
    st->ldtr.attr = 0x82;
    st->tr = (X86SegState){ 0x20, 0x8b, 0, 0x67 };
    st->cpl = 0;
}

/* The block of g that starts at s's EIP (now: its state), or g->nblocks + g->leaf. */
static unsigned block_at_eip(const Gen *g, Side *s, X86State *now)
{
    x86_cpu_get_state(s->c, now);
    unsigned blk = 0;
    while (blk < g->nblocks + g->leaf && g->block_at[blk] != now->eip)
        blk++;
    return blk;
}

static bool same(Side *a, Side *b, int ra, int rb, unsigned prog, unsigned blk, bool verbose)
{
    X86State sa, sb;
    x86_cpu_get_state(a->c, &sa);
    x86_cpu_get_state(b->c, &sb);
    /* (The instructions counted since the last comparison too: a fault in a chained
     * block counts those of its block done before it, from the block's start.) */
    uint64_t na = x86_cpu_insn_count(a->c) - a->counted, nb = x86_cpu_insn_count(b->c) - b->counted;
    a->counted += na;
    b->counted += nb;
    bool ok = ra == rb && !memcmp(sa.regs, sb.regs, sizeof(sa.regs)) && sa.eip == sb.eip && sa.eflags == sb.eflags &&
              na == nb;
    if (ok && ra == X86_RUN_EXCEPTION) {
        bool ha, hb;
        uint32_t ea, eb;
        ok = x86_cpu_last_exception(a->c, &ha, &ea) == x86_cpu_last_exception(b->c, &hb, &eb) && ha == hb && ea == eb;
    }
    static uint8_t da[DATA_SIZE], db[DATA_SIZE];
    mem_read(a->v->mem, DATA, da, DATA_SIZE);
    mem_read(b->v->mem, DATA, db, DATA_SIZE);
    bool mem_ok = !memcmp(da, db, DATA_SIZE);
    static CpuX86State ca, cb;
    x86_cpu_save(a->c, &ca);
    x86_cpu_save(b->c, &cb);
    bool xmm_ok = !memcmp(ca.xmm, cb.xmm, 8 * 16);
    if (ok && mem_ok && xmm_ok)
        return true;
    printf("FAIL: program %u block %u: run %d vs %d\n", prog, blk, ra, rb);
    for (unsigned k = 0; k < 8; k++)
        if (sa.regs[k] != sb.regs[k] || verbose)
            printf("  reg %u: interp %08x jit %08x\n", k, sa.regs[k], sb.regs[k]);
    printf("  eip %08x / %08x, eflags %08x / %08x\n", sa.eip, sb.eip, sa.eflags, sb.eflags);
    if (na != nb)
        printf("  instructions counted: %llu / %llu\n", (unsigned long long)na, (unsigned long long)nb);
    for (unsigned r = 0; r < 8; r++)
        if (memcmp(ca.xmm[r], cb.xmm[r], 16)) {
            printf("  xmm%u: interp", r);
            for (unsigned k = 0; k < 16; k++)
                printf(" %02x", ca.xmm[r][k]);
            printf(" jit");
            for (unsigned k = 0; k < 16; k++)
                printf(" %02x", cb.xmm[r][k]);
            printf("\n");
        }
    for (unsigned k = 0; k < DATA_SIZE && !mem_ok; k++)
        if (da[k] != db[k]) {
            printf("  memory at %05x: %02x / %02x\n", DATA + k, da[k], db[k]);
            break;
        }
    return false;
}

/* A page whose mapping the guest changes while blocks chain into it: linear
 * REMAP_LIN through a page table at PTAB, pointing at PAGE_A or PAGE_B (different
 * code). Translated chains check the target's TLB entry instead of dropping every
 * link at each CR3 load or INVLPG: this makes sure a changed mapping is seen (after
 * CR3 reloads, INVLPG, and a CR3 reload that leaves the mapping as it was). */
#define PTAB 0x31000u
#define PAGE_A 0x22000u
#define PAGE_B 0x23000u
#define REMAP_LIN 0xc00000u

#define CALLEE (CODE + 0x900)
#define CALL_SITES 24

static void gen_remap(Gen *g, uint8_t *page_a, uint8_t *page_b, bool many_calls)
{
    memset(g, 0, sizeof(*g));
    g->code32 = true;
    if (!many_calls) {
        /* The callee in each page: add/xor, or sub/rol, then RET. */
        uint8_t a[] = { 0x05, 0x11, 0x11, 0x11, 0x01, 0x81, 0xf2, 0x44, 0x33, 0x22, 0x11, 0xc3 };
        uint8_t b[] = { 0x2d, 0x77, 0x66, 0x55, 0x02, 0xc1, 0xc0, 0x05, 0xc3 };
        memcpy(page_a, a, sizeof(a));
        memcpy(page_b, b, sizeof(b));
    } else {
        /* Each page calls CALLEE from CALL_SITES places, so that its RET's targets
         * change (the exit uses the lookup table); the two pages put different
         * instructions (ADD, SUB) at the same return addresses. */
        unsigned at = 0;
        for (unsigned k = 0; k < CALL_SITES; k++) {
            uint32_t rel = CALLEE - (REMAP_LIN + at + 5);
            page_a[at] = page_b[at] = 0xe8;
            memcpy(page_a + at + 1, &rel, 4);
            memcpy(page_b + at + 1, &rel, 4);
            uint32_t imm = 0x01010101u * (k + 1);
            page_a[at + 5] = 0x05;
            page_b[at + 5] = 0x2d;
            memcpy(page_a + at + 6, &imm, 4);
            memcpy(page_b + at + 6, &imm, 4);
            at += 10;
        }
        page_a[at] = page_b[at] = 0xc3;
    }
    /* (physical page, flush: 0 none, 1 MOV CR3, 2 INVLPG) after each round */
    static const uint32_t phases[][2] = {
        { PAGE_B, 1 }, { PAGE_B, 1 }, { PAGE_A, 2 }, { PAGE_A, 1 }, { PAGE_B, 2 }, { PAGE_A, 1 },
    };
    /* Every round calls one block that calls the page, so its exit, linked once,
     * is taken again after each remapping. */
    const uint32_t shared = CODE + 0x800;
    for (unsigned ph = 0; ph <= G_N_ELEMENTS(phases); ph++) {
        b8(g, 0xb9); /* MOV ECX, 3 + ph */
        b32(g, 3 + ph);
        uint32_t loop = CODE + g->len;
        b8(g, 0xe8); /* CALL shared */
        b32(g, shared - (CODE + g->len + 4));
        b8(g, 0x49); /* DEC ECX; JNZ loop */
        b8(g, 0x0f);
        b8(g, 0x85);
        b32(g, loop - (CODE + g->len + 4));
        if (ph == G_N_ELEMENTS(phases))
            break;
        b8(g, 0xc7); /* MOV dword [PTAB], page | P RW US */
        b8(g, 0x05);
        b32(g, PTAB);
        b32(g, phases[ph][0] | 7);
        if (phases[ph][1] == 1) {
            b8(g, 0x0f); /* MOV EBX, CR3; MOV CR3, EBX */
            b8(g, 0x20);
            b8(g, 0xdb);
            b8(g, 0x0f);
            b8(g, 0x22);
            b8(g, 0xdb);
        } else {
            b8(g, 0x0f); /* INVLPG [REMAP_LIN] */
            b8(g, 0x01);
            b8(g, 0x3d);
            b32(g, REMAP_LIN);
        }
    }
    b8(g, 0xf4);
    g->len = shared - CODE; /* shared: CALL REMAP_LIN; RET */
    b8(g, 0xe8);
    b32(g, REMAP_LIN - (CODE + g->len + 4));
    b8(g, 0xc3);
    g->len = CALLEE - CODE; /* the callee of the many calls: ROL EAX, 3; RET */
    b8(g, 0xc1);
    b8(g, 0xc0);
    b8(g, 0x03);
    b8(g, 0xc3);
}

/* make_state's 32-bit state with every data segment at base 0 (the remapping
 * programs' page tables map linear addresses as the code expects them). */
static void make_flat_state(X86State *st)
{
    make_state(st, true);
    for (unsigned k = 0; k < X86_NSEG; k++)
        if (k != X86_CS)
            st->seg[k].base = 0;
}

static void side_load_remap(Side *s, const Gen *g, const uint8_t *page_a, const uint8_t *page_b, const X86State *st)
{
    GuestMemory *m = s->v->mem;
    uint32_t pt[1024] = { PAGE_A | 7 };
    mem_write(m, PTAB, pt, sizeof(pt));
    mem_write(m, PAGE_A, page_a, 4096);
    mem_write(m, PAGE_B, page_b, 4096);
    uint8_t zero[DATA_SIZE] = { 0 };
    side_load(s, g, zero, st);
    uint32_t pde = PTAB | 7;
    mem_write(m, PDIR + (REMAP_LIN >> 22) * 4, &pde, 4);
}

/* A link made after the page's mapping changed: block S at REMAP_LIN exits (JMP
 * within its page) to T, unlinked when a budget ends the run; the page is remapped
 * (PAGE_B: another T at the same address) and the run resumes at T; then the page is
 * mapped back and S runs again, whose exit must reach PAGE_A's T, not PAGE_B's. Both
 * sides get the same steps; returns false when they differ. */
static bool delayed_link(Side *a, Side *b, bool verbose)
{
    static uint8_t pa[4096], pb[4096];
    const uint8_t s_code[] = { 0x05, 0x11, 0x11, 0x11, 0x11, 0xeb, 0x09 }; /* ADD EAX; JMP +9 */
    const uint8_t t_a[] = { 0x81, 0xc1, 0x01, 0x01, 0x01, 0x01, 0xf4 };   /* ADD ECX; HLT */
    const uint8_t t_b[] = { 0x81, 0xc1, 0x02, 0x02, 0x02, 0x02, 0xf4 };
    memset(pa, 0, sizeof(pa));
    memset(pb, 0, sizeof(pb));
    memcpy(pa, s_code, sizeof(s_code));
    memcpy(pb, s_code, sizeof(s_code));
    memcpy(pa + 0x10, t_a, sizeof(t_a));
    memcpy(pb + 0x10, t_b, sizeof(t_b));
    static Gen g;
    memset(&g, 0, sizeof(g));
    X86State st;
    make_flat_state(&st);
    st.eip = REMAP_LIN;
    Side *sides[2] = { a, b };
    int r[2] = { 0, 0 };
    for (unsigned step = 0; step < 3; step++) {
        for (unsigned k = 0; k < 2; k++) {
            Side *s = sides[k];
            GuestMemory *m = s->v->mem;
            if (step == 0) {
                side_load_remap(s, &g, pa, pb, &st);
                r[k] = x86_cpu_run(s->c, 2); /* S whole, its exit left unlinked */
                continue;
            }
            uint32_t pte = (step == 1 ? PAGE_B : PAGE_A) | 7;
            mem_write(m, PTAB, &pte, 4);
            X86State now;
            x86_cpu_get_state(s->c, &now); /* (setting it again flushes the TLB) */
            if (step == 2)
                now.eip = REMAP_LIN;
            x86_cpu_set_state(s->c, &now);
            r[k] = x86_cpu_run(s->c, 100);
        }
        if (!same(a, b, r[0], r[1], 0, step, verbose)) {
            printf("  (delayed link, step %u)\n", step);
            return false;
        }
    }
    return true;
}

/* A loop of one block whose counter's flags the translator stores only where the
 * loop is left (PEND_INCDEC32): ADD EAX, EBX; XOR EBX, EAX; DEC ECX; JNZ back (the
 * ADD writes every flag before anything reads one). Variant 1 starts with SETP DL;
 * ADD EAX, EDX instead, which reads the last DEC's PF on the way round (another
 * each time), so its flags are stored there. Runs with budgets of 1-40 instructions stop it mid-loop (its exit
 * back to the entry leaves for the dispatcher); the last run falls through to CMC
 * (which reads CF, kept by DEC) and HLT. Registers and EFLAGS are compared after
 * every run. */
static bool loop_counter(Side *a, Side *b, bool verbose, unsigned variant)
{
    static Gen g;
    memset(&g, 0, sizeof(g));
    g.code32 = true;
    b8(&g, 0xb9); /* MOV ECX, 300 */
    b32(&g, 300);
    b8(&g, 0xeb); /* JMP loop (so the loop is a block of its own) */
    b8(&g, 0x00);
    unsigned loop = g.len;
    if (variant == 1) {
        b8(&g, 0x0f); /* SETP DL */
        b8(&g, 0x9a);
        b8(&g, 0xc2);
        b8(&g, 0x01); /* ADD EAX, EDX */
        b8(&g, 0xd0);
    } else {
        b8(&g, 0x01); /* ADD EAX, EBX */
        b8(&g, 0xd8);
    }
    b8(&g, 0x31); /* XOR EBX, EAX */
    b8(&g, 0xc3);
    b8(&g, 0x49); /* DEC ECX */
    b8(&g, 0x75); /* JNZ loop */
    b8(&g, (uint8_t)(loop - (g.len + 1)));
    b8(&g, 0xf5); /* CMC */
    b8(&g, 0xf4); /* HLT */
    X86State st;
    make_state(&st, true);
    static uint8_t zero[DATA_SIZE];
    side_load(a, &g, zero, &st);
    side_load(b, &g, zero, &st);
    for (unsigned run = 0; run < 400; run++) {
        unsigned budget = 1 + pick(40);
        int ra = x86_cpu_run(a->c, budget);
        int rb = x86_cpu_run(b->c, budget);
        if (!same(a, b, ra, rb, variant, run, verbose)) {
            printf("  (loop counter %u, run %u, budget %u)\n", variant, run, budget);
            return false;
        }
        if (ra != X86_RUN_BUDGET)
            return ra == X86_RUN_HALT || (printf("FAIL: loop counter %u stopped with %d\n", variant, ra), false);
    }
    printf("FAIL: loop counter %u did not end\n", variant);
    return false;
}

/* One physical page of code at two linear addresses (REMAP_LIN and REMAP_LIN +
 * 2000h: PAGE_A) whose next pages differ (PAGE_B and PAGE_C), in one run of chained
 * blocks. S at the end of the page jumps into the next page; its exit, linked from
 * the first alias to PAGE_B's T, is taken again from the second alias and must reach
 * PAGE_C's (the guard's linear address test). Then a JMP within the page, from either
 * alias: the same physical block either way, entered at that alias's EIP. */
#define PAGE_C 0x24000u
static void put_jmp32(uint8_t *page, unsigned off, uint32_t lin_of_page, uint32_t target)
{
    page[off] = 0xe9;
    uint32_t rel = target - (lin_of_page + off + 5);
    memcpy(page + off + 1, &rel, 4);
}

static bool aliased_source(Side *a, Side *b, bool verbose)
{
    static uint8_t pa[4096], pb[4096], pc[4096];
    const uint8_t s_code[] = { 0x05, 0x11, 0x11, 0x11, 0x11, 0xeb, 0x20 }; /* ADD EAX; JMP +20h */
    const uint8_t t_b[] = { 0x81, 0xc1, 0x01, 0x01, 0x01, 0x01 };          /* ADD ECX */
    const uint8_t t_c[] = { 0x81, 0xc1, 0x02, 0x02, 0x02, 0x02, 0x31, 0xdb }; /* ADD ECX; XOR EBX, EBX */
    const uint8_t near[] = { 0x2d, 0x33, 0x33, 0x33, 0x33, 0xeb, 0x10 };  /* SUB EAX; JMP +10h */
    /* ROL ECX, 5; XOR EBX, 1; JZ +5 (to the HLT after the JMP) */
    const uint8_t near_t[] = { 0xc1, 0xc1, 0x05, 0x83, 0xf3, 0x01, 0x74, 0x05 };
    memset(pa, 0, sizeof(pa));
    memset(pb, 0, sizeof(pb));
    memset(pc, 0, sizeof(pc));
    memcpy(pa + 0xff0, s_code, sizeof(s_code));
    memcpy(pb + 0x17, t_b, sizeof(t_b));
    put_jmp32(pb, 0x1d, REMAP_LIN + 0x1000, REMAP_LIN + 0x2ff0); /* to S at the second alias */
    memcpy(pc + 0x17, t_c, sizeof(t_c));
    put_jmp32(pc, 0x1f, REMAP_LIN + 0x3000, REMAP_LIN + 0x100); /* to the first alias's JMP */
    memcpy(pa + 0x100, near, sizeof(near));
    memcpy(pa + 0x117, near_t, sizeof(near_t));
    put_jmp32(pa, 0x11f, REMAP_LIN, REMAP_LIN + 0x2100); /* (at the first alias) to the second's */
    pa[0x124] = 0xf4;
    static Gen g;
    memset(&g, 0, sizeof(g));
    X86State st;
    make_flat_state(&st);
    st.eip = REMAP_LIN + 0xff0;
    Side *sides[2] = { a, b };
    int r[2] = { 0, 0 };
    for (unsigned k = 0; k < 2; k++) {
        Side *s = sides[k];
        side_load_remap(s, &g, pa, pb, &st);
        uint32_t pt[4] = { PAGE_A | 7, PAGE_B | 7, PAGE_A | 7, PAGE_C | 7 };
        mem_write(s->v->mem, PTAB, pt, sizeof(pt));
        mem_write(s->v->mem, PAGE_C, pc, sizeof(pc));
        r[k] = x86_cpu_run(s->c, 100);
    }
    if (!same(a, b, r[0], r[1], 0, 0, verbose)) {
        printf("  (aliased code page)\n");
        return false;
    }
    X86State end;
    x86_cpu_get_state(a->c, &end);
    if (r[0] != X86_RUN_HALT || end.eip != REMAP_LIN + 0x2125) {
        printf("FAIL: aliased code page: stopped with %d at %08llx\n", r[0], (unsigned long long)end.eip);
        return false;
    }
    return true;
}

/* Accesses that cross from linear page 07FFF000h into 08000000h, two pages with the
 * same TLB index, mapped to physical pages far apart (4 MiB pages: 07C00000h at 0,
 * 08000000h at 8 MiB), after the second page's entry was filled by other accesses.
 * The translator's probe compares the page of the access's last byte with the entry
 * of its first byte's index, which then holds the second page: it must still take
 * the slow path (cpu/x86/mmu.c gives that page no fast tags). Registers and the
 * three physical pages around the crossing are compared, three runs of the same
 * block (translated after its first run). */
#define CROSS_LIN 0x07fffffeu
static bool collision_crossing(Side *a, Side *b, bool verbose)
{
    const uint8_t code[] = {
        0x8b, 0x05, 0x00, 0x00, 0x00, 0x08,       /* MOV EAX, [08000000h] */
        0x89, 0x05, 0x04, 0x00, 0x00, 0x08,       /* MOV [08000004h], EAX */
        0x8b, 0x0d, 0xfe, 0xff, 0xff, 0x07,       /* MOV ECX, [07FFFFFEh] */
        0x66, 0x8b, 0x15, 0xff, 0xff, 0xff, 0x07, /* MOV DX, [07FFFFFFh] */
        0x89, 0x1d, 0xfd, 0xff, 0xff, 0x07,       /* MOV [07FFFFFDh], EBX */
        0x01, 0x35, 0xfe, 0xff, 0xff, 0x07,       /* ADD [07FFFFFEh], ESI */
        0x66, 0x89, 0x3d, 0xff, 0xff, 0xff, 0x07, /* MOV [07FFFFFFh], DI */
        0x03, 0x2d, 0xfc, 0xff, 0xff, 0x07,       /* ADD EBP, [07FFFFFCh] (in its page) */
        0xf4,                                     /* HLT */
    };
    const uint32_t spots[3] = { 0x3ff000, 0x7ff000, 0x800000 };
    static uint8_t page[4096], pa[4096], pb[4096];
    Side *sides[2] = { a, b };
    for (unsigned run = 0; run < 3; run++) {
        X86State st;
        make_flat_state(&st);
        int r[2];
        for (unsigned k = 0; k < 2; k++) {
            GuestMemory *m = sides[k]->v->mem;
            for (unsigned sp = 0; sp < 3; sp++) {
                for (unsigned x = 0; x < sizeof(page); x++)
                    page[x] = (uint8_t)(x * 7 + sp * 0x55 + run);
                mem_write(m, spots[sp], page, sizeof(page));
            }
            mem_write(m, CODE, code, sizeof(code));
            uint32_t pd[1024] = { 0 };
            pd[0] = 0x83 | 0x4;
            pd[CROSS_LIN >> 22] = 0x83 | 0x4;              /* 07C00000h: physical 0 */
            pd[(CROSS_LIN >> 22) + 1] = 0x800000 | 0x83 | 0x4; /* 08000000h: 8 MiB */
            mem_write(m, PDIR, pd, sizeof(pd));
            x86_cpu_set_state(sides[k]->c, &st);
            r[k] = x86_cpu_run(sides[k]->c, 100);
        }
        if (!same(a, b, r[0], r[1], 0, run, verbose)) {
            printf("  (page crossing between pages of one TLB index)\n");
            return false;
        }
        for (unsigned sp = 0; sp < 3; sp++) {
            mem_read(a->v->mem, spots[sp], pa, sizeof(pa));
            mem_read(b->v->mem, spots[sp], pb, sizeof(pb));
            if (memcmp(pa, pb, sizeof(pa))) {
                printf("FAIL: page crossing between pages of one TLB index: physical page %06x differs\n",
                       spots[sp]);
                return false;
            }
        }
    }
    return true;
}

/* Where a program starts: a quarter of them end their first page among their
 * instructions, so that some instructions cross the page end (CODE's first page
 * end: a block ends in exec.c's stand-in there, which the 16-bit programs' CS with
 * its base and limit runs through the byte-wise fetch). */
static unsigned cross_start(void)
{
    return pick(4) ? 0 : 0x1000 - 8 - pick(400);
}

/* A random program of 32-bit (mostly) or 16-bit code (cross: maybe across its first
 * page end, cross_start), random data and a start state at its first block. */
static void new_program(Gen *g, uint8_t *data, X86State *st, bool cross)
{
    bool code32 = pick(4) != 0;
    make_state(st, code32);
    gen_ds_base = st->seg[X86_DS].base;
    xmm_fill();
    gen_program(g, code32, 0, cross ? cross_start() : 0);
    for (unsigned k = 0; k < DATA_SIZE; k++)
        data[k] = (uint8_t)rnd();
    st->eip = g->block_at[0];
}

static void dump_code(const Gen *g)
{
    printf("  code%s:", g->code32 ? "32" : "16");
    for (unsigned k = 0; k < g->len; k++)
        printf(" %02x", g->code[k]);
    printf("\n");
}

int main(int argc, char **argv)
{
    unsigned programs = 3000;
    uint64_t seed = 12;
    bool verbose = false;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "-n") && k + 1 < argc)
            programs = (unsigned)strtoul(argv[++k], NULL, 0);
        else if (!strcmp(argv[k], "-s") && k + 1 < argc)
            seed = strtoull(argv[++k], NULL, 0);
        else if (!strcmp(argv[k], "-v"))
            verbose = true;
    }
    GError *err = NULL;
    if (!jit_supported(&err)) {
        printf("SKIP: %s\n", err->message);
        return 77;
    }
    rng = seed * 0x9e3779b97f4a7c15ull + 1;
    Side a, b;
    side_init(&a, false, 0);
    side_init(&b, true, 16 << 10);
    static Gen g;
    static uint8_t data[DATA_SIZE];
    unsigned blocks = 0, faults = 0, failures = 0;
    for (unsigned p = 0; p < programs && failures < 5; p++) {
        X86State st;
        new_program(&g, data, &st, true);
        side_load(&a, &g, data, &st);
        side_load(&b, &g, data, &st);
        for (unsigned step = 0; step <= 2 * MAX_BLOCKS + 2; step++) {
            X86State now;
            unsigned blk = block_at_eip(&g, &a, &now);
            if (blk == g.nblocks + g.leaf) {
                printf("FAIL: program %u left its blocks (EIP %08x)\n", p, now.eip);
                dump_code(&g);
                failures++;
                break;
            }
            /* The budget of one block: the translator runs it whole. */
            int ra = x86_cpu_run(a.c, g.block_insns[blk]);
            int rb = x86_cpu_run(b.c, g.block_insns[blk]);
            blocks++;
            if (!same(&a, &b, ra, rb, p, blk, verbose)) {
                dump_code(&g);
                failures++;
                break;
            }
            if (ra == X86_RUN_EXCEPTION)
                faults++;
            if (ra != X86_RUN_BUDGET)
                break;
        }
    }
    /* Whole programs that loop: the budget lets the translator chain blocks, compared
     * when both stop (HLT or an exception). */
    unsigned loops = 0;
    for (unsigned p = 0; p < programs / 4 && failures < 5; p++) {
        bool code32 = pick(4) != 0;
        X86State st;
        make_state(&st, code32);
        gen_ds_base = st.seg[X86_DS].base;
        xmm_fill();
        gen_program(&g, code32, DATA + LOOP_COUNTER - st.seg[X86_DS].base, cross_start());
        st.eip = g.block_at[0];
        for (unsigned k = 0; k < DATA_SIZE; k++)
            data[k] = (uint8_t)rnd();
        uint32_t rounds = LOOP_ROUNDS;
        memcpy(data + LOOP_COUNTER, &rounds, 4);
        side_load(&a, &g, data, &st);
        side_load(&b, &g, data, &st);
        /* In runs of random length, so that budgets also end inside chains. */
        for (unsigned run = 0; run < 2000; run++) {
            unsigned budget = pick(4) ? 1 + pick(40) : 500;
            int ra = x86_cpu_run(a.c, budget);
            int rb = x86_cpu_run(b.c, budget);
            if (!same(&a, &b, ra, rb, p, run, verbose)) {
                dump_code(&g);
                failures++;
                break;
            }
            if (ra != X86_RUN_BUDGET)
                break;
        }
        loops++;
    }
    /* Chains into a page the guest remaps, with a cache that holds them all (exits
     * change to lookups only after several targets). */
    Side big;
    side_init(&big, true, 1 << 20);
    unsigned remaps = 0;
    for (unsigned p = 0; p < 20 && failures < 5; p++) {
        static uint8_t page_a[4096], page_b[4096];
        memset(page_a, 0, sizeof(page_a));
        memset(page_b, 0, sizeof(page_b));
        gen_remap(&g, page_a, page_b, p % 2);
        X86State st;
        make_flat_state(&st);
        side_load_remap(&a, &g, page_a, page_b, &st);
        side_load_remap(&big, &g, page_a, page_b, &st);
        for (unsigned run = 0; run < 2000; run++) {
            unsigned budget = pick(4) ? 1 + pick(40) : 500;
            int ra = x86_cpu_run(a.c, budget);
            int rb = x86_cpu_run(big.c, budget);
            if (!same(&a, &big, ra, rb, p, run, verbose)) {
                printf("  (remapped page)\n");
                dump_code(&g);
                failures++;
                break;
            }
            if (ra != X86_RUN_BUDGET) {
                if (ra != X86_RUN_HALT) {
                    printf("FAIL: remap program %u stopped with %d\n", p, ra);
                    failures++;
                }
                break;
            }
        }
        remaps++;
    }
    if (!delayed_link(&a, &big, verbose))
        failures++;
    if (!collision_crossing(&a, &big, verbose))
        failures++;
    if (!aliased_source(&a, &big, verbose))
        failures++;
    for (unsigned v = 0; v < 2; v++)
        if (!loop_counter(&a, &big, verbose, v))
            failures++;
    /* Blocks translated under flat data segments run again, their code untouched, with
     * DS, ES and SS limited to 1 MiB (no longer flat: every access checks the limit):
     * the translator's entry checks of segments it stopped testing per access send
     * those blocks to the handlers. Then (variant 1) blocks translated with the data
     * segments at base 0, whose probes leave the base out, run with the same flat
     * segments moved to a base other than 0: their entry checks must send them to the
     * handlers too, or the accesses land base bytes off. */
    Side ia, jb;
    side_init(&ia, false, 0);
    side_init(&jb, true, 1 << 20);
    guint64 interp_moved = 0;
    for (unsigned variant = 0; variant < 2; variant++) {
        JitStats s0;
        jit_get_stats(jb.c, &s0);
        for (unsigned p = 0; p < 60 && failures < 5; p++) {
            X86State st;
            new_program(&g, data, &st, false);
            if (variant == 1)
                for (unsigned k = 0; k < X86_NSEG; k++)
                    if (k != X86_CS)
                        st.seg[k].base = 0;
            uint32_t moved = 4 + 4 * pick(0xff);
            for (unsigned round = 0; round < 4 && failures < 5; round++) {
                X86State sr = st;
                if (round >= 1) {
                    for (unsigned k = 0; k < X86_NSEG; k++)
                        if (k != X86_CS)
                            sr.seg[k] = variant == 0 ? (X86SegState){ 0x10, 0x4093, st.seg[k].base, 0xfffff }
                                                     : (X86SegState){ 0x10, 0xc093, moved, 0xffffffffu };
                }
                if (round == 0) {
                    side_load(&ia, &g, data, &sr);
                    side_load(&jb, &g, data, &sr);
                } else {
                    mem_write(ia.v->mem, DATA, data, DATA_SIZE);
                    mem_write(jb.v->mem, DATA, data, DATA_SIZE);
                    x86_cpu_set_state(ia.c, &sr);
                    x86_cpu_set_state(jb.c, &sr);
                }
                if (round == 3) {
                    /* Once more in one run, so that the exits linked in the rounds before
                     * (those within their page keep their links across the state load)
                     * are taken: a block without entry checks chains, with the guest
                     * registers in its host registers, into one whose check fails, which
                     * must store them before it runs its handlers. */
                    int ra = x86_cpu_run(ia.c, 500);
                    int rb = x86_cpu_run(jb.c, 500);
                    if (!same(&ia, &jb, ra, rb, p, 0, verbose)) {
                        printf("  (chained run of the segment rerun)\n");
                        dump_code(&g);
                        failures++;
                    }
                    continue;
                }
                /* Block by block, as the first part runs them. */
                for (unsigned step = 0; step <= 2 * MAX_BLOCKS + 2; step++) {
                    X86State now;
                    unsigned blk = block_at_eip(&g, &ia, &now);
                    if (blk == g.nblocks + g.leaf)
                        break;
                    int ra = x86_cpu_run(ia.c, g.block_insns[blk]);
                    int rb = x86_cpu_run(jb.c, g.block_insns[blk]);
                    if (!same(&ia, &jb, ra, rb, p, blk, verbose)) {
                        printf("  (round %u of the segment rerun)\n", round);
                        dump_code(&g);
                        failures++;
                        break;
                    }
                    if (ra != X86_RUN_BUDGET)
                        break;
                }
            }
        }
        JitStats sv;
        jit_get_stats(jb.c, &sv);
        if (variant == 1)
            interp_moved = sv.entry_interp - s0.entry_interp;
    }
    X86ExecStats xs;
    x86_cpu_get_exec_stats(b.c, &xs);
    printf("page-crossing instructions run at a block's end: %" G_GUINT64_FORMAT "\n", xs.cross_runs);
    if (!xs.cross_runs) {
        printf("FAIL: no block ended in an instruction across its page end\n");
        failures++;
    }
    JitStats s1;
    jit_get_stats(jb.c, &s1);
    printf("segment reruns: %" G_GUINT64_FORMAT " block entries interpreted (%" G_GUINT64_FORMAT
           " of them with a base moved from 0)\n", s1.entry_interp, interp_moved);
    if ((!s1.entry_interp || !interp_moved) && !getenv("VIREO_JIT_INLINE")) {
        printf("FAIL: no block entry found its segments changed\n");
        failures++;
    }
    JitStats s;
    jit_get_stats(big.c, &s);
    printf("%u remapping programs: %" G_GUINT64_FORMAT " exits chained, %" G_GUINT64_FORMAT " lookup table entries\n",
           remaps, s.links, s.ib_fills);
    /* Half of them make one RET return to many places: the lookup table was used. */
    if (!s.ib_fills && !getenv("VIREO_JIT_CHAIN") && !getenv("VIREO_JIT_INLINE")) {
        printf("FAIL: no exit used the lookup table\n");
        return 1;
    }
    jit_get_stats(b.c, &s);
    printf("%u programs, %u blocks compared, %u ended in an exception, %u looping programs; jit: %" G_GUINT64_FORMAT
           " blocks translated, %" G_GUINT64_FORMAT " cache flushes, %" G_GUINT64_FORMAT " instructions inline, %"
           G_GUINT64_FORMAT " called, %" G_GUINT64_FORMAT " exits chained\n",
           programs, blocks, faults, loops, s.blocks, s.flushes, s.insns_inline, s.insns_called, s.links);
    /* (unless chaining or inline branches were turned off for bisecting) */
    if (!s.links && !getenv("VIREO_JIT_CHAIN") && !getenv("VIREO_JIT_INLINE")) {
        printf("FAIL: no exit was chained\n");
        return 1;
    }
    if (failures) {
        printf("FAIL: %u programs differ\n", failures);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
