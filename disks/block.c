/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The format-independent block layer: probing, opening backing chains, bounds checks,
 * cache modes, and the thread pool that serves asynchronous requests. */
#include "disks/block-internal.h"
#include "disks/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(vireo-block-error-quark, block_error)

/* Backing chains deeper than this are refused (each layer holds a file open). */
#define MAX_CHAIN_DEPTH 1000

bool block_cache_mode_parse(const char *name, BlockCacheMode *mode)
{
    static const struct {
        const char *name;
        BlockCacheMode mode;
    } modes[] = {
        { "writeback", BLOCK_CACHE_WRITEBACK },     { "none", BLOCK_CACHE_NONE },
        { "off", BLOCK_CACHE_NONE },                { "writethrough", BLOCK_CACHE_WRITETHROUGH },
        { "directsync", BLOCK_CACHE_DIRECTSYNC },   { "unsafe", BLOCK_CACHE_UNSAFE },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        if (!g_strcmp0(name, modes[i].name)) {
            *mode = modes[i].mode;
            return true;
        }
    }
    return false;
}

static const char *const prealloc_names[] = { "off", "metadata", "falloc", "full" };

bool block_prealloc_parse(const char *name, BlockPrealloc *mode)
{
    for (size_t i = 0; i < G_N_ELEMENTS(prealloc_names); i++) {
        if (!g_strcmp0(name, prealloc_names[i])) {
            *mode = (BlockPrealloc)i;
            return true;
        }
    }
    return false;
}

const char *block_prealloc_name(BlockPrealloc mode)
{
    return prealloc_names[mode];
}

HostFile *block_open_host_file(BlockImage *img, GError **err)
{
    bool direct = img->cache == BLOCK_CACHE_NONE || img->cache == BLOCK_CACHE_DIRECTSYNC;
    HostFile *f = host_file_open(img->filename, img->read_only, direct, img->lock, err);
    if (f)
        f->ignore_flush = img->cache == BLOCK_CACHE_UNSAFE;
    return f;
}

const char *block_probe_bytes(const uint8_t *buf, size_t n)
{
    /* Formats Vireo reads, by their magic. VDI's text line varies by vendor; its binary
     * signature at 64 does not. qcow (version 1) and qed are recognised to be refused. */
    static const struct {
        const char *magic;
        size_t len;
        size_t offset;
        const char *name;
    } magics[] = {
        { "KDMV", 4, 0, "vmdk" },
        { "# Disk DescriptorFile", 21, 0, "vmdk" },
        { "conectix", 8, 0, "vpc" },
        { "vhdxfile", 8, 0, "vhdx" },
        { "\x7f\x10\xda\xbe", 4, 64, "vdi" },
        { "QED\0", 4, 0, "qed" },
    };
    if (n >= 8 && !memcmp(buf, "QFI\xfb", 4))
        return ld_be32(buf + 4) >= 2 ? "qcow2" : "qcow";
    for (size_t i = 0; i < G_N_ELEMENTS(magics); i++)
        if (n >= magics[i].offset + magics[i].len &&
            !memcmp(buf + magics[i].offset, magics[i].magic, magics[i].len))
            return magics[i].name;
    return "raw";
}

bool block_probe_format(const char *filename, const char **format, GError **err)
{
    int fd = open(filename, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        g_set_error(err, BLOCK_ERROR, e == ENOENT ? BLOCK_ERROR_NOT_FOUND : BLOCK_ERROR_IO,
                    "Could not open '%s': %s", filename, g_strerror(e));
        return false;
    }
    uint8_t buf[BLOCK_PROBE_BYTES];
    ssize_t n;
    do {
        n = pread(fd, buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n < 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_IO, "Could not read '%s': %s", filename,
                    g_strerror(e));
        return false;
    }
    *format = block_probe_bytes(buf, (size_t)n);
    if (!strcmp(*format, "qcow")) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "'%s' is a qcow (version 1) image, which Vireo cannot read", filename);
        return false;
    }
    if (!strcmp(*format, "qed")) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "'%s' is a qed image, which Vireo cannot read; convert it with "
                    "qemu-img convert -O qcow2, or open it with format raw to see its bytes",
                    filename);
        return false;
    }
    return true;
}

