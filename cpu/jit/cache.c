/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The code cache: one memfd mapped twice, a read-write view the translator writes
 * through and a read-execute view the CPU runs, so no page is ever writable and
 * executable at one address. Fixed size, filled from the start, flushed whole when a
 * block no longer fits. x86 keeps instruction fetch coherent with stores through any
 * alias (SDM vol. 3, 11.6), so no cache maintenance is needed. */
#include "cpu/jit/emit.h"

#include <glib.h>
#include <sys/mman.h>
#include <unistd.h>

struct JitCache {
    uint8_t *rw, *rx;
    size_t size, used;
    unsigned flushes;
};

JitCache *jit_cache_new(size_t size, const char **why)
{
    size = (size + 4095) & ~(size_t)4095;
    int fd = memfd_create("vireo-jit", MFD_CLOEXEC);
    if (fd < 0) {
        *why = "memfd_create failed";
        return NULL;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        close(fd);
        *why = "cannot size the code cache memfd";
        return NULL;
    }
    void *rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void *rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    close(fd);
    if (rw == MAP_FAILED || rx == MAP_FAILED) {
        if (rw != MAP_FAILED)
            munmap(rw, size);
        if (rx != MAP_FAILED)
            munmap(rx, size);
        *why = "the host refuses an executable mapping of the code cache";
        return NULL;
    }
    JitCache *jc = g_new0(JitCache, 1);
    jc->rw = rw;
    jc->rx = rx;
    jc->size = size;
    return jc;
}

void jit_cache_free(JitCache *jc)
{
    if (!jc)
        return;
    munmap(jc->rw, jc->size);
    munmap(jc->rx, jc->size);
    g_free(jc);
}

void jit_cache_begin(JitCache *jc, JitEmit *e)
{
    e->start = e->p = jc->rw + jc->used;
    e->end = jc->rw + jc->size;
    e->rx = (uintptr_t)(jc->rx + jc->used);
    e->overflow = false;
}

void *jit_cache_commit(JitCache *jc, JitEmit *e)
{
    if (e->overflow)
        return NULL;
    void *code = jc->rx + jc->used;
    /* Keep blocks 16-byte aligned for the front end's fetch. */
    jc->used = (jc->used + emit_pos(e) + 15) & ~(size_t)15;
    if (jc->used > jc->size)
        jc->used = jc->size;
    return code;
}

void jit_cache_flush(JitCache *jc)
{
    jc->used = 0;
    jc->flushes++;
}

uintptr_t jit_cache_rx(const JitCache *jc, const uint8_t *rw)
{
    return (uintptr_t)(jc->rx + (rw - jc->rw));
}

unsigned jit_cache_flushes(const JitCache *jc)
{
    return jc->flushes;
}

size_t jit_cache_size(const JitCache *jc)
{
    return jc->size;
}
