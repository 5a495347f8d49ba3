/* SPDX-License-Identifier: GPL-2.0-or-later */
/* OVF descriptors through GMarkup, and the tar files .ova appliances are (ovf.h).
 * The OVF elements and CIM resource types: DSP0243 (OVF 2.1) section 9 and
 * CIM_ResourceAllocationSettingData (3 processor, 4 memory, 14 floppy drive, 15 CD drive,
 * 17 disk drive). The tar header: POSIX.1-2001 ustar, with GNU's old magic accepted. */
#include "engine/ovf.h"
#include "engine/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ovf_free(Ovf *o)
{
    if (!o)
        return;
    for (guint i = 0; i < o->disks->len; i++) {
        OvfDisk *d = o->disks->pdata[i];
        g_free(d->href);
        g_free(d->format);
        g_free(d);
    }
    g_ptr_array_unref(o->disks);
    g_free(o->name);
    g_free(o->os_description);
    g_free(o);
}

typedef struct Item {
    int type;
    char *units;
    char *quantity;
    char *host_resource;
} Item;

typedef struct Parse {
    Ovf *o;
    GPtrArray *stack;          /* local names */
    GString *text;
    GHashTable *files;         /* file id -> href */
    GHashTable *disk_files;    /* disk id -> file id */
    GHashTable *disk_formats;  /* disk id -> format */
    Item item;
    bool in_item;
} Parse;

static const char *local(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static const char *attr(const char **names, const char **values, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(local(names[i]), name))
            return values[i];
    return NULL;
}

static const char *top(const Parse *p, guint up)
{
    return p->stack->len > up ? p->stack->pdata[p->stack->len - 1 - up] : "";
}

static void on_start(GMarkupParseContext *ctx, const char *name, const char **an,
                     const char **av, gpointer data, GError **err)
{
    Parse *p = data;
    const char *l = local(name);
    if (p->stack->len == 0 && strcmp(l, "Envelope")) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "not an OVF descriptor: the document is a <%s>", name);
        return;
    }
    g_ptr_array_add(p->stack, g_strdup(l));
    g_string_truncate(p->text, 0);
    if (!strcmp(l, "File") && !strcmp(top(p, 1), "References")) {
        const char *id = attr(an, av, "id"), *href = attr(an, av, "href");
        if (id && href)
            g_hash_table_replace(p->files, g_strdup(id), g_strdup(href));
    } else if (!strcmp(l, "Disk") && !strcmp(top(p, 1), "DiskSection")) {
        const char *id = attr(an, av, "diskId"), *file = attr(an, av, "fileRef");
        const char *format = attr(an, av, "format");
        if (id && file)
            g_hash_table_replace(p->disk_files, g_strdup(id), g_strdup(file));
        if (id && format)
            g_hash_table_replace(p->disk_formats, g_strdup(id), g_strdup(format));
    } else if (!strcmp(l, "VirtualSystem")) {
        const char *id = attr(an, av, "id");
        if (id && !p->o->name)
            p->o->name = g_strdup(id);
    } else if ((!strcmp(l, "Item") || !strcmp(l, "StorageItem")) &&
               !strcmp(top(p, 1), "VirtualHardwareSection")) {
        memset(&p->item, 0, sizeof(p->item));
        p->item.type = -1;
        p->in_item = true;
    }
}

static uint64_t memory_factor(const char *units)
{
    if (!units || !*units)
        return 1 << 20;            /* DSP0243: MegaBytes when not given */
    g_autofree char *u = g_strstrip(g_strdup(units));
    if (!g_ascii_strcasecmp(u, "MegaBytes") || !g_ascii_strcasecmp(u, "MB"))
        return 1 << 20;
    if (!g_ascii_strcasecmp(u, "GigaBytes") || !g_ascii_strcasecmp(u, "GB"))
        return 1 << 30;
    if (!g_ascii_strcasecmp(u, "KiloBytes") || !g_ascii_strcasecmp(u, "KB"))
        return 1 << 10;
    unsigned power = 0;
    /* The programmatic units of DSP0004: "byte * 2^20". */
    if (sscanf(u, "byte * 2^%u", &power) == 1 && power <= 40)
        return 1ull << power;
    if (!strcmp(u, "byte") || !strcmp(u, "bytes"))
        return 1;
    return 0;
}

