/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Saving and loading device state sections (the format is in vmstate.h). */
#include "engine/vmstate.h"
#include "engine/stream.h"
#include "engine/config.h"

#include <string.h>
#include <zlib.h>

/* Per-section overhead: length, two name lengths, version, checksum. */
#define SECTION_MIN (4 + 2 + 2 + 4 + 4)

static size_t field_elems(const VmStateField *f)
{
    return f->count ? f->count : 1;
}

static size_t scalar_size(VmStateType t)
{
    switch (t) {
    case VMS_U8: case VMS_BOOL: case VMS_BUFFER: return 1;
    case VMS_U16: return 2;
    case VMS_U32: case VMS_I32: return 4;
    case VMS_U64: case VMS_I64: case VMS_TIMER: return 8;
    case VMS_STRUCT: case VMS_BUFFER_PTR: case VMS_BYTES: return 0;
    }
    return 0;
}



/* A scalar of the field's type at p, widened (signed types sign-extended). */
static uint64_t load_scalar(VmStateType t, const void *p)
{
    switch (t) {
    case VMS_U8: case VMS_BUFFER: return *(const uint8_t *)p;
    case VMS_BOOL: return *(const bool *)p;
    case VMS_U16: return *(const uint16_t *)p;
    case VMS_U32: return *(const uint32_t *)p;
    case VMS_I32: return (uint64_t)(int64_t)*(const int32_t *)p;
    case VMS_U64: return *(const uint64_t *)p;
    case VMS_I64: return (uint64_t)*(const int64_t *)p;
    default: return 0;
    }
}

static void store_scalar(VmStateType t, void *p, uint64_t v)
{
    switch (t) {
    case VMS_U8: case VMS_BUFFER: *(uint8_t *)p = (uint8_t)v; break;
    case VMS_BOOL: *(bool *)p = v != 0; break;
    case VMS_U16: *(uint16_t *)p = (uint16_t)v; break;
    case VMS_U32: *(uint32_t *)p = (uint32_t)v; break;
    case VMS_I32: *(int32_t *)p = (int32_t)(uint32_t)v; break;
    case VMS_U64: *(uint64_t *)p = v; break;
    case VMS_I64: *(int64_t *)p = (int64_t)v; break;
    default: break;
    }
}

static size_t field_stride(const VmStateField *f)
{
    if (f->type == VMS_STRUCT)
        return f->elem_size;
    if (f->type == VMS_TIMER)
        return sizeof(VTimer *);
    if (f->type == VMS_BOOL)
        return sizeof(bool);
    return scalar_size(f->type);
}

/* Heap buffers go page by page so that mostly empty video memory stays small. */
#define BUF_PAGE 4096u

static bool page_is_zero(const uint8_t *p, size_t n)
{
    static const uint8_t zero[BUF_PAGE];
    return !memcmp(p, zero, n);
}

static void save_buffer_ptr(GByteArray *out, const VmStateField *f, const uint8_t *buf)
{
    stream_put_le(out, f->count, 4);
    for (size_t off = 0; off < f->count; off += BUF_PAGE) {
        size_t n = MIN(BUF_PAGE, f->count - off);
        if (!buf || page_is_zero(buf + off, n)) {
            stream_put_le(out, 0, 1);
        } else {
            stream_put_le(out, 1, 1);
            g_byte_array_append(out, buf + off, (guint)n);
        }
    }
}

