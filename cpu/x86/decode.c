/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The instruction decoder: prefixes, one-, two- and three-byte opcodes, ModRM/SIB,
 * displacements and immediates (SDM vol. 2, chapter 2 and appendix A). The result is
 * an X86Insn with its handler bound; the interpreter and the translator share it. */
#include "cpu/x86/cpu-internal.h"

/* Opcode attributes. */
enum {
    A_M = 1u << 0,      /* ModRM follows */
    A_I8 = 1u << 1,     /* imm8 */
    A_I8S = 1u << 2,    /* imm8, sign-extended */
    A_I16 = 1u << 3,    /* imm16 */
    A_IZ = 1u << 4,     /* imm16 or imm32 by operand size */
    A_IA = 1u << 5,     /* moffs: 16 or 32 bits by address size */
    A_IP = 1u << 6,     /* far pointer: offset (operand size) + selector */
    A_IE = 1u << 7,     /* ENTER: imm16 + imm8 */
    A_E = 1u << 8,      /* ends a block */
    A_LK = 1u << 9,     /* LOCK allowed with a memory destination */
    A_GRP3 = 1u << 10,  /* F6/F7: /0 and /1 carry an immediate */
    A_STR = 1u << 11,   /* string instruction */
    A_ZS = 1u << 12,    /* IZ sign-extended to 32 bits (Jcc/CALL/JMP rel) */
};

#define ALU6(x) \
    [(x) + 0] = A_M | A_LK, [(x) + 1] = A_M | A_LK, [(x) + 2] = A_M, [(x) + 3] = A_M, \
    [(x) + 4] = A_I8, [(x) + 5] = A_IZ

static const uint16_t one_byte[256] = {
    ALU6(0x00), ALU6(0x08), ALU6(0x10), ALU6(0x18),
    ALU6(0x20), ALU6(0x28), ALU6(0x30),
    [0x38] = A_M, [0x39] = A_M, [0x3a] = A_M, [0x3b] = A_M, [0x3c] = A_I8, [0x3d] = A_IZ,
    [0x17] = A_E,                        /* POP SS: interrupt shadow */
    [0x62] = A_M, [0x63] = A_M,
    [0x68] = A_IZ, [0x69] = A_M | A_IZ, [0x6a] = A_I8S, [0x6b] = A_M | A_I8S,
    [0x6c ... 0x6d] = A_STR | A_E, [0x6e ... 0x6f] = A_STR | A_E,
    [0x70 ... 0x7f] = A_I8S | A_E,
    [0x80] = A_M | A_I8 | A_LK, [0x81] = A_M | A_IZ | A_LK,
    [0x82] = A_M | A_I8 | A_LK, [0x83] = A_M | A_I8S | A_LK,
    [0x84 ... 0x85] = A_M, [0x86 ... 0x87] = A_M | A_LK,
    [0x88 ... 0x8f] = A_M,
    [0x9a] = A_IP | A_E, [0x9d] = A_E,
    [0xa0 ... 0xa3] = A_IA,
    [0xa4 ... 0xa7] = A_STR, [0xa8] = A_I8, [0xa9] = A_IZ, [0xaa ... 0xaf] = A_STR,
    [0xb0 ... 0xb7] = A_I8, [0xb8 ... 0xbf] = A_IZ,
    [0xc0 ... 0xc1] = A_M | A_I8, [0xc2] = A_I16 | A_E, [0xc3] = A_E,
    [0xc4 ... 0xc5] = A_M, [0xc6] = A_M | A_I8, [0xc7] = A_M | A_IZ,
    [0xc8] = A_IE, [0xca] = A_I16 | A_E, [0xcb] = A_E,
    [0xcc] = A_E, [0xcd] = A_I8 | A_E, [0xce] = A_E, [0xcf] = A_E,
    [0xd0 ... 0xd3] = A_M, [0xd4 ... 0xd5] = A_I8,
    [0xd8 ... 0xdf] = A_M,
    [0xe0 ... 0xe3] = A_I8S | A_E,
    [0xe4 ... 0xe7] = A_I8 | A_E,
    [0xe8 ... 0xe9] = A_IZ | A_ZS | A_E, [0xea] = A_IP | A_E, [0xeb] = A_I8S | A_E,
    [0xec ... 0xef] = A_E,
    [0xf1] = A_E, [0xf4] = A_E,
    [0xf6 ... 0xf7] = A_M | A_GRP3 | A_LK,
    [0xfb] = A_E,
    [0xfe ... 0xff] = A_M | A_LK,
};