static void end_item(Parse *p, GError **err)
{
    Item *it = &p->item;
    guint64 q = 0;
    bool have_q = it->quantity &&
                  g_ascii_string_to_unsigned(g_strstrip(it->quantity), 10, 0, G_MAXUINT32 * 1024ull,
                                             &q, NULL);
    if (it->type == 3 && have_q) {
        p->o->cpus = (unsigned)MIN(q, 4096);
    } else if (it->type == 4 && have_q) {
        uint64_t f = memory_factor(it->units);
        if (!f || q > G_MAXUINT64 / f) {
            g_autofree char *u = config_shorten(it->units ? it->units : "", 40);
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "the memory item's AllocationUnits '%s' are not a size unit", u);
        } else {
            p->o->memory = q * f;
        }
    } else if ((it->type == 17 || it->type == 15 || it->type == 14) && it->host_resource) {
        /* "ovf:/disk/ID" names a disk of the DiskSection, "ovf:/file/ID" a file. */
        const char *hr = g_strstrip(it->host_resource);
        const char *file_id = NULL, *format = NULL;
        if (g_str_has_prefix(hr, "ovf:/disk/") || g_str_has_prefix(hr, "/disk/")) {
            const char *id = strrchr(hr, '/') + 1;
            file_id = g_hash_table_lookup(p->disk_files, id);
            format = g_hash_table_lookup(p->disk_formats, id);
        } else if (g_str_has_prefix(hr, "ovf:/file/") || g_str_has_prefix(hr, "/file/")) {
            file_id = strrchr(hr, '/') + 1;
        }
        const char *href = file_id ? g_hash_table_lookup(p->files, file_id) : NULL;
        if (!href) {
            g_autofree char *shown = config_shorten(hr, 60);
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "the hardware item's HostResource %s names no file of the References",
                        shown);
        } else {
            OvfDisk *d = g_new0(OvfDisk, 1);
            d->href = g_strdup(href);
            d->format = g_strdup(format);
            d->cdrom = it->type == 15;
            d->floppy = it->type == 14;
            g_ptr_array_add(p->o->disks, d);
        }
    }
    g_free(it->units);
    g_free(it->quantity);
    g_free(it->host_resource);
    memset(it, 0, sizeof(*it));
}

static void on_end(GMarkupParseContext *ctx, const char *name, gpointer data, GError **err)
{
    Parse *p = data;
    const char *l = local(name);
    const char *t = p->text->str;
    if (p->in_item) {
        if (!strcmp(l, "ResourceType")) {
            guint64 n;
            g_autofree char *s = g_strstrip(g_strdup(t));
            p->item.type = g_ascii_string_to_unsigned(s, 10, 0, 1000, &n, NULL) ? (int)n : -1;
        } else if (!strcmp(l, "AllocationUnits")) {
            g_free(p->item.units);
            p->item.units = g_strdup(t);
        } else if (!strcmp(l, "VirtualQuantity")) {
            g_free(p->item.quantity);
            p->item.quantity = g_strdup(t);
        } else if (!strcmp(l, "HostResource")) {
            g_free(p->item.host_resource);
            p->item.host_resource = g_strdup(t);
        } else if (!strcmp(l, "Item") || !strcmp(l, "StorageItem")) {
            p->in_item = false;
            end_item(p, err);
        }
    } else if (!strcmp(l, "Name") && !strcmp(top(p, 1), "VirtualSystem")) {
        g_free(p->o->name);
        p->o->name = g_strstrip(g_strdup(t));
    } else if (!strcmp(l, "Description") && !strcmp(top(p, 1), "OperatingSystemSection")) {
        g_free(p->o->os_description);
        p->o->os_description = g_strstrip(g_strdup(t));
    }
    g_free(g_ptr_array_steal_index(p->stack, p->stack->len - 1));
    g_string_truncate(p->text, 0);
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
                    GError **err)
{
    Parse *p = data;
    if (p->text->len + len > 65536) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "an element's text is longer than 64 KiB");
        return;
    }
    g_string_append_len(p->text, text, (gssize)len);
}

Ovf *ovf_parse(const char *xml, gsize len, GError **err)
{
    static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
    Parse p = {
        .o = g_new0(Ovf, 1),
        .stack = g_ptr_array_new_with_free_func(g_free),
        .text = g_string_new(NULL),
        .files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
        .disk_files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
        .disk_formats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
    };
    p.o->disks = g_ptr_array_new();
    GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
    bool ok = g_markup_parse_context_parse(ctx, xml, (gssize)len, err) &&
              g_markup_parse_context_end_parse(ctx, err);
    g_markup_parse_context_free(ctx);
    g_free(p.item.units);
    g_free(p.item.quantity);
    g_free(p.item.host_resource);
    g_ptr_array_unref(p.stack);
    g_string_free(p.text, TRUE);
    g_hash_table_unref(p.files);
    g_hash_table_unref(p.disk_files);
    g_hash_table_unref(p.disk_formats);
    if (ok && !p.o->name) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "the OVF descriptor has no VirtualSystem");
        ok = false;
    }
    if (!ok) {
        ovf_free(p.o);
        return NULL;
    }
    return p.o;
}

