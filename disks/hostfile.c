/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "disks/hostfile.h"

#include "disks/block.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define ZERO_BUFFER_SIZE (2u * 1024 * 1024)
/* O_DIRECT needs aligned buffers, offsets and lengths: 4 KiB satisfies every host. */
#define DIRECT_ALIGN 4096u

/* A change in flight on an O_DIRECT file (see HostFile.ranges). */
typedef struct HostRange {
    uint64_t start, end;   /* whole blocks */
    bool rmw;
    uint64_t serial;
} HostRange;


static void set_errno_error(GError **err, int errnum, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void set_errno_error(GError **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, BLOCK_ERROR, errnum == ENOSPC ? BLOCK_ERROR_NO_SPACE : BLOCK_ERROR_IO,
                "%s: %s", what, g_strerror(errnum));
    g_free(what);
}

/* Image locking (see HostLockMode) -----------------------------------------------------*/

#define LOCK_PERM_BASE 100
#define LOCK_SHARED_BASE 200
#define PERM_READ (1u << 0)      /* QEMU's BLK_PERM_CONSISTENT_READ */
#define PERM_WRITE (1u << 1)     /* BLK_PERM_WRITE */
#define PERM_RESIZE (1u << 3)    /* BLK_PERM_RESIZE */
#define PERM_ALL 0xfu            /* BLK_PERM_ALL as of QEMU 7.2 (no GRAPH_MOD any more) */

static const char *const perm_names[] = { "consistent read", "write", "write unchanged",
                                          "resize" };

/* What QEMU's file node asks for and shares under each mode. */
static void lock_perms(HostLockMode mode, unsigned *perm, unsigned *shared)
{
    switch (mode) {
    case HOST_LOCK_SHARED:
        *perm = PERM_READ;
        *shared = PERM_ALL;
        break;
    case HOST_LOCK_READ:
        *perm = PERM_READ;
        *shared = PERM_ALL & ~(PERM_WRITE | PERM_RESIZE);
        break;
    case HOST_LOCK_WRITE:
        *perm = PERM_READ | PERM_WRITE | PERM_RESIZE;
        *shared = PERM_ALL & ~(PERM_WRITE | PERM_RESIZE);
        break;
    default:
        *perm = 0;
        *shared = PERM_ALL;
        break;
    }
}

/* A shared lock on one byte; QEMU never takes exclusive ones, so this only fails where
 * the host offers no OFD locks. */
static int lock_byte(int fd, off_t byte)
{
    struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
    while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* Whether another open file holds a lock on byte (ours are invisible to the test). */
static bool byte_held(int fd, off_t byte)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return false;
    return fl.l_type != F_UNLCK;
}

/* Whether an fdinfo "lock:" line is an OFD lock on (dev, ino) covering byte. */
static bool lock_line_covers(const char *line, dev_t dev, ino_t ino, off_t byte)
{
    const char *p = strstr(line, "OFDLCK");
    unsigned maj, min;
    unsigned long long inode;
    long long start;
    char end[32];
    if (!p || sscanf(p, "OFDLCK %*s %*s %*d %x:%x:%llu %lld %31s", &maj, &min, &inode, &start,
                     end) != 5)
        return false;
    if (maj != major(dev) || min != minor(dev) || inode != (unsigned long long)ino)
        return false;
    return byte >= start && (!strcmp(end, "EOF") || byte <= g_ascii_strtoll(end, NULL, 10));
}

/* "qemu-system-x86 (pid 4242)" for a process with a lock on byte of the file, as far
 * as /proc shows (other users' processes do not show); NULL if none is found. */