static const uint16_t two_byte[256] = {
    [0x00] = A_M | A_E, [0x01] = A_M | A_E, [0x02 ... 0x03] = A_M,
    [0x06] = A_E, [0x08 ... 0x09] = A_E,
    /* SSE/MMX space: parsed so the next units only add handlers. */
    [0x0d] = A_M, [0x10 ... 0x17] = A_M, [0x18 ... 0x1f] = A_M,
    [0x20 ... 0x23] = A_M | A_E, [0x24] = A_M, [0x26] = A_M,
    [0x28 ... 0x2f] = A_M,
    [0x30] = A_E, [0x34 ... 0x35] = A_E,
    [0x40 ... 0x4f] = A_M,
    [0x50 ... 0x6f] = A_M, [0x70 ... 0x73] = A_M | A_I8, [0x74 ... 0x76] = A_M,
    [0x78 ... 0x79] = A_M, [0x7c ... 0x7f] = A_M,
    [0x80 ... 0x8f] = A_IZ | A_ZS | A_E,
    [0x90 ... 0x9f] = A_M,
    /* CPUID (A2) ends a block: it serializes, and code after it may be new. */
    [0xa1] = A_E, [0xa2] = A_E, [0xa3] = A_M, [0xa4] = A_M | A_I8, [0xa5] = A_M,
    [0xa9] = A_E, [0xaa] = A_E,
    [0xab] = A_M | A_LK, [0xac] = A_M | A_I8, [0xad] = A_M, [0xae] = A_M, [0xaf] = A_M,
    [0xb0 ... 0xb1] = A_M | A_LK, [0xb2] = A_M | A_E, [0xb3] = A_M | A_LK,
    [0xb4 ... 0xb7] = A_M, [0xb8 ... 0xb9] = A_M,
    [0xba] = A_M | A_I8 | A_LK, [0xbb] = A_M | A_LK, [0xbc ... 0xbf] = A_M,
    [0xc0 ... 0xc1] = A_M | A_LK, [0xc2] = A_M | A_I8, [0xc3] = A_M,
    [0xc4 ... 0xc6] = A_M | A_I8, [0xc7] = A_M | A_LK,
    [0xd0 ... 0xff] = A_M,
};

/* Whether LOCK is valid for this opcode / ModRM.reg (SDM vol. 2, LOCK). */
static bool lock_allowed(uint16_t op, unsigned reg)
{
    switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83:
        return reg != 7;
    case 0xf6: case 0xf7:
        return reg == 2 || reg == 3;
    case 0xfe: case 0xff:
        return reg <= 1;
    case 0x0fba:
        return reg >= 5;
    case 0x0fc7:
        return reg == 1;
    default:
        return true;
    }
}

void x86_handle_ud(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    x86_ud(c);
}

/* A #GP(0) for an instruction longer than 15 bytes, raised when it executes. */
static void handle_too_long(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    x86_gp0(c);
}

static X86Handler bind(X86Insn *i)
{
    X86Handler h;
    if ((h = x86_bind_x87(i)) || (h = x86_bind_simd(i)) || (h = x86_bind_alu(i)) || (h = x86_bind_shift(i)) || (h = x86_bind_move(i)) ||
        (h = x86_bind_string(i)) || (h = x86_bind_control(i)) || (h = x86_bind_system(i)) ||
        (h = x86_bind_seg(i)))
        return h;
    return x86_handle_ud;
}

#define NEED(n)                                                 \
    do {                                                        \
        if (p + (n) > 15)                                       \
            goto too_long;                                      \
        if (p + (n) > avail)                                    \
            return X86_DECODE_MORE;                             \
    } while (0)

static inline uint32_t get16(const uint8_t *b)
{
    return b[0] | (b[1] << 8);
}
static inline uint32_t get32(const uint8_t *b)
{
    return b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32_t)b[3] << 24);
}

/* 64-bit mode (SDM vol. 2, appendix A.2.5 and table A-1): opcodes that are invalid
 * there (i64), and those whose operand size is 64 bits by default (d64: a 66h prefix
 * makes them 16-bit) or always (f64: near branches; Intel ignores 66h for them). */
static bool invalid64(uint16_t op)
{
    switch (op) {
    case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
    case 0x27: case 0x2f: case 0x37: case 0x3f: case 0x60: case 0x61: case 0x62:
    case 0x82: case 0x9a: case 0xc4: case 0xc5: case 0xce: case 0xd4: case 0xd5:
    case 0xd6: case 0xea:
        return true;
    default:
        return false;
    }
}