/* tar ------------------------------------------------------------------------------------*/

#define TAR_BLOCK 512
#define TAR_MAX_MEMBERS 10000

static void member_free(gpointer m)
{
    TarMember *t = m;
    g_free(t->name);
    g_free(t);
}

/* An octal field (NUL- or space-terminated); false if it is not one. */
static bool octal(const uint8_t *f, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && f[i] == ' ')
        i++;
    size_t digits = 0;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v >> 60)
            return false;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    for (; i < len; i++)
        if (f[i] != ' ' && f[i] != 0)
            return false;
    *out = v;
    return digits > 0;
}

static bool read_full(int fd, uint64_t off, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

GPtrArray *tar_list(const char *path, GError **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "%s: %s", path,
                    fd < 0 ? g_strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint64_t size = (uint64_t)st.st_size;
    GPtrArray *list = g_ptr_array_new_with_free_func(member_free);
    uint64_t off = 0;
    bool ok = true;
    while (ok) {
        uint8_t h[TAR_BLOCK];
        if (off + TAR_BLOCK > size || !read_full(fd, off, h, sizeof(h))) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: the tar file ends without "
                        "its end-of-archive blocks", path);
            ok = false;
            break;
        }
        bool zero = true;
        for (int i = 0; i < TAR_BLOCK && zero; i++)
            zero = h[i] == 0;
        if (zero)
            break;
        uint64_t sum, want = 0, len;
        for (int i = 0; i < TAR_BLOCK; i++)
            want += (i >= 148 && i < 156) ? ' ' : h[i];
        if (memcmp(h + 257, "ustar", 5) || !octal(h + 148, 8, &sum) || sum != want ||
            !octal(h + 124, 12, &len)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: not a tar file, or a damaged "
                        "tar header at offset %" PRIu64, path, off);
            ok = false;
            break;
        }
        uint64_t data = off + TAR_BLOCK;
        if (len > size - data) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: member at offset %" PRIu64
                        " claims %" PRIu64 " bytes, past the end of the file", path, off, len);
            ok = false;
            break;
        }
        char name[256 + 1];
        size_t plen = strnlen((const char *)h + 345, 155);
        size_t nlen = strnlen((const char *)h, 100);
        if (plen)
            g_snprintf(name, sizeof(name), "%.*s/%.*s", (int)plen, h + 345, (int)nlen, h);
        else
            g_snprintf(name, sizeof(name), "%.*s", (int)nlen, h);
        char type = (char)h[156];
        if ((type == '0' || type == 0) && *name) {
            if (list->len >= TAR_MAX_MEMBERS) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: more than %d files",
                            path, TAR_MAX_MEMBERS);
                ok = false;
                break;
            }
            TarMember *m = g_new0(TarMember, 1);
            m->name = g_strdup(name);
            m->offset = data;
            m->size = len;
            g_ptr_array_add(list, m);
        }
        off = data + (len + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
    }
    close(fd);
    if (!ok) {
        g_ptr_array_unref(list);
        return NULL;
    }
    return list;
}

bool tar_extract(const char *path, const TarMember *m, const char *dest, GError **err)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "%s: %s", path, g_strerror(errno));
        return false;
    }
    int out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s: %s", dest, g_strerror(errno));
        close(in);
        return false;
    }
    bool ok = true;
    uint8_t *buf = g_malloc(1 << 20);
    for (uint64_t done = 0; ok && done < m->size;) {
        size_t n = (size_t)MIN((uint64_t)(1 << 20), m->size - done);
        ok = read_full(in, m->offset + done, buf, n);
        for (size_t w = 0; ok && w < n;) {
            ssize_t r = write(out, buf + w, n - w);
            if (r < 0 && errno == EINTR)
                continue;
            ok = r > 0;
            w += ok ? (size_t)r : 0;
        }
        done += n;
    }
    g_free(buf);
    if (ok && fsync(out) < 0)
        ok = false;
    if (!ok)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s: could not extract %s: %s", path,
                    m->name, g_strerror(errno ? errno : EIO));
    close(out);
    close(in);
    if (!ok)
        unlink(dest);
    return ok;
}