static const BlockDriver *find_driver(const char *name)
{
    if (!g_strcmp0(name, "raw"))
        return &block_driver_raw;
    if (!g_strcmp0(name, "qcow2"))
        return &block_driver_qcow2;
    if (!g_strcmp0(name, "vmdk"))
        return &block_driver_vmdk;
    if (!g_strcmp0(name, "vdi"))
        return &block_driver_vdi;
    if (!g_strcmp0(name, "vpc") || !g_strcmp0(name, "vhd"))
        return &block_driver_vpc;
    if (!g_strcmp0(name, "vhdx"))
        return &block_driver_vhdx;
    return NULL;
}

char *block_resolve_backing_path(const char *image_filename, const char *backing_name)
{
    if (!backing_name)
        return NULL;
    if (g_str_has_prefix(backing_name, "file:"))
        backing_name += 5;
    if (g_path_is_absolute(backing_name))
        return g_strdup(backing_name);
    const char *slash = strrchr(image_filename, '/');
    if (!slash)
        return g_strdup(backing_name);
    return g_strdup_printf("%.*s%s", (int)(slash - image_filename + 1), image_filename,
                           backing_name);
}

typedef struct ChainId {
    dev_t dev;
    ino_t ino;
} ChainId;

static BlockImage *open_image(const char *filename, const BlockOpenOptions *opts,
                              GArray *chain, GError **err);

static void image_free(BlockImage *img)
{
    if (!img)
        return;
    if (img->drv)
        img->drv->close(img);
    if (img->backing)
        block_close(img->backing, NULL);
    g_free(img->filename);
    g_free(img->backing_name);
    g_free(img->backing_format);
    g_mutex_clear(&img->aio_lock);
    g_cond_clear(&img->aio_cond);
    g_free(img);
}

static bool open_backing(BlockImage *img, const BlockOpenOptions *opts, GArray *chain,
                         GError **err)
{
    const char *name = img->backing_name;
    const char *format = img->backing_format;
    if (opts->backing_file) {
        name = *opts->backing_file ? opts->backing_file : NULL;
        format = opts->backing_format;
    }
    if (!name || opts->no_backing)
        return true;
    if (chain->len >= MAX_CHAIN_DEPTH) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: the backing chain is deeper than %d images", img->filename,
                    MAX_CHAIN_DEPTH);
        return false;
    }
    char *path = opts->backing_file ? g_strdup(name)
                                    : block_resolve_backing_path(img->filename, name);
    BlockOpenOptions bo = {
        .read_only = true,
        .format = format,
        .cache = opts->cache == BLOCK_CACHE_UNSAFE ? BLOCK_CACHE_WRITEBACK : opts->cache,
        .l2_cache_bytes = 0,
        .no_locking = opts->no_locking,
        .force_share = opts->force_share || opts->backing_shares_write,
    };
    GError *local = NULL;
    img->backing = open_image(path, &bo, chain, &local);
    if (!img->backing) {
        g_set_error(err, local->domain, local->code, "Could not open backing file '%s' of '%s': %s",
                    path, img->filename, local->message);
        g_error_free(local);
        g_free(path);
        return false;
    }
    g_free(path);
    return true;
}