static bool forced64(uint16_t op, unsigned reg)
{
    return (op >= 0x70 && op <= 0x7f) || (op >= 0x0f80 && op <= 0x0f8f) || op == 0xc2 || op == 0xc3 ||
           (op >= 0xe0 && op <= 0xe3) || op == 0xe8 || op == 0xe9 || op == 0xeb ||
           (op == 0xff && (reg == 2 || reg == 4)) || (op >= 0x0f20 && op <= 0x0f23);
}

static bool default64(uint16_t op, unsigned reg)
{
    return (op >= 0x50 && op <= 0x5f) || op == 0x68 || op == 0x6a || (op == 0x8f && reg == 0) || op == 0x9c ||
           op == 0x9d || op == 0xc8 || op == 0xc9 || (op == 0xff && reg == 6) || op == 0x0fa0 || op == 0x0fa1 ||
           op == 0x0fa8 || op == 0x0fa9;
}

/* Opcodes whose ModRM.reg is an opcode extension, not a register. */
static bool opcode_group(uint16_t op)
{
    return (op >= 0x80 && op <= 0x83) || op == 0x8f || op == 0xc0 || op == 0xc1 || op == 0xc6 || op == 0xc7 ||
           (op >= 0xd0 && op <= 0xd3) || (op >= 0xd8 && op <= 0xdf) || op == 0xf6 || op == 0xf7 || op == 0xfe ||
           op == 0xff || op == 0x0f00 || op == 0x0f01 || op == 0x0f0d || (op >= 0x0f18 && op <= 0x0f1f) ||
           (op >= 0x0f71 && op <= 0x0f73) || op == 0x0fae || op == 0x0fba || op == 0x0fc7;
}

/* Which operands of an opcode are byte registers (for the REX numbering of SPL-DIL). */
static bool byte_reg_operand(uint16_t op)
{
    return (op < 0x40 && (op & 7) <= 3 && !(op & 1)) || op == 0x84 || op == 0x86 || op == 0x88 || op == 0x8a ||
           op == 0x0fb0 || op == 0x0fc0;
}
static bool byte_rm_operand(uint16_t op)
{
    return byte_reg_operand(op) || op == 0x80 || op == 0xc0 || op == 0xc6 || op == 0xd0 || op == 0xd2 ||
           op == 0xf6 || op == 0xfe || (op >= 0x0f90 && op <= 0x0f9f) || op == 0x0fb6 || op == 0x0fbe ||
           op == 0x38f0;
}

