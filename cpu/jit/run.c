/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running translated code: the run_block hook the dispatcher calls for a whole
 * cached block (translating it on first use, flushing the code cache when full,
 * linking the exit the previous block left through), attaching the translator to a
 * CPU, and its counters. Design in README.md. */
#include "cpu/jit/dump.h"
#include "cpu/jit/perf.h"
#include "cpu/jit/translate.h"
#include "engine/config.h"
#include "engine/log.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The dispatcher's loop, for a block the cache cannot hold. */
unsigned jit_run_interp(X86Cpu *c, const X86Insn *insns, unsigned n)
{
    unsigned k = 0;
    c->block_start = insns; /* (a chained block's own: its guard does not store it) */
    do {
        c->prev_eip = c->eip;
        c->eip += insns[k].len;
        insns[k].handler(c, &insns[k]);
        k++;
    } while (k < n && !c->exit_block);
    return k;
}

static JitFn compile(Jit *j, X86Cpu *c, const X86Insn *insns, unsigned n, bool fresh)
{
    Tr *t = &j->tr;
    int64_t t0 = j->calls ? g_get_monotonic_time() : 0;
    JitFn fn = NULL;
    /* Inline first; a block with too many slow paths, or too big for even an empty
     * cache, is retried with calls only; one that does not fit the space left waits
     * for the flush. */
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(t, 0, sizeof(*t));
        t->c = c;
        t->j = j;
        t->w64 = c->long64; /* the mode the block was decoded in (part of its identity) */
        t->insns = t->orig = insns;
        t->n = n;
        t->known_cc = -1;
        for (unsigned k = 0; k < n; k++)
            t->off[k + 1] = t->off[k] + insns[k].len;
        jit_cache_begin(j->cache, &t->e);
        if (!jit_translate(t, attempt == 0)) {
            if (t->e.overflow && !fresh)
                break;
            continue;
        }
        void *code = jit_cache_commit(j->cache, &t->e);
        if (!code)
            continue;
        j->stats.blocks++;
        j->stats.insns_inline += t->n_inline;
        j->stats.insns_called += n - t->n_inline;
        j->stats.code_bytes += emit_pos(&t->e);
        if (j->perf)
            fprintf(j->perf, "%" PRIxPTR " %zx vireo-jit:%04x:%08" PRIx64 "\n", (uintptr_t)code, emit_pos(&t->e),
                    c->seg[S_CS].sel, c->eip); /* (RIP whole in 64-bit code) */
        if (j->jitdump) {
            char name[48];
            snprintf(name, sizeof(name), "vireo-jit:%04x:%08" PRIx64, c->seg[S_CS].sel, c->eip);
            jit_jitdump_load(code, emit_pos(&t->e), name);
        }
        if (G_UNLIKELY(vlog_mask & (LOG_IN_ASM | LOG_OUT_ASM)))
            jit_dump_block(c, insns, n, code, emit_pos(&t->e), t->host_at);
        fn = (JitFn)code;
        break;
    }
    if (j->calls)
        j->stats.translate_ns += (uint64_t)(g_get_monotonic_time() - t0) * 1000;
    return fn;
}

/* X86Cpu.run_block: the block's code, translated on first use. When the cache is
 * full, all code goes, and with it the interpreter's blocks that point into it. */
static unsigned run_block(X86Cpu *c, const X86Insn *insns, unsigned n, void **slot)
{
    Jit *j = c->jit;
    JitFn fn = (JitFn)*slot;
    JitLink from = j->link;
    j->link.site = NULL;
    if (from.site)
        j->stats.unlinked++;
    if (!fn) {
        if (n > MAX_INSNS)
            return jit_run_interp(c, insns, n);
        fn = compile(j, c, insns, n, false);
        if (!fn) {
            jit_cache_flush(j->cache);
            j->stats.flushes++;
            from.site = NULL;
            x86_code_flush_all(c);
            jit_ib_reset(j, c);
            fn = compile(j, c, insns, n, true);
            if (!fn)
                return jit_run_interp(c, insns, n);
        }
        *slot = (void *)fn;
    }
    /* The previous block left through an exit to this one: link it (exec_block calls
     * this only for whole blocks with every test of the dispatcher passed). */
    if (from.site == JIT_IB_MISS) {
        if (from.eip == c->eip)
            jit_ib_fill(j, c, n, slot, fn);
    } else if (from.site && from.eip == c->eip && from.epoch == c->chain_epoch) {
        /* (Not after a TLB flush, INVLPG, CS load or CPL change since the exit, such
         * as an interrupt and its IRET between the two blocks: the exit's block may
         * run under another mapping than this one, and an exit within its own page
         * trusts the mapping it was entered with, see jit_exit_chained.) */
        jit_chain_link(j, c, from.site, from.req, n, slot, fn);
    }
    return fn(c);
}