static char *lock_holder(HostFile *f, off_t byte)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return NULL;
    GDir *procs = g_dir_open("/proc", 0, NULL);
    if (!procs)
        return NULL;
    char *found = NULL;
    const char *pid;
    while (!found && (pid = g_dir_read_name(procs))) {
        if (!g_ascii_isdigit(pid[0]))
            continue;
        char *fddir = g_build_filename("/proc", pid, "fd", NULL);
        GDir *fds = g_dir_open(fddir, 0, NULL);
        const char *fd;
        while (!found && fds && (fd = g_dir_read_name(fds))) {
            char *link = g_build_filename(fddir, fd, NULL);
            struct stat t;
            bool same = stat(link, &t) == 0 && t.st_dev == st.st_dev && t.st_ino == st.st_ino;
            g_free(link);
            if (!same)
                continue;
            char *info_path = g_build_filename("/proc", pid, "fdinfo", fd, NULL);
            char *info = NULL;
            if (g_file_get_contents(info_path, &info, NULL, NULL)) {
                gchar **lines = g_strsplit(info, "\n", -1);
                for (gchar **l = lines; *l && !found; l++) {
                    if (!g_str_has_prefix(*l, "lock:") ||
                        !lock_line_covers(*l, st.st_dev, st.st_ino, byte))
                        continue;
                    char *comm_path = g_build_filename("/proc", pid, "comm", NULL);
                    char *comm = NULL;
                    if (g_file_get_contents(comm_path, &comm, NULL, NULL))
                        g_strstrip(comm);
                    bool self = (pid_t)g_ascii_strtoll(pid, NULL, 10) == getpid();
                    found = g_strdup_printf("%s (pid %s%s)", comm ? comm : "a process", pid,
                                            self ? ", this very process" : "");
                    g_free(comm);
                    g_free(comm_path);
                }
                g_strfreev(lines);
            }
            g_free(info);
            g_free(info_path);
        }
        if (fds)
            g_dir_close(fds);
        g_free(fddir);
    }
    g_dir_close(procs);
    return found;
}

/* Locks f as QEMU would, then looks for conflicts the way QEMU does (wanted permissions
 * first, then the ones not shared); on a conflict the error names the holder. */
static bool lock_image(HostFile *f, HostLockMode mode, GError **err)
{
    unsigned perm, shared;
    lock_perms(mode, &perm, &shared);
    for (unsigned i = 0; i < G_N_ELEMENTS(perm_names); i++) {
        int r = 0;
        if (perm & (1u << i))
            r = lock_byte(f->fd, LOCK_PERM_BASE + i);
        if (!r && !(shared & (1u << i)))
            r = lock_byte(f->fd, LOCK_SHARED_BASE + i);
        if (r == -EINVAL || r == -ENOSYS || r == -EOPNOTSUPP)
            return true; /* no OFD locks on this host or file system: QEMU cannot lock either */
        if (r) {
            set_errno_error(err, -r, "%s: cannot lock byte %u", f->filename,
                            (perm & (1u << i)) ? LOCK_PERM_BASE + i : LOCK_SHARED_BASE + i);
            return false;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < G_N_ELEMENTS(perm_names); i++) {
            bool check = pass == 0 ? (perm & (1u << i)) != 0 : (shared & (1u << i)) == 0;
            off_t byte = (pass == 0 ? LOCK_SHARED_BASE : LOCK_PERM_BASE) + i;
            if (!check || !byte_held(f->fd, byte))
                continue;
            /* QEMU's own words last, so its users recognise the situation. */
            char *holder = lock_holder(f, byte);
            if (pass == 0)
                g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_LOCKED,
                            "'%s' is in use by %s, which lets nobody else %s it: "
                            "Failed to get \"%s\" lock", f->filename,
                            holder ? holder : "another process",
                            i == 0 ? "read" : i == 3 ? "resize" : "write to", perm_names[i]);
            else
                g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_LOCKED,
                            "'%s' is in use by %s, which holds it for %s: "
                            "Failed to get shared \"%s\" lock", f->filename,
                            holder ? holder : "another process",
                            i == 1 ? "writing" : i == 3 ? "resizing" : perm_names[i],
                            perm_names[i]);
            g_free(holder);
            return false;
        }
    }
    return true;
}