static void save_fields(GByteArray *out, const VmStateDesc *d, const uint8_t *base)
{
    for (const VmStateField *f = d->fields; f->name; f++) {
        const uint8_t *p = base + f->offset;
        if (f->type == VMS_BUFFER_PTR) {
            save_buffer_ptr(out, f, *(uint8_t *const *)p);
            continue;
        }
        if (f->type == VMS_BYTES) {
            GBytes *b = *(GBytes *const *)p;
            gsize n = 0;
            const uint8_t *data = b ? g_bytes_get_data(b, &n) : NULL;
            g_assert(n <= f->count);
            stream_put_le(out, b ? n : 0xffffffffu, 4);
            if (n)
                g_byte_array_append(out, data, (guint)n);
            continue;
        }
        if (f->count)
            stream_put_le(out, f->count, 4);
        for (size_t i = 0; i < field_elems(f); i++, p += field_stride(f)) {
            if (f->type == VMS_STRUCT) {
                save_fields(out, f->sub, p);
            } else if (f->type == VMS_TIMER) {
                VTimer *t = *(VTimer *const *)p;
                int64_t exp = t && vtimer_pending(t) ? vtimer_expire(t) : -1;
                stream_put_le(out, (uint64_t)exp, 8);
            } else {
                stream_put_le(out, load_scalar(f->type, p), scalar_size(f->type));
            }
        }
    }
}

void vmstate_save(GByteArray *out, const char *class_name, const char *id,
                  const VmStateDesc *desc, void *state)
{
    if (desc->pre_save)
        desc->pre_save(state);
    guint start = out->len;
    stream_put_le(out, 0, 4); /* patched below */
    size_t cl = strlen(class_name), il = strlen(id);
    g_assert(cl <= 0xffff && il <= 0xffff);
    stream_put_le(out, cl, 2);
    g_byte_array_append(out, (const guint8 *)class_name, (guint)cl);
    stream_put_le(out, il, 2);
    g_byte_array_append(out, (const guint8 *)id, (guint)il);
    stream_put_le(out, desc->version, 4);
    save_fields(out, desc, state);
    uint32_t len = out->len - start; /* the rest after the length field, checksum included */
    for (int i = 0; i < 4; i++)
        out->data[start + i] = (uint8_t)(len >> (8 * i));
    uLong crc = crc32(0L, out->data + start, out->len - start);
    stream_put_le(out, crc, 4);
}

bool vmstate_section_peek(const uint8_t *buf, size_t len, VmStateSectionInfo *info, GError **err)
{
    if (len < 4) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state: truncated section header (%zu bytes)", len);
        return false;
    }
    uint64_t rest = stream_get_le(buf, 4);
    if (rest < SECTION_MIN - 4 || rest > len - 4) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state: section length %" G_GUINT64_FORMAT " does not fit the %zu bytes left",
                    rest, len - 4);
        return false;
    }
    size_t total = 4 + (size_t)rest;
    uint32_t want = (uint32_t)stream_get_le(buf + total - 4, 4);
    uint32_t got = (uint32_t)crc32(0L, buf, (uInt)(total - 4));
    if (want != got) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state: section checksum 0x%08x does not match its contents (0x%08x)", want, got);
        return false;
    }
    size_t pos = 4, end = total - 4;
    size_t cl = (size_t)stream_get_le(buf + pos, 2);
    pos += 2;
    if (cl > end - pos || end - pos - cl < 2 + 4) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "device state: class name overruns its section");
        return false;
    }
    info->class_name = (const char *)buf + pos;
    info->class_len = cl;
    pos += cl;
    size_t il = (size_t)stream_get_le(buf + pos, 2);
    pos += 2;
    if (il > end - pos || end - pos - il < 4) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "device state: instance id overruns its section");
        return false;
    }
    info->id = (const char *)buf + pos;
    info->id_len = il;
    pos += il;
    info->version = (uint32_t)stream_get_le(buf + pos, 4);
    info->total_len = total;
    return true;
}

/* A bounded reader over one section's field bytes. */
typedef struct Reader {
    const uint8_t *p;
    size_t left;
    const char *what; /* "class id" for messages */
    uint32_t version;
    GArray *timers;   /* TimerLoad */
    GPtrArray *bufs;  /* scratch copies of heap buffers, freed with the staged load */
    GPtrArray *gbytes; /* decoded GBytes, unreferenced with the staged load */
} Reader;

