/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the input is an image file. It is probed, opened read-only, read
 * (start, middle, end), its allocation walked and, for qcow2, its snapshot table listed
 * and its metadata checked. Every other input also gets a writable open with a few
 * writes, a discard, a flush and a repair, on a private copy. Nothing may crash, leak,
 * hang or trip a sanitizer; errors are expected and ignored. Backing files stay closed
 * so the input cannot make the target read other files. */
#include "disks/block.h"
#include "disks/qcow2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define READ_CHUNK 65536

static int image_fd(const char *name, const uint8_t *data, size_t size, char *path, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

static void read_some(BlockImage *img, uint8_t *buf)
{
    uint64_t size = block_size(img);
    uint64_t at[] = { 0, READ_CHUNK, size / 2, size > READ_CHUNK ? size - READ_CHUNK : 0 };
    for (size_t i = 0; i < G_N_ELEMENTS(at); i++) {
        if (at[i] >= size)
            continue;
        uint64_t n = size - at[i] < READ_CHUNK ? size - at[i] : READ_CHUNK;
        block_pread(img, at[i], buf, (size_t)n, NULL);
    }
    /* The allocation map of the first 64 MiB, bounded in steps. */
    uint64_t off = 0, end = size < (64u << 20) ? size : (64u << 20);
    for (int steps = 0; off < end && steps < 4096; steps++) {
        BlockStatus st;
        if (!block_get_status_above(img, NULL, off, end - off, &st, NULL))
            break;
        off += st.length;
    }
}

static void inspect(const char *path, bool writable, uint8_t *buf)
{
    BlockOpenOptions o = { .read_only = !writable, .no_backing = true };
    BlockImage *img = block_open(path, &o, NULL);
    if (!img)
        return;
    read_some(img, buf);
    if (qcow2_get_format_info(img, &(Qcow2FormatInfo){ 0 })) {
        GPtrArray *snaps = qcow2_snapshot_list(img, NULL);
        if (snaps)
            g_ptr_array_free(snaps, TRUE);
        Qcow2CheckResult r;
        qcow2_check(img, QCOW2_REPAIR_NONE, &r, NULL, NULL, NULL);
    }
    if (writable) {
        uint64_t size = block_size(img);
        memset(buf, 0x5a, READ_CHUNK);
        if (size >= 4096) {
            block_pwrite(img, 0, buf, 4096, NULL);
            block_pwrite(img, (size / 2) & ~4095ULL, buf, 4096, NULL);
            block_write_zeroes(img, 0, size < (1u << 20) ? size : (1u << 20), true, NULL);
            block_discard(img, size / 4, size / 4, NULL);
        }
        block_flush(img, NULL);
        read_some(img, buf);
    }
    block_close(img, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *buf;
    if (!buf)
        buf = g_malloc(READ_CHUNK);
    char path[64];
    int fd = image_fd("fuzz-ro", data, size, path, sizeof(path));
    inspect(path, false, buf);
    /* Read-only opens never write: the file is unchanged. */
    uint8_t *after = g_malloc(size ? size : 1);
    if (pread(fd, after, size, 0) != (ssize_t)size || memcmp(after, data, size))
        abort();
    g_free(after);
    close(fd);
    if (size && (data[size - 1] & 1)) {
        fd = image_fd("fuzz-rw", data, size, path, sizeof(path));
        inspect(path, true, buf);
        /* A repair open must also leave a consistent (or refused) image behind. */
        BlockOpenOptions o = { .check_mode = true, .no_backing = true };
        BlockImage *img = block_open(path, &o, NULL);
        if (img) {
            Qcow2CheckResult r;
            if (qcow2_get_format_info(img, &(Qcow2FormatInfo){ 0 }))
                qcow2_check(img, QCOW2_REPAIR_ALL, &r, NULL, NULL, NULL);
            block_close(img, NULL);
        }
        close(fd);
    }
    return 0;
}
