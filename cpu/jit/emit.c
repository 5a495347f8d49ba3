/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The x86-64 emitter: legacy prefix (66h), REX, opcode, ModRM/SIB/displacement
 * (SDM vol. 2, 2.1-2.2). Only the forms the translator needs. */
#include "cpu/jit/emit.h"

#include <string.h>

void emit_u8(JitEmit *e, uint8_t v)
{
    if (e->p >= e->end) {
        e->overflow = true;
        return;
    }
    *e->p++ = v;
}

void emit_u16(JitEmit *e, uint16_t v)
{
    emit_u8(e, (uint8_t)v);
    emit_u8(e, (uint8_t)(v >> 8));
}

void emit_u32(JitEmit *e, uint32_t v)
{
    emit_u16(e, (uint16_t)v);
    emit_u16(e, (uint16_t)(v >> 16));
}

void emit_u64(JitEmit *e, uint64_t v)
{
    emit_u32(e, (uint32_t)v);
    emit_u32(e, (uint32_t)(v >> 32));
}

/* 66h, REX and the opcode. rex_bits: R X B in bits 2-0. Byte operands in SPL-DIL
 * need a REX prefix to not mean AH-BH (SDM vol. 2, 3.7.2.1). */
static void prefix_opcode(JitEmit *e, unsigned size, unsigned op, unsigned rex_bits, bool byte_reg_rex)
{
    if (size == 2)
        emit_u8(e, 0x66);
    unsigned rex = rex_bits | (size == 8 ? 8u : 0u);
    if (rex || byte_reg_rex)
        emit_u8(e, (uint8_t)(0x40 | rex));
    if (op > 0xff)
        emit_u8(e, (uint8_t)(op >> 8));
    emit_u8(e, (uint8_t)op);
}

static bool needs_byte_rex(unsigned size, int r)
{
    return size == 1 && r >= 4 && r <= 7;
}

void emit_op_rr(JitEmit *e, unsigned size, unsigned op, int reg, int rm)
{
    unsigned rex = ((reg & 8) ? 4u : 0u) | ((rm & 8) ? 1u : 0u);
    /* MOVZX/MOVSX from a byte register: rm is a byte register whatever the size. */
    unsigned rm_size = op == 0x0fb6 || op == 0x0fbe ? 1 : size;
    prefix_opcode(e, size, op, rex, needs_byte_rex(size, reg) || needs_byte_rex(rm_size, rm));
    emit_u8(e, (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7)));
}

/* ModRM (reg field reg) and SIB/displacement of a memory operand. */
static void modrm_mem(JitEmit *e, int reg, JitMem m)
{
    unsigned r = (unsigned)(reg & 7) << 3;
    if (m.base == H_NONE) {
        /* [index*s + disp32] or [disp32] through a SIB with no base. */
        emit_u8(e, (uint8_t)(0x04 | r));
        unsigned idx = m.index == H_NONE ? 4u : (unsigned)(m.index & 7);
        emit_u8(e, (uint8_t)((m.scale << 6) | (idx << 3) | 5));
        emit_u32(e, (uint32_t)m.disp);
        return;
    }
    unsigned mod = m.disp == 0 && (m.base & 7) != H_RBP ? 0u : (m.disp >= -128 && m.disp <= 127) ? 1u : 2u;
    if (m.index == H_NONE && (m.base & 7) != H_RSP) {
        emit_u8(e, (uint8_t)((mod << 6) | r | (m.base & 7)));
    } else {
        /* RSP/R12 as base, or an index: a SIB byte (index 100b = none). */
        unsigned idx = m.index == H_NONE ? 4u : (unsigned)(m.index & 7);
        emit_u8(e, (uint8_t)((mod << 6) | r | 4));
        emit_u8(e, (uint8_t)((m.scale << 6) | (idx << 3) | (m.base & 7)));
    }
    if (mod == 1)
        emit_u8(e, (uint8_t)m.disp);
    else if (mod == 2)
        emit_u32(e, (uint32_t)m.disp);
}

