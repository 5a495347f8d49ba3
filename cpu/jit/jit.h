/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dynamic translator: guest x86 blocks, as the interpreter's decoder forms them,
 * compiled to x86-64 host code (design in cpu/jit/README.md). It attaches to an
 * X86Cpu and runs inside the interpreter's dispatcher, which stays the reference. */
#pragma once

#include "cpu/cpu.h"
#include "cpu/x86/x86.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct JitOptions {
    size_t cache_size;   /* bytes of host code; 0: the default (or $VIREO_JIT_CACHE) */
    bool perf_map;       /* write /tmp/perf-PID.map for perf(1) */
    bool jitdump;        /* write /tmp/jit-PID.dump for perf inject --jit */
} JitOptions;

typedef struct JitStats {
    uint64_t blocks;        /* blocks translated */
    uint64_t flushes;       /* times the code cache was emptied */
    uint64_t insns_inline;  /* instructions compiled to host code ... */
    uint64_t insns_called;  /* ... and those calling the interpreter's handler */
    uint64_t links;         /* exits chained straight to the next block's code */
    uint64_t links_kept;    /* exits found linked that way already (no code written): their guard failed */
    uint64_t kept_exit, kept_intr, kept_req; /* ... with an exit request, INTR, another request pending */
    uint64_t kept_itlb;     /* ... none, the instruction TLB entry held another page */
    uint64_t retargets;     /* exits linked anew to another target */
    uint64_t links_refused; /* exits not linked: their target changed too often ... */
    uint64_t ib_fills;      /* ... entries made in the lookup table such exits use */
    uint64_t unlinked;      /* blocks left through a chainable exit to the dispatcher */
    uint64_t code_bytes;    /* host code generated */
    uint64_t translate_ns;  /* time spent translating (-d jit-stats only) */
    uint64_t entry_interp;  /* blocks entered with a segment their entry checks changed: interpreted */
} JitStats;

/* -accel tcg: the translator (the interpreter alone on hosts it cannot generate code
 * for); -accel jit: the same, its name while it was experimental. */
extern const CpuBackend cpu_tcg_backend;
extern const CpuBackend cpu_jit_backend;

/* True when this host can run translated code; otherwise err says why. */
bool jit_supported(GError **err);
/* Makes c run its cached blocks as host code. opts may be NULL. */
bool jit_attach(X86Cpu *c, const JitOptions *opts, GError **err);
/* Back to the interpreter alone; frees the code cache. */
void jit_detach(X86Cpu *c);
void jit_get_stats(X86Cpu *c, JitStats *s);
/* With -d jit-stats: the handler calls translated code made, per opcode (0-FF, then
 * 0F00-0FFF as 100-1FF) and ModRM.reg, most frequent first; NULL otherwise. Returns
 * up to max entries as (index << 3 | reg, count). */
unsigned jit_top_calls(X86Cpu *c, unsigned max, uint32_t *which, uint64_t *count);
/* Parses a size such as 65536, 64K or 32M; 0 when invalid. */
size_t jit_parse_size(const char *s);