typedef struct TimerLoad {
    size_t offset;    /* of the VTimer * in the state struct */
    int64_t expire;
} TimerLoad;

static bool read_le(Reader *r, size_t n, uint64_t *v, const char *field, GError **err)
{
    if (r->left < n) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state of %s: truncated in field '%s'", r->what, field);
        return false;
    }
    *v = stream_get_le(r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

static bool value_ok(const VmStateField *f, uint64_t v, GError **err, const char *what, size_t idx)
{
    bool ok = true;
    if (f->type == VMS_BOOL)
        ok = v <= 1;
    else if (f->ranged) {
        bool is_signed = f->type == VMS_I32 || f->type == VMS_I64;
        if (is_signed)
            ok = (int64_t)v >= f->min && (int64_t)v <= f->max;
        else
            ok = v <= (uint64_t)INT64_MAX && (int64_t)v >= f->min && (int64_t)v <= f->max;
    }
    if (!ok) {
        g_autofree char *at = f->count ? g_strdup_printf("[%zu]", idx) : g_strdup("");
        if (f->type == VMS_BOOL)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "device state of %s: field '%s%s' is %" G_GUINT64_FORMAT ", not a boolean",
                        what, f->name, at, v);
        else
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "device state of %s: field '%s%s' is %" G_GINT64_FORMAT ", outside %" G_GINT64_FORMAT
                        "..%" G_GINT64_FORMAT, what, f->name, at, (int64_t)v, f->min, f->max);
    }
    return ok;
}

/* Decodes a heap buffer into a fresh scratch buffer that replaces the pointer in the
 * scratch struct (the live buffer is untouched until commit). */
static bool load_buffer_ptr(Reader *r, const VmStateField *f, uint8_t *p, GError **err)
{
    uint64_t n;
    if (!read_le(r, 4, &n, f->name, err))
        return false;
    if (n != f->count) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state of %s: buffer '%s' has %" G_GUINT64_FORMAT " bytes, expected %zu",
                    r->what, f->name, n, f->count);
        return false;
    }
    if (!*(uint8_t **)p) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state of %s: this device has no buffer '%s'", r->what, f->name);
        return false;
    }
    uint8_t *copy = g_malloc0(f->count);
    g_ptr_array_add(r->bufs, copy);
    for (size_t off = 0; off < f->count; off += BUF_PAGE) {
        size_t len = MIN(BUF_PAGE, f->count - off);
        uint64_t tag;
        if (!read_le(r, 1, &tag, f->name, err))
            return false;
        if (tag > 1) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "device state of %s: buffer '%s' has page tag %" G_GUINT64_FORMAT,
                        r->what, f->name, tag);
            return false;
        }
        if (!tag)
            continue;
        if (r->left < len) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "device state of %s: truncated in field '%s'", r->what, f->name);
            return false;
        }
        memcpy(copy + off, r->p, len);
        r->p += len;
        r->left -= len;
    }
    *(uint8_t **)p = copy;
    return true;
}

/* Decodes a GBytes into the scratch struct; the stage keeps a reference so an abort
 * frees it and a commit hands it to the live struct. */
static bool load_bytes(Reader *r, const VmStateField *f, uint8_t *p, GError **err)
{
    uint64_t n;
    if (!read_le(r, 4, &n, f->name, err))
        return false;
    if (n == 0xffffffffu) {
        *(GBytes **)p = NULL;
        return true;
    }
    if (n > f->count || n > r->left) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state of %s: field '%s' has %" G_GUINT64_FORMAT " bytes (at most %zu, %zu left)",
                    r->what, f->name, n, f->count, r->left);
        return false;
    }
    GBytes *b = g_bytes_new(r->p, (gsize)n);
    g_ptr_array_add(r->gbytes, b);
    r->p += n;
    r->left -= n;
    *(GBytes **)p = b;
    return true;
}