HostFile *host_file_open(const char *filename, bool read_only, bool direct, HostLockMode lock,
                         GError **err)
{
    int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (direct)
        flags |= O_DIRECT;
    int fd = open(filename, flags);
    if (fd < 0 && direct && errno == EINVAL) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: the host file system does not support cache=none (O_DIRECT)", filename);
        return NULL;
    }
    if (fd < 0) {
        int e = errno;
        g_set_error(err, BLOCK_ERROR, e == ENOENT ? BLOCK_ERROR_NOT_FOUND : BLOCK_ERROR_IO,
                    "Could not open '%s': %s", filename, g_strerror(e));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        set_errno_error(err, errno, "Could not stat '%s'", filename);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "'%s' is neither a regular file nor a block device", filename);
        close(fd);
        return NULL;
    }
    HostFile *f = g_new0(HostFile, 1);
    f->fd = fd;
    f->filename = g_strdup(filename);
    f->read_only = read_only;
    f->is_block_device = S_ISBLK(st.st_mode);
    f->direct = direct;
    f->punch_works = true;
    f->zero_range_works = true;
    g_mutex_init(&f->size_lock);
    g_mutex_init(&f->range_lock);
    g_cond_init(&f->range_cond);
    f->ranges = g_array_new(FALSE, FALSE, sizeof(HostRange));
    f->size_wanted = f->is_block_device ? 0 : (uint64_t)st.st_size;
    /* Closing the descriptor drops the locks, whatever happened. */
    if (lock != HOST_LOCK_NONE && !lock_image(f, lock, err)) {
        host_file_close(f);
        return NULL;
    }
    return f;
}

void host_file_close(HostFile *f)
{
    if (!f)
        return;
    close(f->fd);
    g_mutex_clear(&f->size_lock);
    g_mutex_clear(&f->range_lock);
    g_cond_clear(&f->range_cond);
    g_array_free(f->ranges, TRUE);
    g_free(f->filename);
    g_free(f);
}

static bool range_busy(HostFile *f, uint64_t start, uint64_t end, bool rmw)
{
    for (guint i = 0; i < f->ranges->len; i++) {
        HostRange *r = &g_array_index(f->ranges, HostRange, i);
        if ((rmw || r->rmw) && r->start < end && start < r->end)
            return true;
    }
    return false;
}

/* Waits until the blocks of [offset, offset + len) are free of conflicting changes and
 * claims them: a read-modify-write conflicts with any change to its blocks, other
 * changes only with read-modify-writes (overlapping plain writes are the caller's
 * business, and touch no bytes but their own). Returns a token for range_leave; 0 when
 * the file needs no tracking (no O_DIRECT). */
static uint64_t range_enter(HostFile *f, uint64_t offset, uint64_t len, bool rmw)
{
    if (!f->direct || len == 0)
        return 0;
    HostRange r = {
        .start = offset & ~(uint64_t)(DIRECT_ALIGN - 1),
        .end = (offset + len + DIRECT_ALIGN - 1) & ~(uint64_t)(DIRECT_ALIGN - 1),
        .rmw = rmw,
    };
    g_mutex_lock(&f->range_lock);
    while (range_busy(f, r.start, r.end, rmw))
        g_cond_wait(&f->range_cond, &f->range_lock);
    r.serial = ++f->range_serial;
    g_array_append_val(f->ranges, r);
    g_mutex_unlock(&f->range_lock);
    return r.serial;
}

static void range_leave(HostFile *f, uint64_t token)
{
    if (!token)
        return;
    g_mutex_lock(&f->range_lock);
    for (guint i = 0; i < f->ranges->len; i++) {
        if (g_array_index(f->ranges, HostRange, i).serial == token) {
            g_array_remove_index_fast(f->ranges, i);
            break;
        }
    }
    g_cond_broadcast(&f->range_cond);
    g_mutex_unlock(&f->range_lock);
}

/* Called before anything that may make the file reach end (writes, fallocate). */
static void want_size(HostFile *f, uint64_t end)
{
    if (f->is_block_device)
        return;
    g_mutex_lock(&f->size_lock);
    if (end > f->size_wanted)
        f->size_wanted = end;
    g_mutex_unlock(&f->size_lock);
}