bool jit_supported(GError **err)
{
#if defined(__x86_64__)
    (void)err;
    return true;
#else
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "the translator generates x86-64 code; this host is not x86-64");
    return false;
#endif
}

size_t jit_parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (end == s)
        return 0;
    if (*end == 'k' || *end == 'K')
        v <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        v <<= 20, end++;
    if (*end || v > ((size_t)1 << 30))
        return 0;
    return (size_t)v;
}

bool jit_attach(X86Cpu *c, const JitOptions *opts, GError **err)
{
    if (!jit_supported(err))
        return false;
    size_t size = opts && opts->cache_size ? opts->cache_size : 0;
    const char *env = getenv("VIREO_JIT_CACHE");
    if (!size && env)
        size = jit_parse_size(env);
    if (!size)
        size = DEFAULT_CACHE_SIZE;
    const char *chain = getenv("VIREO_JIT_CHAIN");
    const char *mask = getenv("VIREO_JIT_INLINE");
    if (size < MIN_CACHE_SIZE)
        size = MIN_CACHE_SIZE;
    const char *why = NULL;
    JitCache *cache = jit_cache_new(size, &why);
    if (!cache) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "jit: %s", why);
        return false;
    }
    Jit *j = g_new0(Jit, 1);
    j->cache = cache;
    if (!jit_ib_reset(j, c)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "jit: the code cache is too small");
        jit_cache_free(cache);
        g_free(j);
        return false;
    }
    j->no_chain = chain && !strcmp(chain, "0");
    j->inline_mask = mask ? (unsigned)strtoul(mask, NULL, 0) & IN_ALL : IN_ALL;
    if (vlog_mask & LOG_JIT_STATS)
        j->calls = g_new0(uint64_t, JIT_CALL_SLOTS);
    if (opts && opts->jitdump) {
        if (!jit_jitdump_open(err)) {
            jit_cache_free(cache);
            g_free(j->calls);
            g_free(j);
            return false;
        }
        j->jitdump = true;
    }
    if (opts && opts->perf_map) {
        char path[64];
        snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
        j->perf = fopen(path, "a");
        if (j->perf)
            setvbuf(j->perf, NULL, _IOLBF, 0);
    }
    /* Blocks decoded so far have no code slot contents to trust. */
    x86_code_flush_all(c);
    c->jit = j;
    c->run_block = run_block;
    return true;
}

void jit_detach(X86Cpu *c)
{
    Jit *j = c->jit;
    if (!j)
        return;
    c->run_block = NULL;
    c->jit = NULL;
    x86_code_flush_all(c);
    if (j->perf)
        fclose(j->perf);
    if (j->jitdump)
        jit_jitdump_close();
    g_free(j->calls);
    jit_cache_free(j->cache);
    g_free(j);
}

void jit_get_stats(X86Cpu *c, JitStats *s)
{
    Jit *j = c->jit;
    if (j)
        *s = j->stats;
    else
        memset(s, 0, sizeof(*s));
}

unsigned jit_top_calls(X86Cpu *c, unsigned max, uint32_t *which, uint64_t *count)
{
    Jit *j = c->jit;
    unsigned n = 0;
    if (!j || !j->calls || !max)
        return 0;
    /* Insertion into a short sorted list: max is small. */
    for (uint32_t k = 0; k < JIT_CALL_SLOTS; k++) {
        uint64_t v = j->calls[k];
        if (!v || (n == max && v <= count[n - 1]))
            continue;
        unsigned at = n < max ? n++ : max - 1;
        while (at > 0 && count[at - 1] < v) {
            count[at] = count[at - 1];
            which[at] = which[at - 1];
            at--;
        }
        count[at] = v;
        which[at] = k;
    }
    return n;
}