static bool load_fields(Reader *r, const VmStateDesc *d, uint8_t *base, size_t base_off, GError **err)
{
    for (const VmStateField *f = d->fields; f->name; f++) {
        if (f->version_added > r->version)
            continue; /* not in a stream this old: keeps its value */
        uint8_t *p = base + f->offset;
        if (f->type == VMS_BUFFER_PTR) {
            if (!load_buffer_ptr(r, f, p, err))
                return false;
            continue;
        }
        if (f->type == VMS_BYTES) {
            if (!load_bytes(r, f, p, err))
                return false;
            continue;
        }
        if (f->count) {
            uint64_t n;
            if (!read_le(r, 4, &n, f->name, err))
                return false;
            if (n != f->count) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                            "device state of %s: field '%s' has %" G_GUINT64_FORMAT " elements, expected %zu",
                            r->what, f->name, n, f->count);
                return false;
            }
        }
        for (size_t i = 0; i < field_elems(f); i++, p += field_stride(f)) {
            if (f->type == VMS_STRUCT) {
                if (!load_fields(r, f->sub, p, base_off + (size_t)(p - base), err))
                    return false;
                continue;
            }
            uint64_t v;
            if (!read_le(r, scalar_size(f->type), &v, f->name, err))
                return false;
            if (f->type == VMS_TIMER) {
                if ((int64_t)v < -1) {
                    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                                "device state of %s: timer '%s' expires at %" G_GINT64_FORMAT,
                                r->what, f->name, (int64_t)v);
                    return false;
                }
                TimerLoad tl = { base_off + (size_t)(p - base), (int64_t)v };
                g_array_append_val(r->timers, tl);
                continue;
            }
            if (f->type == VMS_I32)
                v = (uint64_t)(int64_t)(int32_t)(uint32_t)v;
            if (!value_ok(f, v, err, r->what, i))
                return false;
            store_scalar(f->type, p, v);
        }
    }
    return true;
}

struct VmStateStaged {
    const VmStateDesc *desc;
    uint8_t *state;   /* the live struct */
    uint8_t *scratch; /* decoded copy */
    uint32_t version; /* of the stream: which fields it carried */
    GArray *timers;
    GPtrArray *bufs;  /* decoded heap buffers, pointed at by the scratch struct */
    GPtrArray *gbytes; /* decoded GBytes (a reference each) */
};

/* Copies the described fields (not timers or anything undescribed) from src to dst. */
static void copy_fields(const VmStateDesc *d, uint8_t *dst, const uint8_t *src, uint32_t version)
{
    for (const VmStateField *f = d->fields; f->name; f++) {
        if (f->version_added > version || f->type == VMS_TIMER)
            continue;
        if (f->type == VMS_BUFFER_PTR) {
            /* Into the live buffer; the pointer is wiring and stays. */
            memcpy(*(uint8_t **)(dst + f->offset), *(uint8_t *const *)(src + f->offset), f->count);
        } else if (f->type == VMS_BYTES) {
            GBytes **live = (GBytes **)(dst + f->offset);
            GBytes *loaded = *(GBytes *const *)(src + f->offset);
            if (*live)
                g_bytes_unref(*live);
            *live = loaded ? g_bytes_ref(loaded) : NULL;
        } else if (f->type == VMS_STRUCT) {
            for (size_t i = 0; i < field_elems(f); i++)
                copy_fields(f->sub, dst + f->offset + i * f->elem_size,
                            src + f->offset + i * f->elem_size, version);
        } else {
            memcpy(dst + f->offset, src + f->offset, field_elems(f) * field_stride(f));
        }
    }
}

