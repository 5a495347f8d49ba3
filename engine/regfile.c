/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/regfile.h"
#include "engine/config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *regfile_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a folder";
    case S_IFIFO: return "a FIFO (named pipe)";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
    }
}

/* Like g_format_size in IEC units, with a plain space: these end up in terminals and
 * logs that may not be UTF-8. */
static char *format_size(uint64_t n)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    if (n < 1024)
        return g_strdup_printf("%u bytes", (unsigned)n);
    double v = (double)n / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < G_N_ELEMENTS(units)) {
        v /= 1024;
        u++;
    }
    return g_strdup_printf("%.1f %s", v, units[u]);
}

static int open_failed(const char *path, int e, GError **err)
{
    g_set_error(err, VIREO_ERROR,
                e == ENOENT || e == ENOTDIR ? VIREO_ERROR_NOT_FOUND : VIREO_ERROR_FAILED,
                "%s: %s", path, g_strerror(e));
    return -1;
}

static int not_regular(const char *path, unsigned mode, GError **err)
{
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s is %s, not a regular file", path,
                regfile_kind(mode));
    return -1;
}

int regfile_open(const char *path, uint64_t *size, GError **err)
{
    struct stat st;
    /* Look before opening: opening a device can have effects of its own. */
    if (stat(path, &st) < 0)
        return open_failed(path, errno, err);
    if (!S_ISREG(st.st_mode))
        return not_regular(path, st.st_mode, err);
    /* O_NONBLOCK: should the name have become a FIFO since, open must not wait. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return open_failed(path, errno, err);
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return open_failed(path, e, err);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return not_regular(path, st.st_mode, err);
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

bool regfile_read_at(int fd, const char *path, uint64_t off, void *buf, size_t len, GError **err)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, MIN(len, (size_t)1 << 30), (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s: %s", path,
                        n < 0 ? g_strerror(errno) : "the file became shorter while it was read");
            return false;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return true;
}

bool regfile_read(const char *path, size_t max, char **data, size_t *len, GError **err)
{
    uint64_t size;
    int fd = regfile_open(path, &size, err);
    if (fd < 0)
        return false;
    if (size > max) {
        g_autofree char *have = format_size(size);
        g_autofree char *most = format_size(max);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s is %s, more than the %s it may hold",
                    path, have, most);
        close(fd);
        return false;
    }
    char *buf = g_malloc((size_t)size + 1);
    bool ok = regfile_read_at(fd, path, 0, buf, (size_t)size, err);
    close(fd);
    if (!ok) {
        g_free(buf);
        return false;
    }
    buf[size] = 0;
    *data = buf;
    *len = (size_t)size;
    return true;
}
