/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The debugger's side of the CPU (cpu/cpu-debug.h): breakpoints on linear code
 * addresses, watchpoints on the linear addresses of data accesses, single step, and the
 * reason of the last stop. The dispatcher (exec.c) tests them only while code_bp has
 * X86_CODE_BP_DEBUGGER; watchpoints ride on the slow memory path that DR7's data
 * breakpoints use (data_bp), so without a debugger nothing here runs. */
#include "cpu/x86/cpu-internal.h"
#include "cpu/cpu.h"
#include "engine/config.h"

void x86_debug_refresh(X86Cpu *c)
{
    bool active = c->dbg_nbp || c->dbg_nwp || c->dbg_step || c->dbg_skip || c->dbg_pending;
    c->code_bp = (uint8_t)((c->code_bp & X86_CODE_BP_DR) | (active ? X86_CODE_BP_DEBUGGER : 0));
}

int x86_debug_bp_find(const X86Cpu *c, uint64_t lin)
{
    for (unsigned k = 0; k < c->dbg_nbp; k++)
        if (c->dbg_bp[k].addr == lin)
            return (int)k;
    return -1;
}

bool x86_debug_bp_in_range(const X86Cpu *c, uint64_t lin, uint32_t len)
{
    for (unsigned k = 0; k < c->dbg_nbp; k++)
        if (c->dbg_bp[k].addr - lin < len)
            return true;
    return false;
}

void x86_debug_set_stop(X86Cpu *c, CpuDebugStopReason reason, CpuDebugKind kind, uint64_t addr)
{
    c->dbg_stop = (CpuDebugStop){ .reason = reason, .kind = kind, .addr = addr };
    c->dbg_pending = 1;
    c->exit_block = 1;
    x86_debug_refresh(c);
}

void x86_debug_check_watch(X86Cpu *c, uint64_t lin, unsigned size, bool write)
{
    if (c->dbg_pending)
        return;
    for (unsigned k = 0; k < c->dbg_nwp; k++) {
        const X86DebugPoint *w = &c->dbg_wp[k];
        if ((w->kind == CPU_DEBUG_WATCH_WRITE && !write) || (w->kind == CPU_DEBUG_WATCH_READ && write))
            continue;
        /* Overlap of [lin, lin + size) and [addr, addr + len). */
        if (lin < w->addr + w->len && w->addr < lin + size) {
            /* The instruction completes; the stop is reported after it, as for a data
             * breakpoint's trap. */
            x86_debug_set_stop(c, CPU_DEBUG_STOP_WATCH, (CpuDebugKind)w->kind, w->addr);
            return;
        }
    }
}

bool x86_cpu_debug_insert(X86Cpu *c, CpuDebugKind kind, uint64_t addr, uint32_t len, GError **err)
{
    bool is_bp = kind == CPU_DEBUG_BREAK_SW || kind == CPU_DEBUG_BREAK_HW;
    if (!is_bp && (kind > CPU_DEBUG_WATCH_ACCESS || len == 0 || len > 4096)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "a watchpoint covers 1 to 4096 bytes (got %u)", len);
        return false;
    }
    X86DebugPoint *table = is_bp ? c->dbg_bp : c->dbg_wp;
    unsigned *n = is_bp ? &c->dbg_nbp : &c->dbg_nwp;
    if (*n >= CPU_DEBUG_MAX_POINTS) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "at most %d %s at once", CPU_DEBUG_MAX_POINTS,
                    is_bp ? "breakpoints" : "watchpoints");
        return false;
    }
    table[(*n)++] = (X86DebugPoint){ .addr = addr, .len = is_bp ? 1 : len, .kind = (uint8_t)kind };
    x86_update_debug(c);
    return true;
}

bool x86_cpu_debug_remove(X86Cpu *c, CpuDebugKind kind, uint64_t addr, uint32_t len)
{
    bool is_bp = kind == CPU_DEBUG_BREAK_SW || kind == CPU_DEBUG_BREAK_HW;
    X86DebugPoint *table = is_bp ? c->dbg_bp : c->dbg_wp;
    unsigned *n = is_bp ? &c->dbg_nbp : &c->dbg_nwp;
    for (unsigned k = 0; k < *n; k++) {
        if (table[k].kind == kind && table[k].addr == addr && (is_bp || table[k].len == len)) {
            table[k] = table[--*n];
            x86_update_debug(c);
            return true;
        }
    }
    return false;
}

void x86_cpu_debug_remove_all(X86Cpu *c)
{
    c->dbg_nbp = c->dbg_nwp = 0;
    c->dbg_step = 0;
    x86_update_debug(c);
}

void x86_cpu_debug_resume(X86Cpu *c, bool step)
{
    c->dbg_pending = 0;
    c->dbg_step = step;
    c->dbg_skip = 1;
    c->dbg_skip_lin = c->seg[S_CS].base + c->eip;
    c->dbg_stop = (CpuDebugStop){ .reason = CPU_DEBUG_STOP_NONE };
    x86_debug_refresh(c);
}

void x86_cpu_debug_stop_info(X86Cpu *c, CpuDebugStop *out)
{
    *out = c->dbg_stop;
}

/* ---- CpuDebugOps for the interp and tcg back ends ---- */

static bool ops_insert(Vcpu *v, CpuDebugKind kind, uint64_t addr, uint64_t len, GError **err)
{
    if (len > UINT32_MAX) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "a length of 0x%" G_GINT64_MODIFIER "x is too long", len);
        return false;
    }
    return x86_cpu_debug_insert(v->cpu, kind, addr, (uint32_t)len, err);
}

static bool ops_remove(Vcpu *v, CpuDebugKind kind, uint64_t addr, uint64_t len)
{
    if (len > UINT32_MAX)
        return false;
    return x86_cpu_debug_remove(v->cpu, kind, addr, (uint32_t)len);
}

static void ops_remove_all(Vcpu *v)
{
    x86_cpu_debug_remove_all(v->cpu);
}

static void ops_resume(Vcpu *v, bool step)
{
    x86_cpu_debug_resume(v->cpu, step);
}

static void ops_stop_info(Vcpu *v, CpuDebugStop *out)
{
    x86_cpu_debug_stop_info(v->cpu, out);
}

static bool ops_translate(Vcpu *v, uint64_t lin, uint64_t *phys)
{
    return x86_cpu_debug_translate(v->cpu, lin, phys);
}

const CpuDebugOps x86_debug_ops = {
    .insert = ops_insert,
    .remove = ops_remove,
    .remove_all = ops_remove_all,
    .resume = ops_resume,
    .stop_info = ops_stop_info,
    .translate = ops_translate,
};