VmStateStaged *vmstate_load_prepare(const VmStateDesc *desc, const char *class_name,
                                    const char *id, void *state, size_t state_size,
                                    const uint8_t *buf, size_t len, size_t *consumed,
                                    GError **err)
{
    VmStateSectionInfo info;
    if (!vmstate_section_peek(buf, len, &info, err))
        return NULL;
    if (info.class_len != strlen(class_name) || memcmp(info.class_name, class_name, info.class_len)) {
        g_autofree char *c = g_strndup(info.class_name, info.class_len);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state: section is for class '%s', not '%s'", c, class_name);
        return NULL;
    }
    if (info.id_len != strlen(id) || memcmp(info.id, id, info.id_len)) {
        g_autofree char *i = g_strndup(info.id, info.id_len);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state: section is for %s '%s', not '%s'", class_name, i, id);
        return NULL;
    }
    uint32_t min = desc->minimum_version ? desc->minimum_version : 1;
    if (info.version > desc->version || info.version < min) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "device state of %s %s: version %u is not supported (this build reads %u to %u)",
                    class_name, id, info.version, min, desc->version);
        return NULL;
    }
    size_t hdr = 4 + 2 + info.class_len + 2 + info.id_len + 4;
    g_autofree char *what = g_strdup_printf("%s %s", class_name, id);
    VmStateStaged *st = g_new0(VmStateStaged, 1);
    st->desc = desc;
    st->state = state;
    st->scratch = g_memdup2(state, state_size);
    st->timers = g_array_new(FALSE, FALSE, sizeof(TimerLoad));
    st->bufs = g_ptr_array_new_with_free_func(g_free);
    st->gbytes = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    Reader r = { buf + hdr, info.total_len - 4 - hdr, what, info.version, st->timers, st->bufs, st->gbytes };
    if (!load_fields(&r, desc, st->scratch, 0, err))
        goto fail;
    if (r.left) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state of %s: %zu bytes of trailing data", what, r.left);
        goto fail;
    }
    for (guint i = 0; i < st->timers->len; i++) {
        TimerLoad *tl = &g_array_index(st->timers, TimerLoad, i);
        if (!*(VTimer **)(st->scratch + tl->offset) && tl->expire >= 0) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "device state of %s: a timer is armed that this device does not have", what);
            goto fail;
        }
    }
    if (desc->check && !desc->check(st->scratch, err)) {
        g_prefix_error(err, "device state of %s: ", what);
        goto fail;
    }
    st->version = info.version;
    *consumed = info.total_len;
    return st;

fail:
    vmstate_load_abort(st);
    return NULL;
}

void vmstate_load_commit(VmStateStaged *st)
{
    copy_fields(st->desc, st->state, st->scratch, st->version);
    for (guint i = 0; i < st->timers->len; i++) {
        TimerLoad *tl = &g_array_index(st->timers, TimerLoad, i);
        VTimer *t = *(VTimer **)(st->state + tl->offset);
        if (!t)
            continue;
        if (tl->expire >= 0)
            vtimer_mod(t, tl->expire);
        else
            vtimer_del(t);
    }
}

void vmstate_load_finish(VmStateStaged *st)
{
    if (st->desc->post_load)
        st->desc->post_load(st->state);
    vmstate_load_abort(st);
}

void vmstate_load_abort(VmStateStaged *st)
{
    if (!st)
        return;
    g_array_free(st->timers, TRUE);
    g_ptr_array_free(st->bufs, TRUE);
    g_ptr_array_free(st->gbytes, TRUE);
    g_free(st->scratch);
    g_free(st);
}

bool vmstate_load(const VmStateDesc *desc, const char *class_name, const char *id, void *state,
                  size_t state_size, const uint8_t *buf, size_t len, GError **err)
{
    size_t used;
    VmStateStaged *st = vmstate_load_prepare(desc, class_name, id, state, state_size, buf, len,
                                             &used, err);
    if (!st)
        return false;
    if (used != len) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "device state of %s %s: %zu bytes of trailing data after the section",
                    class_name, id, len - used);
        vmstate_load_abort(st);
        return false;
    }
    vmstate_load_commit(st);
    vmstate_load_finish(st);
    return true;
}
