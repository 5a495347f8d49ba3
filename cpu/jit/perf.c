/* SPDX-License-Identifier: GPL-2.0-or-later */
/* perf's jitdump file (tools/perf/Documentation/jitdump-specification.txt in the
 * kernel tree): /tmp/jit-PID.dump, a header and one JIT_CODE_LOAD record per compiled
 * block with its host address, size, name and code bytes. `perf record -k mono`
 * notices the file because its first page is mapped executable here (the MMAP event
 * names it); `perf inject --jit` then writes an ELF image per record and points the
 * samples at them, so `perf report` names translated blocks, which the memfd mapping
 * they run from does not allow (perf takes samples there as offsets in
 * memfd:vireo-jit and reads no /tmp/perf-PID.map for it).
 *
 * One file per process (perf looks for jit-PID.dump): every vCPU thread's translator
 * appends to it under a lock; timestamps are CLOCK_MONOTONIC, hence `-k mono`. */
#include "cpu/jit/perf.h"
#include "engine/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define JITDUMP_MAGIC 0x4A695444u /* "JiTD" in the writer's byte order */
#define JITDUMP_VERSION 1
#define JIT_CODE_LOAD 0
#define JIT_CODE_CLOSE 3
#define EM_X86_64_MACH 62

typedef struct JitDumpHeader {
    uint32_t magic, version, total_size, elf_mach, pad1, pid;
    uint64_t timestamp, flags;
} JitDumpHeader;

typedef struct JitDumpPrefix {
    uint32_t id, total_size;
    uint64_t timestamp;
} JitDumpPrefix;

typedef struct JitDumpLoad {
    JitDumpPrefix p;
    uint32_t pid, tid;
    uint64_t vma, code_addr, code_size, code_index;
    /* then the name (NUL-terminated) and the code bytes */
} JitDumpLoad;

G_STATIC_ASSERT(sizeof(JitDumpHeader) == 40);
G_STATIC_ASSERT(sizeof(JitDumpLoad) == 56);

static GMutex dump_lock;
static FILE *dump_file;
static void *dump_mark;
static size_t dump_mark_size;
static unsigned dump_users;
static uint64_t dump_index;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char *jit_jitdump_path(void)
{
    return g_strdup_printf("/tmp/jit-%d.dump", (int)getpid());
}

bool jit_jitdump_open(GError **err)
{
    g_mutex_lock(&dump_lock);
    if (dump_users++) {
        g_mutex_unlock(&dump_lock);
        return true;
    }
    g_autofree char *path = jit_jitdump_path();
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
    JitDumpHeader h = {
        .magic = JITDUMP_MAGIC, .version = JITDUMP_VERSION, .total_size = sizeof(h),
        .elf_mach = EM_X86_64_MACH, .pid = (uint32_t)getpid(), .timestamp = mono_ns(),
    };
    if (!f || fwrite(&h, sizeof(h), 1, f) != 1 || fflush(f)) {
        int e = errno;
        if (f)
            fclose(f);
        else if (fd >= 0)
            close(fd);
        dump_users = 0;
        g_mutex_unlock(&dump_lock);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "jit: cannot write %s: %s", path, g_strerror(e));
        return false;
    }
    /* perf record learns of the file from this executable mapping (its MMAP event). */
    dump_mark_size = (size_t)sysconf(_SC_PAGESIZE);
    dump_mark = mmap(NULL, dump_mark_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    if (dump_mark == MAP_FAILED)
        dump_mark = NULL;
    dump_file = f;
    dump_index = 0;
    g_mutex_unlock(&dump_lock);
    return true;
}

void jit_jitdump_load(const void *code, size_t size, const char *name)
{
    g_mutex_lock(&dump_lock);
    if (dump_file) {
        size_t len = strlen(name) + 1;
        JitDumpLoad r = {
            .p = { .id = JIT_CODE_LOAD, .total_size = (uint32_t)(sizeof(r) + len + size), .timestamp = mono_ns() },
            .pid = (uint32_t)getpid(), .tid = (uint32_t)gettid(),
            .vma = (uint64_t)(uintptr_t)code, .code_addr = (uint64_t)(uintptr_t)code,
            .code_size = size, .code_index = dump_index++,
        };
        /* Flushed per record: the file is whole up to the last block if the process
         * is killed. */
        if (fwrite(&r, sizeof(r), 1, dump_file) != 1 || fwrite(name, len, 1, dump_file) != 1 ||
            fwrite(code, size, 1, dump_file) != 1 || fflush(dump_file)) {
            /* A full disk: stop rather than leave a torn record behind more records. */
            fclose(dump_file);
            dump_file = NULL;
        }
    }
    g_mutex_unlock(&dump_lock);
}

void jit_jitdump_close(void)
{
    g_mutex_lock(&dump_lock);
    if (dump_users && !--dump_users) {
        if (dump_file) {
            JitDumpPrefix p = { .id = JIT_CODE_CLOSE, .total_size = sizeof(p), .timestamp = mono_ns() };
            fwrite(&p, sizeof(p), 1, dump_file);
            fclose(dump_file);
            dump_file = NULL;
        }
        if (dump_mark)
            munmap(dump_mark, dump_mark_size);
        dump_mark = NULL;
    }
    g_mutex_unlock(&dump_lock);
}