static BlockImage *open_image(const char *filename, const BlockOpenOptions *opts,
                              GArray *chain, GError **err)
{
    struct stat st;
    if (stat(filename, &st) < 0) {
        int e = errno;
        g_set_error(err, BLOCK_ERROR, e == ENOENT ? BLOCK_ERROR_NOT_FOUND : BLOCK_ERROR_IO,
                    "Could not open '%s': %s", filename, g_strerror(e));
        return NULL;
    }
    /* Before the format probe opens it: open() on a FIFO waits for a writer, and a
     * medium change runs on the main loop. */
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "'%s' is neither a regular file nor a block device", filename);
        return NULL;
    }
    for (guint i = 0; i < chain->len; i++) {
        ChainId *id = &g_array_index(chain, ChainId, i);
        if (id->dev == st.st_dev && id->ino == st.st_ino) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                        "'%s' appears twice in its own backing chain (a loop)", filename);
            return NULL;
        }
    }
    const char *format = opts->format;
    bool probed = false;
    if (!format) {
        if (!block_probe_format(filename, &format, err))
            return NULL;
        probed = true;
    }
    const BlockDriver *drv = find_driver(format);
    if (!drv) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "Unknown image format '%s' (Vireo reads raw, qcow2, vmdk, vdi, vpc and vhdx)", format);
        return NULL;
    }
    if (opts->force_share && !opts->read_only) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "%s: force-share is for read-only opens only", filename);
        return NULL;
    }
    BlockImage *img = g_new0(BlockImage, 1);
    g_mutex_init(&img->aio_lock);
    g_cond_init(&img->aio_cond);
    img->filename = g_strdup(filename);
    img->read_only = opts->read_only;
    img->cache = opts->cache;
    img->lock = opts->no_locking    ? HOST_LOCK_NONE
                : opts->force_share ? HOST_LOCK_SHARED
                : opts->read_only   ? HOST_LOCK_READ
                                    : HOST_LOCK_WRITE;
    img->probed_raw = probed && drv == &block_driver_raw;
    img->drv = drv;
    if (!drv->open(img, opts, err)) {
        image_free(img);
        return NULL;
    }
    ChainId id = { st.st_dev, st.st_ino };
    g_array_append_val(chain, id);
    if (!open_backing(img, opts, chain, err)) {
        image_free(img);
        return NULL;
    }
    return img;
}

BlockImage *block_open(const char *filename, const BlockOpenOptions *opts, GError **err)
{
    static const BlockOpenOptions defaults;
    if (!opts)
        opts = &defaults;
    GArray *chain = g_array_new(FALSE, FALSE, sizeof(ChainId));
    BlockImage *img = open_image(filename, opts, chain, err);
    g_array_free(chain, TRUE);
    return img;
}

BlockImage *block_open_with_temp_overlay(const char *filename, const BlockOpenOptions *opts,
                                         GError **err)
{
    static const BlockOpenOptions defaults;
    if (!opts)
        opts = &defaults;
    BlockOpenOptions base_opts = *opts;
    base_opts.read_only = true;
    BlockImage *base = block_open(filename, &base_opts, err);
    if (!base)
        return NULL;
    char *abs = g_canonicalize_filename(filename, NULL);
    char *tmp = g_build_filename(g_get_tmp_dir(), "vireo-overlay-XXXXXX", NULL);
    int fd = g_mkstemp(tmp);
    if (fd < 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_IO, "Could not create a temporary overlay in %s: %s",
                    g_get_tmp_dir(), g_strerror(errno));
        g_free(abs);
        g_free(tmp);
        block_close(base, NULL);
        return NULL;
    }
    close(fd);
    Qcow2CreateOptions co = {
        .size = block_size(base),
        .backing_file = abs,
        .backing_format = block_format_name(base),
    };
    BlockImage *overlay = NULL;
    if (qcow2_create(tmp, &co, err)) {
        BlockOpenOptions oo = { .format = "qcow2", .no_backing = true, .cache = opts->cache };
        if (oo.cache == BLOCK_CACHE_NONE || oo.cache == BLOCK_CACHE_DIRECTSYNC)
            oo.cache = BLOCK_CACHE_WRITEBACK;
        overlay = block_open(tmp, &oo, err);
    }
    /* The open file keeps the overlay alive; its name goes now so nothing is left over. */
    unlink(tmp);
    g_free(tmp);
    g_free(abs);
    if (!overlay) {
        block_close(base, NULL);
        return NULL;
    }
    overlay->backing = base;
    return overlay;
}