static bool do_ftruncate(HostFile *f, uint64_t size, GError **err)
{
    if (size > (uint64_t)INT64_MAX) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "%s: size %" PRIu64 " is too large",
                    f->filename, size);
        return false;
    }
    while (ftruncate(f->fd, (off_t)size) < 0) {
        if (errno == EINTR)
            continue;
        set_errno_error(err, errno, "%s: cannot resize to %" PRIu64 " bytes", f->filename, size);
        return false;
    }
    return true;
}

static bool is_aligned(uint64_t v)
{
    return (v & (DIRECT_ALIGN - 1)) == 0;
}

static bool direct_ok(HostFile *f, uint64_t offset, const void *buf, size_t len)
{
    return !f->direct ||
           (is_aligned(offset) && is_aligned(len) && is_aligned((uintptr_t)buf));
}

/* Reads up to len bytes; *got says how many before the end of the file. */
static bool raw_read(HostFile *f, uint64_t offset, void *buf, size_t len, size_t *got,
                     GError **err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_errno_error(err, errno, "%s: read of %zu bytes at offset %" PRIu64 " failed",
                            f->filename, len, offset);
            return false;
        }
        if (n == 0)
            break;
        done += (size_t)n;
        /* O_DIRECT reads stop at a partial block at the end of the file. */
        if (f->direct && !is_aligned(done))
            break;
    }
    *got = done;
    return true;
}

static bool bounced_read(HostFile *f, uint64_t offset, void *buf, size_t len, size_t *got,
                         GError **err)
{
    uint64_t start = offset & ~(uint64_t)(DIRECT_ALIGN - 1);
    uint64_t end = (offset + len + DIRECT_ALIGN - 1) & ~(uint64_t)(DIRECT_ALIGN - 1);
    size_t blen = (size_t)(end - start);
    void *bounce;
    if (posix_memalign(&bounce, DIRECT_ALIGN, blen) != 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_FAILED, "out of memory");
        return false;
    }
    size_t bgot;
    bool ok = raw_read(f, start, bounce, blen, &bgot, err);
    if (ok) {
        size_t head = (size_t)(offset - start);
        size_t avail = bgot > head ? bgot - head : 0;
        *got = avail < len ? avail : len;
        memcpy(buf, (char *)bounce + head, *got);
    }
    free(bounce);
    return ok;
}

static bool read_some(HostFile *f, uint64_t offset, void *buf, size_t len, size_t *got,
                      GError **err)
{
    if (direct_ok(f, offset, buf, len))
        return raw_read(f, offset, buf, len, got, err);
    return bounced_read(f, offset, buf, len, got, err);
}

bool host_file_pread(HostFile *f, uint64_t offset, void *buf, size_t len, GError **err)
{
    size_t got;
    if (!read_some(f, offset, buf, len, &got, err))
        return false;
    if (got < len) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                    "%s: %zu bytes at offset %" PRIu64 " lie past the end of the file",
                    f->filename, len, offset);
        return false;
    }
    return true;
}

bool host_file_pread_zero_fill(HostFile *f, uint64_t offset, void *buf, size_t len,
                               GError **err)
{
    size_t got;
    if (!read_some(f, offset, buf, len, &got, err))
        return false;
    if (got < len)
        memset((char *)buf + got, 0, len - got);
    return true;
}

static bool raw_writev(HostFile *f, uint64_t offset, const struct iovec *iov, int iovcnt,
                       GError **err)
{
    struct iovec local[16];
    struct iovec *v = iovcnt <= 16 ? local : g_new(struct iovec, iovcnt);
    memcpy(v, iov, sizeof(*v) * (size_t)iovcnt);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    struct iovec *cur = v;
    int left = iovcnt;
    uint64_t pos = offset;
    bool ok = true;
    while (left > 0) {
        ssize_t n = pwritev(f->fd, cur, left > IOV_MAX ? IOV_MAX : left, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            set_errno_error(err, n < 0 ? errno : EIO,
                            "%s: write of %zu bytes at offset %" PRIu64 " failed", f->filename,
                            total, offset);
            ok = false;
            break;
        }
        pos += (uint64_t)n;
        size_t adv = (size_t)n;
        while (left > 0 && adv >= cur->iov_len) {
            adv -= cur->iov_len;
            cur++;
            left--;
        }
        if (left > 0) {
            cur->iov_base = (char *)cur->iov_base + adv;
            cur->iov_len -= adv;
        }
    }
    if (v != local)
        g_free(v);
    return ok;
}