static unsigned rex_of(int reg, JitMem m)
{
    if (m.direct)
        return ((reg & 8) ? 4u : 0u) | ((m.base & 8) ? 1u : 0u);
    return ((reg & 8) ? 4u : 0u) | ((m.index != H_NONE && (m.index & 8)) ? 2u : 0u) |
           ((m.base != H_NONE && (m.base & 8)) ? 1u : 0u);
}

void emit_op_rm(JitEmit *e, unsigned size, unsigned op, int reg, JitMem m)
{
    if (m.direct) {
        emit_op_rr(e, size, op, reg, m.base);
        return;
    }
    prefix_opcode(e, size, op, rex_of(reg, m), needs_byte_rex(size, reg));
    modrm_mem(e, reg, m);
}

void emit_sse(JitEmit *e, uint8_t pfx, bool w, uint32_t op, int reg, JitMem m)
{
    if (pfx)
        emit_u8(e, pfx);
    unsigned rex = rex_of(reg, m) | (w ? 8u : 0u);
    if (rex)
        emit_u8(e, (uint8_t)(0x40 | rex));
    if (op > 0xffff)
        emit_u8(e, (uint8_t)(op >> 16));
    emit_u8(e, (uint8_t)(op >> 8));
    emit_u8(e, (uint8_t)op);
    if (m.direct)
        emit_u8(e, (uint8_t)(0xc0 | ((reg & 7) << 3) | (m.base & 7)));
    else
        modrm_mem(e, reg, m);
}

void emit_mov_rr(JitEmit *e, unsigned size, int dst, int src)
{
    emit_op_rr(e, size, size == 1 ? 0x88 : 0x89, src, dst);
}

void emit_load(JitEmit *e, unsigned size, int dst, JitMem m)
{
    if (size == 1)
        emit_op_rm(e, 4, 0x0fb6, dst, m);
    else if (size == 2)
        emit_op_rm(e, 4, 0x0fb7, dst, m);
    else
        emit_op_rm(e, size, 0x8b, dst, m);
}

void emit_store(JitEmit *e, unsigned size, JitMem m, int src)
{
    emit_op_rm(e, size, size == 1 ? 0x88 : 0x89, src, m);
}

void emit_store_imm(JitEmit *e, unsigned size, JitMem m, uint32_t imm)
{
    emit_op_rm(e, size, size == 1 ? 0xc6 : 0xc7, 0, m);
    if (size == 1)
        emit_u8(e, (uint8_t)imm);
    else if (size == 2)
        emit_u16(e, (uint16_t)imm);
    else
        emit_u32(e, imm);
}

void emit_mov_ri32(JitEmit *e, int dst, uint32_t imm)
{
    if (dst & 8)
        emit_u8(e, 0x41);
    emit_u8(e, (uint8_t)(0xb8 + (dst & 7)));
    emit_u32(e, imm);
}

void emit_mov_ri64(JitEmit *e, int dst, uint64_t imm)
{
    if (imm <= 0xffffffffu) {
        emit_mov_ri32(e, dst, (uint32_t)imm); /* zero-extends */
        return;
    }
    emit_u8(e, (uint8_t)(0x48 | ((dst & 8) ? 1 : 0)));
    emit_u8(e, (uint8_t)(0xb8 + (dst & 7)));
    emit_u64(e, imm);
}

void emit_lea(JitEmit *e, unsigned size, int dst, JitMem m)
{
    emit_op_rm(e, size, 0x8d, dst, m);
}

void emit_alu_rr(JitEmit *e, unsigned size, unsigned aluop, int dst, int src)
{
    emit_op_rr(e, size, (aluop << 3) | (size == 1 ? 0u : 1u), src, dst);
}

void emit_alu_rm(JitEmit *e, unsigned size, unsigned aluop, int dst, JitMem m)
{
    emit_op_rm(e, size, (aluop << 3) | (size == 1 ? 2u : 3u), dst, m);
}

static void alu_imm_tail(JitEmit *e, unsigned size, uint32_t imm, bool short_imm)
{
    if (size == 1 || short_imm)
        emit_u8(e, (uint8_t)imm);
    else if (size == 2)
        emit_u16(e, (uint16_t)imm);
    else
        emit_u32(e, imm);
}