bool block_close(BlockImage *img, GError **err)
{
    if (!img)
        return true;
    block_drain(img);
    bool ok = true;
    if (!img->read_only && img->drv)
        ok = img->drv->flush(img, err);
    image_free(img);
    return ok;
}

uint64_t block_size(BlockImage *img)
{
    return img->size;
}

const char *block_format_name(BlockImage *img)
{
    return img->drv->name;
}

const char *block_filename(BlockImage *img)
{
    return img->filename;
}

bool block_is_read_only(BlockImage *img)
{
    return img->read_only;
}

BlockImage *block_backing(BlockImage *img)
{
    return img->backing;
}

static bool check_range(BlockImage *img, uint64_t offset, uint64_t len, GError **err)
{
    if (offset > img->size || len > img->size - offset) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "%s: request of %" PRIu64 " bytes at offset %" PRIu64
                    " is beyond the end of the %" PRIu64 "-byte image",
                    img->filename, len, offset, img->size);
        return false;
    }
    return true;
}

static bool check_write(BlockImage *img, uint64_t offset, uint64_t len, GError **err)
{
    if (img->read_only) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY, "%s is open read-only",
                    img->filename);
        return false;
    }
    return check_range(img, offset, len, err);
}

/* cache=writethrough: a write completes only once it is on the disk. */
static bool after_write(BlockImage *img, bool ok, GError **err)
{
    if (ok && (img->cache == BLOCK_CACHE_WRITETHROUGH || img->cache == BLOCK_CACHE_DIRECTSYNC))
        return img->drv->flush(img, err);
    return ok;
}

bool block_pread(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err)
{
    if (!check_range(img, offset, len, err))
        return false;
    if (len == 0)
        return true;
    return img->drv->pread(img, offset, buf, len, err);
}

bool block_pwrite(BlockImage *img, uint64_t offset, const void *buf, size_t len, GError **err)
{
    if (!check_write(img, offset, len, err))
        return false;
    if (len == 0)
        return true;
    return after_write(img, img->drv->pwrite(img, offset, buf, len, err), err);
}

bool block_flush(BlockImage *img, GError **err)
{
    if (img->read_only)
        return true;
    return img->drv->flush(img, err);
}

bool block_discard(BlockImage *img, uint64_t offset, uint64_t len, GError **err)
{
    if (!check_write(img, offset, len, err))
        return false;
    if (len == 0)
        return true;
    return after_write(img, img->drv->discard(img, offset, len, err), err);
}

bool block_write_zeroes(BlockImage *img, uint64_t offset, uint64_t len, bool may_unmap,
                        GError **err)
{
    if (!check_write(img, offset, len, err))
        return false;
    if (len == 0)
        return true;
    return after_write(img, img->drv->write_zeroes(img, offset, len, may_unmap, err), err);
}

bool block_truncate(BlockImage *img, uint64_t size, BlockPrealloc prealloc, bool allow_shrink,
                    GError **err)
{
    if (img->read_only) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY, "%s is open read-only",
                    img->filename);
        return false;
    }
    block_drain(img);
    if (size == img->size)
        return true;
    return img->drv->truncate(img, size, prealloc, allow_shrink, err) &&
           img->drv->flush(img, err);
}

bool block_read_backing(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err)
{
    BlockImage *b = img->backing;
    uint64_t have = 0;
    if (b && offset < b->size)
        have = b->size - offset < len ? b->size - offset : len;
    if (have && !block_pread(b, offset, buf, (size_t)have, err))
        return false;
    if (have < len)
        memset((uint8_t *)buf + have, 0, len - have);
    return true;
}

bool block_get_status(BlockImage *img, uint64_t offset, uint64_t max_len, BlockStatus *st,
                      GError **err)
{
    memset(st, 0, sizeof(*st));
    st->layer = img;
    if (!check_range(img, offset, max_len, err))
        return false;
    if (max_len == 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "empty status request");
        return false;
    }
    if (!img->drv->get_status(img, offset, max_len, st, err))
        return false;
    st->layer = img;
    if (st->length > max_len)
        st->length = max_len;
    return true;
}