static bool write_through(HostFile *f, bool ok, GError **err)
{
    if (ok && f->write_through)
        return host_file_flush(f, err);
    return ok;
}

static bool bounced_write(HostFile *f, uint64_t offset, const void *buf, size_t len,
                          GError **err)
{
    uint64_t start = offset & ~(uint64_t)(DIRECT_ALIGN - 1);
    uint64_t end = (offset + len + DIRECT_ALIGN - 1) & ~(uint64_t)(DIRECT_ALIGN - 1);
    size_t blen = (size_t)(end - start);
    void *bounce;
    if (posix_memalign(&bounce, DIRECT_ALIGN, blen) != 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_FAILED, "out of memory");
        return false;
    }
    uint64_t token = range_enter(f, offset, len, true);
    want_size(f, offset + len);
    bool ok = true;
    if (start != offset || end != offset + len) {
        size_t got;
        ok = raw_read(f, start, bounce, blen, &got, err);
        if (ok && got < blen)
            memset((char *)bounce + got, 0, blen - got);
    }
    if (ok) {
        memcpy((char *)bounce + (offset - start), buf, len);
        struct iovec v = { bounce, blen };
        ok = raw_writev(f, start, &v, 1, err);
    }
    if (ok && end > offset + len && !f->is_block_device && !f->padding_ok) {
        /* Whole blocks went out: trim the padding past the size the writes call for.
         * size_wanted covers every write under way, so the trim cuts off none of them. */
        g_mutex_lock(&f->size_lock);
        uint64_t size;
        ok = host_file_size(f, &size, err);
        if (ok && size > f->size_wanted)
            ok = do_ftruncate(f, f->size_wanted, err);
        g_mutex_unlock(&f->size_lock);
    }
    range_leave(f, token);
    free(bounce);
    return write_through(f, ok, err);
}

bool host_file_pwrite(HostFile *f, uint64_t offset, const void *buf, size_t len, GError **err)
{
    if (len == 0)
        return true;
    if (!direct_ok(f, offset, buf, len))
        return bounced_write(f, offset, buf, len, err);
    want_size(f, offset + len);
    struct iovec v = { (void *)buf, len };
    uint64_t token = range_enter(f, offset, len, false);
    bool ok = raw_writev(f, offset, &v, 1, err);
    range_leave(f, token);
    return write_through(f, ok, err);
}

bool host_file_pwritev(HostFile *f, uint64_t offset, const struct iovec *iov, int iovcnt,
                       GError **err)
{
    bool aligned = true;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
        if (!direct_ok(f, 0, iov[i].iov_base, iov[i].iov_len))
            aligned = false;
    }
    if (total == 0)
        return true;
    if (direct_ok(f, offset, NULL, 0) && aligned) {
        want_size(f, offset + total);
        uint64_t token = range_enter(f, offset, total, false);
        bool ok = raw_writev(f, offset, iov, iovcnt, err);
        range_leave(f, token);
        return write_through(f, ok, err);
    }
    /* Misaligned under O_DIRECT: gather into one buffer and bounce it. */
    char *flat = g_malloc(total);
    size_t pos = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(flat + pos, iov[i].iov_base, iov[i].iov_len);
        pos += iov[i].iov_len;
    }
    bool ok = bounced_write(f, offset, flat, total, err);
    g_free(flat);
    return ok;
}

bool host_file_flush(HostFile *f, GError **err)
{
    if (f->ignore_flush || f->read_only)
        return true;
    while (fdatasync(f->fd) < 0) {
        if (errno == EINTR)
            continue;
        set_errno_error(err, errno, "%s: flush failed", f->filename);
        return false;
    }
    return true;
}

