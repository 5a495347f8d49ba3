/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host side of an image: a regular file or a block device, with full-length reads and
 * writes, flushes, hole punching and zeroing. Used by the format drivers only. */
#pragma once

#include <glib.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Image locking, interoperable with QEMU's (block/file-posix.c since 2.10): shared OFD
 * locks on single bytes of the file, 100 + i while holding permission i and 200 + i
 * while refusing to share it, for QEMU's permissions 0 consistent read, 1 write,
 * 2 write unchanged, 3 resize. An open first locks its own bytes, then fails if another
 * open file holds a byte that conflicts: 200 + i for a permission it wants, 100 + i for
 * one it will not share. */
typedef enum {
    HOST_LOCK_NONE,    /* locking=off: no locks, no checks */
    HOST_LOCK_SHARED,  /* read; anyone may write meanwhile (force-share) */
    HOST_LOCK_READ,    /* read; nobody may write or resize meanwhile */
    HOST_LOCK_WRITE,   /* read, write, resize; nobody else may write or resize */
} HostLockMode;

typedef struct HostFile {
    int fd;
    char *filename;
    bool read_only;
    bool is_block_device;
    bool direct;          /* opened with O_DIRECT: misaligned requests are bounced */
    bool ignore_flush;    /* cache=unsafe */
    bool write_through;   /* flush after every write */
    bool punch_works;     /* fallocate(PUNCH_HOLE) has not failed yet */
    bool zero_range_works;
    /* The format does not need the file's exact size (qcow2): a misaligned O_DIRECT write
     * at the end may leave its block's zero padding instead of truncating it off. */
    bool padding_ok;
    /* Requests run on several threads at once. A write that grows the file raises
     * size_wanted before it starts, and nothing that shrinks the file goes below it, so
     * a trim never cuts off data another thread is landing past the trim point. */
    GMutex size_lock;
    uint64_t size_wanted;  /* the file size the writes so far call for */
    /* O_DIRECT only: the 4 KiB blocks that changes in flight cover. A misaligned write
     * reads whole blocks, patches them and writes them back; nothing else may change
     * those blocks meanwhile, or the write-back undoes it. */
    GMutex range_lock;
    GCond range_cond;
    GArray *ranges;        /* HostRange */
    uint64_t range_serial;
} HostFile;

/* A lock conflict fails with BLOCK_ERROR_LOCKED and one line naming the image and, when
 * /proc tells, the process that holds it. */
HostFile *host_file_open(const char *filename, bool read_only, bool direct, HostLockMode lock,
                         GError **err);
void host_file_close(HostFile *f);

/* Reads exactly len bytes; reaching the end of the file is an error (metadata). */
bool host_file_pread(HostFile *f, uint64_t offset, void *buf, size_t len, GError **err);
/* Reads len bytes; what lies past the end of the file reads as zeros (guest data). */
bool host_file_pread_zero_fill(HostFile *f, uint64_t offset, void *buf, size_t len,
                               GError **err);
bool host_file_pwrite(HostFile *f, uint64_t offset, const void *buf, size_t len, GError **err);
bool host_file_pwritev(HostFile *f, uint64_t offset, const struct iovec *iov, int iovcnt,
                       GError **err);
/* fdatasync, unless the file was opened for cache=unsafe. */
bool host_file_flush(HostFile *f, GError **err);
bool host_file_size(HostFile *f, uint64_t *size, GError **err);
/* Sets the size outright; only while no other request on f is in flight (resize). */
bool host_file_truncate(HostFile *f, uint64_t size, GError **err);
/* Grows the file to at least size; never shrinks it, whatever runs concurrently. */
bool host_file_extend(HostFile *f, uint64_t size, GError **err);
/* Bytes of host storage in use (st_blocks). */
uint64_t host_file_allocated_bytes(HostFile *f);
/* Releases the range's storage if the host can; no error when it cannot. The range reads
 * as zeros afterwards only when *zeroed comes back true. */
bool host_file_discard(HostFile *f, uint64_t offset, uint64_t len, bool *zeroed, GError **err);
/* Makes the range read as zeros, by the cheapest means the host offers. */
bool host_file_write_zeroes(HostFile *f, uint64_t offset, uint64_t len, bool may_unmap,
                            GError **err);
/* Reserves storage for the range (posix_fallocate), or writes zeros when full is set. */
bool host_file_preallocate(HostFile *f, uint64_t offset, uint64_t len, bool full, GError **err);
/* Whether offset lies in data or in a hole, and how far that lasts (at most max_len). */
bool host_file_data_status(HostFile *f, uint64_t offset, uint64_t max_len, bool *is_data,
                           uint64_t *len, GError **err);

/* A zero-filled buffer of at least len bytes (len up to 2 MiB), shared and read-only. */
const void *host_zero_buffer(size_t len);
/* True if len bytes at buf are all zero. */
bool host_buffer_is_zero(const void *buf, size_t len);