bool block_get_status_above(BlockImage *img, BlockImage *base, uint64_t offset,
                            uint64_t max_len, BlockStatus *st, GError **err)
{
    BlockImage *layer = img;
    unsigned depth = 0;
    uint64_t len = max_len;
    for (;;) {
        if (offset >= layer->size) {
            /* Past the end of a shorter backing file everything reads as zeros. */
            memset(st, 0, sizeof(*st));
            st->length = len;
            st->zero = true;
            st->layer = layer;
            st->depth = depth;
            return true;
        }
        uint64_t here = len < layer->size - offset ? len : layer->size - offset;
        if (!block_get_status(layer, offset, here, st, err))
            return false;
        st->depth = depth;
        if (st->allocated)
            return true;
        len = st->length;
        if (!layer->backing || layer->backing == base) {
            st->zero = !layer->backing;
            return true;
        }
        layer = layer->backing;
        depth++;
    }
}

bool block_get_info(BlockImage *img, BlockImageInfo *info, GError **err)
{
    memset(info, 0, sizeof(*info));
    info->filename = img->filename;
    info->format = img->drv->name;
    info->virtual_size = img->size;
    info->actual_size = host_file_allocated_bytes(img->file);
    info->backing_filename = img->backing_name;
    info->backing_format = img->backing_format;
    if (img->backing_name)
        info->full_backing_filename = block_resolve_backing_path(img->filename, img->backing_name);
    img->drv->get_info(img, info);
    return true;
}

/* Asynchronous requests ---------------------------------------------------------------*/

typedef enum { AIO_READ, AIO_WRITE, AIO_FLUSH, AIO_DISCARD, AIO_WRITE_ZEROES } AioOp;

typedef struct AioRequest {
    BlockImage *img;
    AioOp op;
    uint64_t offset;
    uint64_t len;
    struct iovec *iov;
    int iovcnt;
    bool may_unmap;
    BlockDoneFn done;
    void *opaque;
} AioRequest;

static GThreadPool *aio_pool;
static unsigned aio_pool_threads = 8;
static GMutex aio_pool_lock;

void block_set_pool_threads(unsigned n)
{
    g_mutex_lock(&aio_pool_lock);
    aio_pool_threads = n ? n : 1;
    if (aio_pool)
        g_thread_pool_set_max_threads(aio_pool, (gint)aio_pool_threads, NULL);
    g_mutex_unlock(&aio_pool_lock);
}

static bool aio_rw(AioRequest *r, GError **err)
{
    if (r->iovcnt == 1) {
        if (r->op == AIO_READ)
            return block_pread(r->img, r->offset, r->iov[0].iov_base, r->iov[0].iov_len, err);
        return block_pwrite(r->img, r->offset, r->iov[0].iov_base, r->iov[0].iov_len, err);
    }
    /* Scatter-gather lists go through one bounce buffer: formats see flat requests. */
    uint8_t *bounce = g_try_malloc(r->len ? r->len : 1);
    if (!bounce) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_FAILED, "out of memory for a %" PRIu64
                    "-byte request", r->len);
        return false;
    }
    bool ok;
    if (r->op == AIO_READ) {
        ok = block_pread(r->img, r->offset, bounce, r->len, err);
        size_t pos = 0;
        for (int i = 0; ok && i < r->iovcnt; i++) {
            memcpy(r->iov[i].iov_base, bounce + pos, r->iov[i].iov_len);
            pos += r->iov[i].iov_len;
        }
    } else {
        size_t pos = 0;
        for (int i = 0; i < r->iovcnt; i++) {
            memcpy(bounce + pos, r->iov[i].iov_base, r->iov[i].iov_len);
            pos += r->iov[i].iov_len;
        }
        ok = block_pwrite(r->img, r->offset, bounce, r->len, err);
    }
    g_free(bounce);
    return ok;
}