static bool fits_i8(unsigned size, uint32_t imm)
{
    int32_t v = size == 2 ? (int16_t)imm : (int32_t)imm;
    return size != 1 && v >= -128 && v <= 127;
}

void emit_alu_ri(JitEmit *e, unsigned size, unsigned aluop, int dst, uint32_t imm)
{
    bool s8 = fits_i8(size, imm);
    emit_op_rr(e, size, size == 1 ? 0x80 : s8 ? 0x83 : 0x81, (int)aluop, dst);
    alu_imm_tail(e, size, imm, s8);
}

void emit_alu_mi(JitEmit *e, unsigned size, unsigned aluop, JitMem m, uint32_t imm)
{
    bool s8 = fits_i8(size, imm);
    emit_op_rm(e, size, size == 1 ? 0x80 : s8 ? 0x83 : 0x81, (int)aluop, m);
    alu_imm_tail(e, size, imm, s8);
}

void emit_test_rr(JitEmit *e, unsigned size, int a, int b)
{
    emit_op_rr(e, size, size == 1 ? 0x84 : 0x85, b, a);
}

void emit_shift_ri(JitEmit *e, unsigned size, unsigned sub, int dst, unsigned count)
{
    emit_op_rr(e, size, size == 1 ? 0xc0 : 0xc1, (int)sub, dst);
    emit_u8(e, (uint8_t)count);
}

void emit_movzx(JitEmit *e, unsigned from, int dst, int src)
{
    emit_op_rr(e, 4, from == 1 ? 0x0fb6 : 0x0fb7, dst, src);
}

void emit_setcc(JitEmit *e, unsigned cc, int r)
{
    emit_op_rr(e, 1, 0x0f90 | cc, 0, r);
    emit_movzx(e, 1, r, r);
}

void emit_push(JitEmit *e, int r)
{
    if (r & 8)
        emit_u8(e, 0x41);
    emit_u8(e, (uint8_t)(0x50 + (r & 7)));
}

void emit_pop(JitEmit *e, int r)
{
    if (r & 8)
        emit_u8(e, 0x41);
    emit_u8(e, (uint8_t)(0x58 + (r & 7)));
}

void emit_ret(JitEmit *e)
{
    emit_u8(e, 0xc3);
}

void emit_call(JitEmit *e, const void *fn)
{
    intptr_t next = (intptr_t)(e->rx + emit_pos(e) + 5);
    intptr_t rel = (intptr_t)fn - next;
    if (rel >= INT32_MIN && rel <= INT32_MAX) {
        emit_u8(e, 0xe8);
        emit_u32(e, (uint32_t)(int32_t)rel);
        return;
    }
    emit_mov_ri64(e, H_RAX, (uint64_t)(uintptr_t)fn);
    emit_u8(e, 0xff); /* CALL RAX: FF /2 */
    emit_u8(e, 0xd0);
}

size_t emit_jcc_fwd(JitEmit *e, unsigned cc)
{
    emit_u8(e, 0x0f);
    emit_u8(e, (uint8_t)(0x80 | cc));
    size_t at = emit_pos(e);
    emit_u32(e, 0);
    return at;
}

size_t emit_jmp_fwd(JitEmit *e)
{
    emit_u8(e, 0xe9);
    size_t at = emit_pos(e);
    emit_u32(e, 0);
    return at;
}

void emit_patch(JitEmit *e, size_t field, size_t target)
{
    if (e->overflow || field + 4 > (size_t)(e->end - e->start))
        return;
    int32_t rel = (int32_t)((intptr_t)target - (intptr_t)(field + 4));
    memcpy(e->start + field, &rel, 4);
}

void emit_jcc_to(JitEmit *e, unsigned cc, size_t target)
{
    emit_patch(e, emit_jcc_fwd(e, cc), target);
}

void emit_jmp_to(JitEmit *e, size_t target)
{
    emit_patch(e, emit_jmp_fwd(e), target);
}