static X86DecodeResult decode(const uint8_t *b, unsigned avail, bool code32, bool long64, X86Insn *out)
{
    X86Insn i;
    memset(&i, 0, sizeof(i));
    unsigned p = 0;
    /* In 64-bit mode the default operand size is 32 and the address size 64. */
    bool op32 = code32 || long64, ad32 = code32 && !long64, ad64 = long64;
    int seg = -1;
    uint8_t pfx = 0;
    uint8_t rex = 0;

    for (;;) {
        NEED(1);
        uint8_t x = b[p];
        /* REX counts only right before the opcode: a legacy prefix after it voids it. */
        if (long64 && (x & 0xf0) == 0x40) {
            rex = x;
            p++;
            continue;
        }
        switch (x) {
        case 0x26: seg = S_ES; break;
        case 0x2e: seg = S_CS; break;
        case 0x36: seg = S_SS; break;
        case 0x3e: seg = S_DS; break;
        case 0x64: seg = S_FS; break;
        case 0x65: seg = S_GS; break;
        case 0x66: op32 = !(code32 || long64); pfx |= X86_PFX_OPSIZE; break;
        case 0x67: ad32 = long64 || !code32; ad64 = false; break;
        case 0xf0: pfx |= X86_PFX_LOCK; break;
        /* The last of F2/F3 wins. */
        case 0xf2: pfx = (pfx & ~X86_PFX_REP) | X86_PFX_REPNE; break;
        case 0xf3: pfx = (pfx & ~X86_PFX_REPNE) | X86_PFX_REP; break;
        default: goto opcode;
        }
        rex = 0;
        p++;
    }
opcode:;
    uint16_t op = b[p++];
    uint16_t attr;
    if (op == 0x0f) {
        NEED(1);
        op = 0x0f00 | b[p++];
        attr = two_byte[op & 0xff];
        /* The three-byte maps 0F 38 and 0F 3A (opcodes 38xx and 3Axx here): every form
         * has a ModRM byte, the 0F 3A ones an imm8 too. */
        if (op == 0x0f38 || op == 0x0f3a) {
            NEED(1);
            attr = op == 0x0f3a ? A_M | A_I8 : A_M;
            op = (uint16_t)((op & 0xff) << 8 | b[p++]);
        }
    } else {
        attr = one_byte[op];
        if (long64 && invalid64(op))
            attr = 0;
    }
    if (op32)
        pfx |= X86_PFX_OP32;
    if (ad32)
        pfx |= X86_PFX_AD32;
    if (ad64)
        i.flags |= X86_INSN_AD64;
    /* Segment overrides other than FS and GS are ignored in 64-bit mode. */
    if (long64 && seg >= 0 && seg != S_FS && seg != S_GS)
        seg = -1;
    i.rex = rex;
    unsigned rex_r = (rex & 4) << 1, rex_x = (rex & 2) << 2, rex_b = (rex & 1) << 3;
    i.opcode = op;
    i.base = i.index = X86_REG_NONE;
    i.rm = X86_REG_NONE;
    i.seg = S_DS;

    if (attr & A_M) {
        NEED(1);
        uint8_t modrm = b[p++];
        unsigned mod = modrm >> 6, rm = modrm & 7;
        i.modrm = modrm;
        i.reg = (uint8_t)(((modrm >> 3) & 7) | rex_r);
        /* Where ModRM.reg extends the opcode, REX.R does nothing (SDM vol. 2, 2.2.1.2). */
        if (rex_r && opcode_group(op))
            i.reg &= 7;
        i.flags |= X86_INSN_MODRM;
        /* MOV to/from control and debug registers ignore mod (SDM vol. 2, MOV CRn). */
        bool force_reg = op >= 0x0f20 && op <= 0x0f26;
        if (mod == 3 || force_reg) {
            i.rm = (uint8_t)(rm | rex_b);
        } else {
            pfx |= X86_PFX_MEM;
            if (ad32 || ad64) {
                unsigned base = rm | rex_b;
                if (rm == 4) {
                    NEED(1);
                    uint8_t sib = b[p++];
                    i.scale = sib >> 6;
                    unsigned index = ((sib >> 3) & 7) | rex_x;
                    i.index = (uint8_t)(index == 4 ? X86_REG_NONE : index);
                    base = (sib & 7) | rex_b;
                    if ((sib & 7) == 5 && mod == 0) {
                        NEED(4);
                        i.disp = get32(b + p);
                        p += 4;
                        base = X86_REG_NONE;
                    }
                } else if (rm == 5 && mod == 0) {
                    /* disp32 alone, or in 64-bit mode RIP + disp32 (SDM vol. 2, 2.2.1.6). */
                    NEED(4);
                    i.disp = get32(b + p);
                    p += 4;
                    base = X86_REG_NONE;
                    if (long64)
                        i.flags |= X86_INSN_RIPREL;
                }
                i.base = base;
                if (base == R_ESP || base == R_EBP)
                    i.seg = S_SS;
                if (mod == 1) {
                    NEED(1);
                    i.disp = (uint32_t)(int32_t)(int8_t)b[p++];
                } else if (mod == 2) {
                    NEED(4);
                    i.disp = get32(b + p);
                    p += 4;
                }
            } else {
                static const uint8_t base16[8] = { R_EBX, R_EBX, R_EBP, R_EBP, R_ESI, R_EDI, R_EBP, R_EBX };
                static const uint8_t index16[8] = { R_ESI, R_EDI, R_ESI, R_EDI, X86_REG_NONE,
                                                    X86_REG_NONE, X86_REG_NONE, X86_REG_NONE };
                if (mod == 0 && rm == 6) {
                    NEED(2);
                    i.disp = get16(b + p);
                    p += 2;
                } else {
                    i.base = base16[rm];
                    i.index = index16[rm];
                    if (i.base == R_EBP)
                        i.seg = S_SS;
                    if (mod == 1) {
                        NEED(1);
                        i.disp = (uint32_t)(int32_t)(int8_t)b[p++];
                    } else if (mod == 2) {
                        NEED(2);
                        i.disp = get16(b + p);
                        p += 2;
                    }
                }
            }
        }
    } else if ((op >= 0x40 && op <= 0x5f) || (op >= 0x90 && op <= 0x97) || (op >= 0xb0 && op <= 0xbf) ||
               (op >= 0x0fc8 && op <= 0x0fcf)) {
        i.reg = (uint8_t)((op & 7) | rex_b);
    }
    /* With a REX prefix, byte registers 4-7 are SPL-DIL: numbered 20-23 (x86_reg8). */
    if (rex) {
        if (i.reg >= 4 && i.reg < 8 && (byte_reg_operand(op) || (op >= 0xb0 && op <= 0xb7)))
            i.reg = (uint8_t)(i.reg + 16);
        if (i.rm >= 4 && i.rm < 8 && byte_rm_operand(op))
            i.rm = (uint8_t)(i.rm + 16);
    }

    /* 64-bit operand size: REX.W, or the opcode's default. */
    bool imm64 = false;
    if (long64) {
        if ((rex & 8) || forced64(op, i.reg & 7)) {
            op32 = true;
            i.flags |= X86_INSN_OP64;
        } else if (default64(op, i.reg & 7) && op32) {
            i.flags |= X86_INSN_OP64;
        }
        pfx = (uint8_t)((pfx & ~X86_PFX_OP32) | (op32 ? X86_PFX_OP32 : 0));
        imm64 = (rex & 8) && op >= 0xb8 && op <= 0xbf;
    }

    /* Immediates. */
    unsigned isize = 0;
    if (attr & (A_I8 | A_I8S))
        isize = 1;
    else if (attr & A_I16)
        isize = 2;
    else if (attr & A_IZ)
        isize = op32 ? 4 : 2;
    else if ((attr & A_GRP3) && i.reg < 2)
        isize = op == 0xf6 ? 1 : (op32 ? 4 : 2);
    if (attr & A_IA) {
        unsigned n = ad64 ? 8 : ad32 ? 4 : 2;
        NEED(n);
        i.disp = n == 2 ? get16(b + p) : get32(b + p);
        if (n == 8) {
            i.imm = get32(b + p + 4);
            i.flags |= X86_INSN_IMM64;
        }
        p += n;
        pfx |= X86_PFX_MEM;
    } else if (imm64) {
        NEED(8);
        i.imm = get32(b + p);
        i.disp = get32(b + p + 4);
        i.flags |= X86_INSN_IMM64;
        p += 8;
    } else if (attr & A_IP) {
        unsigned n = op32 ? 4 : 2;
        NEED(n + 2);
        i.imm = n == 4 ? get32(b + p) : get16(b + p);
        i.imm2 = (uint16_t)get16(b + p + n);
        p += n + 2;
    } else if (attr & A_IE) {
        NEED(3);
        i.imm = get16(b + p);
        i.imm2 = b[p + 2];
        p += 3;
    } else if (isize) {
        NEED(isize);
        if (isize == 1)
            i.imm = (attr & A_I8S) ? (uint32_t)(int32_t)(int8_t)b[p] : b[p];
        else if (isize == 2)
            i.imm = (attr & A_ZS) ? (uint32_t)(int32_t)(int16_t)get16(b + p) : get16(b + p);
        else
            i.imm = get32(b + p);
        p += isize;
    }

    if (seg >= 0) {
        i.seg = (uint8_t)seg;
        pfx |= X86_PFX_SEG;
    }
    i.pfx = pfx;
    i.len = (uint8_t)p;
    if (attr & A_E)
        i.flags |= X86_INSN_END_BLOCK;
    if (attr & A_STR)
        i.flags |= X86_INSN_STRING;

    if ((pfx & X86_PFX_LOCK) &&
        (!(attr & A_LK) || !(pfx & X86_PFX_MEM) || !lock_allowed(op, i.reg) ||
         /* The register-destination forms of the ALU opcodes. */
         (op < 0x40 && (op & 7) >= 2))) {
        i.handler = x86_handle_ud;
    } else {
        i.handler = bind(&i);
        /* SYSCALL, SYSRET and SWAPGS exist in 64-bit mode only (SDM vol. 2). */
        bool only64 = op == 0x0f05 || op == 0x0f07 || (op == 0x0f01 && i.modrm == 0xf8);
        if (long64)
            i.handler = !only64 && (invalid64(op) || i.handler == x86_handle_ud) ? x86_handle_ud
                                                                                  : x86_bind64(&i, i.handler);
    }
    if (i.handler == x86_handle_ud || i.handler == x86_handle_64_unsupported)
        i.flags |= X86_INSN_END_BLOCK;
    *out = i;
    return X86_DECODE_OK;

too_long:
    /* SDM vol. 2, 2.3.11: more than 15 bytes raises #GP(0). */
    memset(out, 0, sizeof(*out));
    out->len = 15;
    out->handler = handle_too_long;
    out->flags = X86_INSN_END_BLOCK;
    out->base = out->index = out->rm = X86_REG_NONE;
    return X86_DECODE_TOO_LONG;
}

X86DecodeResult x86_decode(const uint8_t *b, unsigned avail, bool code32, X86Insn *out)
{
    return decode(b, avail, code32, false, out);
}

X86DecodeResult x86_decode64(const uint8_t *b, unsigned avail, X86Insn *out)
{
    return decode(b, avail, true, true, out);
}