static void aio_worker(gpointer data, gpointer user_data)
{
    AioRequest *r = data;
    GError *err = NULL;
    switch (r->op) {
    case AIO_READ:
    case AIO_WRITE:
        aio_rw(r, &err);
        break;
    case AIO_FLUSH:
        block_flush(r->img, &err);
        break;
    case AIO_DISCARD:
        block_discard(r->img, r->offset, r->len, &err);
        break;
    case AIO_WRITE_ZEROES:
        block_write_zeroes(r->img, r->offset, r->len, r->may_unmap, &err);
        break;
    }
    BlockImage *img = r->img;
    if (r->done)
        r->done(r->opaque, err);
    if (err)
        g_error_free(err);
    g_free(r->iov);
    g_free(r);
    g_mutex_lock(&img->aio_lock);
    if (--img->aio_in_flight == 0)
        g_cond_broadcast(&img->aio_cond);
    g_mutex_unlock(&img->aio_lock);
}

static void aio_submit(AioRequest *r)
{
    g_mutex_lock(&aio_pool_lock);
    if (!aio_pool)
        aio_pool = g_thread_pool_new(aio_worker, NULL, (gint)aio_pool_threads, FALSE, NULL);
    g_mutex_unlock(&aio_pool_lock);
    g_mutex_lock(&r->img->aio_lock);
    r->img->aio_in_flight++;
    g_mutex_unlock(&r->img->aio_lock);
    g_thread_pool_push(aio_pool, r, NULL);
}

static AioRequest *aio_new(BlockImage *img, AioOp op, uint64_t offset, BlockDoneFn done,
                           void *opaque)
{
    AioRequest *r = g_new0(AioRequest, 1);
    r->img = img;
    r->op = op;
    r->offset = offset;
    r->done = done;
    r->opaque = opaque;
    return r;
}

static void aio_rw_submit(BlockImage *img, AioOp op, uint64_t offset, const struct iovec *iov,
                          int iovcnt, BlockDoneFn done, void *opaque)
{
    AioRequest *r = aio_new(img, op, offset, done, opaque);
    r->iov = g_memdup2(iov, sizeof(*iov) * (size_t)(iovcnt > 0 ? iovcnt : 0));
    r->iovcnt = iovcnt;
    for (int i = 0; i < iovcnt; i++)
        r->len += iov[i].iov_len;
    aio_submit(r);
}

void block_aio_readv(BlockImage *img, uint64_t offset, const struct iovec *iov, int iovcnt,
                     BlockDoneFn done, void *opaque)
{
    aio_rw_submit(img, AIO_READ, offset, iov, iovcnt, done, opaque);
}

void block_aio_writev(BlockImage *img, uint64_t offset, const struct iovec *iov, int iovcnt,
                      BlockDoneFn done, void *opaque)
{
    aio_rw_submit(img, AIO_WRITE, offset, iov, iovcnt, done, opaque);
}

void block_aio_flush(BlockImage *img, BlockDoneFn done, void *opaque)
{
    aio_submit(aio_new(img, AIO_FLUSH, 0, done, opaque));
}

void block_aio_discard(BlockImage *img, uint64_t offset, uint64_t len, BlockDoneFn done,
                       void *opaque)
{
    AioRequest *r = aio_new(img, AIO_DISCARD, offset, done, opaque);
    r->len = len;
    aio_submit(r);
}

void block_aio_write_zeroes(BlockImage *img, uint64_t offset, uint64_t len, bool may_unmap,
                            BlockDoneFn done, void *opaque)
{
    AioRequest *r = aio_new(img, AIO_WRITE_ZEROES, offset, done, opaque);
    r->len = len;
    r->may_unmap = may_unmap;
    aio_submit(r);
}

void block_drain(BlockImage *img)
{
    g_mutex_lock(&img->aio_lock);
    while (img->aio_in_flight > 0)
        g_cond_wait(&img->aio_cond, &img->aio_lock);
    g_mutex_unlock(&img->aio_lock);
}