bool host_file_size(HostFile *f, uint64_t *size, GError **err)
{
    if (f->is_block_device) {
        uint64_t bytes;
        if (ioctl(f->fd, BLKGETSIZE64, &bytes) < 0) {
            set_errno_error(err, errno, "%s: cannot read the device size", f->filename);
            return false;
        }
        *size = bytes;
        return true;
    }
    struct stat st;
    if (fstat(f->fd, &st) < 0) {
        set_errno_error(err, errno, "%s: stat failed", f->filename);
        return false;
    }
    *size = (uint64_t)st.st_size;
    return true;
}

bool host_file_truncate(HostFile *f, uint64_t size, GError **err)
{
    if (f->is_block_device) {
        uint64_t cur;
        if (!host_file_size(f, &cur, err))
            return false;
        if (size > cur) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NO_SPACE,
                        "%s: a block device of %" PRIu64 " bytes cannot hold %" PRIu64,
                        f->filename, cur, size);
            return false;
        }
        return true;
    }
    g_mutex_lock(&f->size_lock);
    bool ok = do_ftruncate(f, size, err);
    if (ok)
        f->size_wanted = size;
    g_mutex_unlock(&f->size_lock);
    return ok;
}

bool host_file_extend(HostFile *f, uint64_t size, GError **err)
{
    if (f->is_block_device)
        return host_file_truncate(f, size, err);
    g_mutex_lock(&f->size_lock);
    if (size > f->size_wanted)
        f->size_wanted = size;
    uint64_t cur;
    bool ok = host_file_size(f, &cur, err);
    /* Writes past size may be under way: resizing to size_wanted keeps them. */
    if (ok && cur < size)
        ok = do_ftruncate(f, f->size_wanted, err);
    g_mutex_unlock(&f->size_lock);
    return ok;
}

uint64_t host_file_allocated_bytes(HostFile *f)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return 0;
    return (uint64_t)st.st_blocks * 512;
}

static bool discard_tracked(HostFile *f, uint64_t offset, uint64_t len, bool *zeroed,
                            GError **err)
{
    if (f->is_block_device) {
        uint64_t range[2] = { offset, len };
        /* Whether a discarded device range reads as zeros is device specific. */
        (void)ioctl(f->fd, BLKDISCARD, range);
        return true;
    }
    if (!f->punch_works)
        return true;
    if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
                  (off_t)len) == 0) {
        if (zeroed)
            *zeroed = true;
        return true;
    }
    if (errno == EOPNOTSUPP || errno == ENOSYS)
        f->punch_works = false;
    else if (errno != EINTR) {
        set_errno_error(err, errno, "%s: discard failed", f->filename);
        return false;
    }
    return true;
}

bool host_file_discard(HostFile *f, uint64_t offset, uint64_t len, bool *zeroed, GError **err)
{
    if (zeroed)
        *zeroed = false;
    if (len == 0 || f->read_only)
        return true;
    uint64_t token = range_enter(f, offset, len, false);
    bool ok = discard_tracked(f, offset, len, zeroed, err);
    range_leave(f, token);
    return ok;
}

/* The host's own ways of zeroing; false when none worked (then zeros are written). */
static bool zero_tracked(HostFile *f, uint64_t offset, uint64_t len, bool may_unmap)
{
    if (f->is_block_device) {
        uint64_t range[2] = { offset, len };
        return ioctl(f->fd, BLKZEROOUT, range) == 0;
    }
    uint64_t size;
    if (may_unmap && f->punch_works && host_file_size(f, &size, NULL) && offset + len <= size &&
        fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
                  (off_t)len) == 0)
        return true;
    if (f->zero_range_works) {
        want_size(f, offset + len); /* the range may reach past the end */
        if (fallocate(f->fd, FALLOC_FL_ZERO_RANGE, (off_t)offset, (off_t)len) == 0)
            return true;
        if (errno == EOPNOTSUPP || errno == ENOSYS)
            f->zero_range_works = false;
    }
    return false;
}

bool host_file_write_zeroes(HostFile *f, uint64_t offset, uint64_t len, bool may_unmap,
                            GError **err)
{
    if (len == 0)
        return true;
    if (!f->is_block_device) {
        uint64_t size;
        if (!host_file_size(f, &size, err))
            return false;
        if (offset >= size) {
            /* Past the end of a file everything is already zero: just extend it. */
            return host_file_extend(f, offset + len, err);
        }
    }
    uint64_t token = range_enter(f, offset, len, false);
    bool done = zero_tracked(f, offset, len, may_unmap);
    range_leave(f, token);
    if (done)
        return true;
    while (len > 0) {
        size_t chunk = len > ZERO_BUFFER_SIZE ? ZERO_BUFFER_SIZE : (size_t)len;
        if (!host_file_pwrite(f, offset, host_zero_buffer(chunk), chunk, err))
            return false;
        offset += chunk;
        len -= chunk;
    }
    return true;
}

bool host_file_preallocate(HostFile *f, uint64_t offset, uint64_t len, bool full, GError **err)
{
    if (len == 0)
        return true;
    if (!full) {
        want_size(f, offset + len);
        int r = posix_fallocate(f->fd, (off_t)offset, (off_t)len);
        if (r == 0)
            return true;
        if (r != EOPNOTSUPP && r != EINVAL) {
            set_errno_error(err, r, "%s: cannot preallocate %" PRIu64 " bytes", f->filename, len);
            return false;
        }
    }
    while (len > 0) {
        size_t chunk = len > ZERO_BUFFER_SIZE ? ZERO_BUFFER_SIZE : (size_t)len;
        if (!host_file_pwrite(f, offset, host_zero_buffer(chunk), chunk, err))
            return false;
        offset += chunk;
        len -= chunk;
    }
    return true;
}

bool host_file_data_status(HostFile *f, uint64_t offset, uint64_t max_len, bool *is_data,
                           uint64_t *len, GError **err)
{
    *is_data = true;
    *len = max_len;
    if (f->is_block_device)
        return true;
    off_t data = lseek(f->fd, (off_t)offset, SEEK_DATA);
    if (data < 0) {
        if (errno == ENXIO) {
            /* No data at or after offset: a hole up to the end of the file. */
            *is_data = false;
            return true;
        }
        if (errno == EINVAL || errno == EOPNOTSUPP)
            return true;
        set_errno_error(err, errno, "%s: SEEK_DATA failed", f->filename);
        return false;
    }
    if ((uint64_t)data > offset) {
        *is_data = false;
        uint64_t n = (uint64_t)data - offset;
        *len = n < max_len ? n : max_len;
        return true;
    }
    off_t hole = lseek(f->fd, (off_t)offset, SEEK_HOLE);
    if (hole < 0) {
        if (errno == ENXIO || errno == EINVAL || errno == EOPNOTSUPP)
            return true;
        set_errno_error(err, errno, "%s: SEEK_HOLE failed", f->filename);
        return false;
    }
    uint64_t n = (uint64_t)hole > offset ? (uint64_t)hole - offset : max_len;
    *len = n < max_len ? n : max_len;
    return true;
}

const void *host_zero_buffer(size_t len)
{
    static void *zeros;
    g_assert(len <= ZERO_BUFFER_SIZE);
    if (g_once_init_enter(&zeros)) {
        void *p;
        if (posix_memalign(&p, DIRECT_ALIGN, ZERO_BUFFER_SIZE) != 0)
            g_error("out of memory");
        memset(p, 0, ZERO_BUFFER_SIZE);
        g_once_init_leave(&zeros, p);
    }
    return zeros;
}

bool host_buffer_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (len == 0)
        return true;
    /* The first 16 bytes are zero and every byte equals the one 16 before it: all zero.
     * Checking the head first makes data buffers fail fast. */
    size_t head = len < 16 ? len : 16;
    for (size_t i = 0; i < head; i++)
        if (p[i])
            return false;
    if (len <= 16)
        return true;
    return memcmp(p, p + 16, len - 16) == 0;
}
