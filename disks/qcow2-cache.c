/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A write-back cache of whole metadata tables (L2 tables, refcount blocks).
 *
 * Dirty L2 tables may only reach the disk after the refcount blocks that count the
 * clusters they name (refcount before reference), so writing one first flushes the
 * refcount block cache and syncs the file. */
#include "disks/qcow2-internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct CacheEntry {
    uint64_t offset;     /* 0: empty slot */
    uint64_t last_used;
    unsigned pins;
    bool dirty;
    uint8_t *table;
} CacheEntry;

struct Qcow2Cache {
    Qcow2State *s;
    bool is_l2;
    unsigned capacity;
    CacheEntry *entries;
    GHashTable *by_offset;   /* offset -> slot index + 1 */
    GHashTable *by_table;    /* table pointer -> slot index + 1 */
    uint64_t clock;
    unsigned dirty_count;
};

Qcow2Cache *qcow2_cache_new(Qcow2State *s, unsigned capacity, bool is_l2)
{
    Qcow2Cache *c = g_new0(Qcow2Cache, 1);
    c->s = s;
    c->is_l2 = is_l2;
    c->capacity = capacity < 4 ? 4 : capacity;
    c->entries = g_new0(CacheEntry, c->capacity);
    c->by_offset = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    c->by_table = g_hash_table_new(g_direct_hash, g_direct_equal);
    return c;
}

void qcow2_cache_free(Qcow2Cache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->capacity; i++)
        free(c->entries[i].table);
    g_hash_table_destroy(c->by_offset);
    g_hash_table_destroy(c->by_table);
    g_free(c->entries);
    g_free(c);
}

unsigned qcow2_cache_capacity(Qcow2Cache *c)
{
    return c->capacity;
}

static int find_slot(Qcow2Cache *c, uint64_t offset)
{
    gpointer v = g_hash_table_lookup(c->by_offset, &offset);
    return v ? GPOINTER_TO_INT(v) - 1 : -1;
}

static int slot_of_table(Qcow2Cache *c, uint8_t *table)
{
    gpointer v = g_hash_table_lookup(c->by_table, table);
    g_assert(v);
    return GPOINTER_TO_INT(v) - 1;
}

static bool write_entry(Qcow2Cache *c, CacheEntry *e, GError **err)
{
    Qcow2State *s = c->s;
    if (!e->dirty)
        return true;
    if (c->is_l2) {
        /* Refcount before reference: the counts must be durable first. */
        if (!qcow2_cache_flush(s->refblock_cache, err) || !qcow2_sync(s, err))
            return false;
    }
    if (e->offset < s->cluster_size) {
        qcow2_signal_corruption(s, err, "refusing to write a %s over the image header",
                                c->is_l2 ? "L2 table" : "refcount block");
        return false;
    }
    if (!qcow2_host_write(s, e->offset, e->table, s->cluster_size, err))
        return false;
    e->dirty = false;
    c->dirty_count--;
    return true;
}

bool qcow2_cache_flush(Qcow2Cache *c, GError **err)
{
    if (c->dirty_count == 0)
        return true;
    /* Ascending offsets turn a burst of tables into mostly sequential writes. */
    GArray *order = g_array_new(FALSE, FALSE, sizeof(unsigned));
    for (unsigned i = 0; i < c->capacity; i++)
        if (c->entries[i].offset && c->entries[i].dirty)
            g_array_append_val(order, i);
    for (guint a = 1; a < order->len; a++) {
        unsigned key = g_array_index(order, unsigned, a);
        guint b = a;
        while (b > 0 && c->entries[g_array_index(order, unsigned, b - 1)].offset >
                            c->entries[key].offset) {
            g_array_index(order, unsigned, b) = g_array_index(order, unsigned, b - 1);
            b--;
        }
        g_array_index(order, unsigned, b) = key;
    }
    bool ok = true;
    for (guint a = 0; a < order->len && ok; a++)
        ok = write_entry(c, &c->entries[g_array_index(order, unsigned, a)], err);
    g_array_free(order, TRUE);
    return ok;
}

bool qcow2_cache_is_dirty(Qcow2Cache *c)
{
    return c->dirty_count > 0;
}

static void forget_slot(Qcow2Cache *c, int i)
{
    CacheEntry *e = &c->entries[i];
    if (!e->offset)
        return;
    g_hash_table_remove(c->by_offset, &e->offset);
    if (e->dirty)
        c->dirty_count--;
    e->offset = 0;
    e->dirty = false;
}

/* A slot to (re)use: an empty one, or the least recently used unpinned one. */
static int take_slot(Qcow2Cache *c, GError **err)
{
    int best = -1;
    for (unsigned i = 0; i < c->capacity; i++) {
        CacheEntry *e = &c->entries[i];
        if (e->pins)
            continue;
        if (!e->offset) {
            best = (int)i;
            break;
        }
        if (best < 0 || e->last_used < c->entries[best].last_used)
            best = (int)i;
    }
    if (best < 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_FAILED, "qcow2 metadata cache exhausted");
        return -1;
    }
    CacheEntry *e = &c->entries[best];
    if (e->offset && e->dirty && !write_entry(c, e, err))
        return -1;
    forget_slot(c, best);
    if (!e->table) {
        void *p;
        if (posix_memalign(&p, 4096, c->s->cluster_size) != 0) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_FAILED, "out of memory");
            return -1;
        }
        e->table = p;
        g_hash_table_insert(c->by_table, e->table, GINT_TO_POINTER(best + 1));
    }
    return best;
}

static void install(Qcow2Cache *c, int i, uint64_t offset)
{
    CacheEntry *e = &c->entries[i];
    e->offset = offset;
    e->last_used = ++c->clock;
    e->pins = 1;
    uint64_t *key = g_new(uint64_t, 1);
    *key = offset;
    g_hash_table_insert(c->by_offset, key, GINT_TO_POINTER(i + 1));
}

bool qcow2_cache_get(Qcow2Cache *c, uint64_t offset, uint8_t **table, GError **err)
{
    int i = find_slot(c, offset);
    if (i >= 0) {
        CacheEntry *e = &c->entries[i];
        e->pins++;
        e->last_used = ++c->clock;
        *table = e->table;
        return true;
    }
    if (!qcow2_check_table_location(c->s, offset, c->s->cluster_size,
                                    c->is_l2 ? "L2 table" : "refcount block", err))
        return false;
    i = take_slot(c, err);
    if (i < 0)
        return false;
    CacheEntry *e = &c->entries[i];
    if (!host_file_pread(c->s->file, offset, e->table, c->s->cluster_size, err))
        return false;
    install(c, i, offset);
    *table = e->table;
    return true;
}

bool qcow2_cache_get_new(Qcow2Cache *c, uint64_t offset, uint8_t **table, GError **err)
{
    int i = find_slot(c, offset);
    if (i >= 0) {
        /* A freed table's cluster came back: its old contents no longer matter. */
        c->entries[i].pins++;
    } else {
        i = take_slot(c, err);
        if (i < 0)
            return false;
        install(c, i, offset);
    }
    CacheEntry *e = &c->entries[i];
    memset(e->table, 0, c->s->cluster_size);
    if (!e->dirty) {
        e->dirty = true;
        c->dirty_count++;
    }
    *table = e->table;
    return true;
}

bool qcow2_cache_insert_clean(Qcow2Cache *c, uint64_t offset, const uint8_t *table,
                              GError **err)
{
    int i = find_slot(c, offset);
    if (i < 0) {
        i = take_slot(c, err);
        if (i < 0)
            return false;
        install(c, i, offset);
        c->entries[i].pins = 0;
    } else if (c->entries[i].dirty) {
        c->entries[i].dirty = false;
        c->dirty_count--;
    }
    memcpy(c->entries[i].table, table, c->s->cluster_size);
    return true;
}

void qcow2_cache_put(Qcow2Cache *c, uint8_t *table)
{
    CacheEntry *e = &c->entries[slot_of_table(c, table)];
    g_assert(e->pins > 0);
    e->pins--;
}

void qcow2_cache_mark_dirty(Qcow2Cache *c, uint8_t *table)
{
    CacheEntry *e = &c->entries[slot_of_table(c, table)];
    if (!e->dirty) {
        e->dirty = true;
        c->dirty_count++;
    }
}

void qcow2_cache_drop(Qcow2Cache *c, uint64_t offset)
{
    int i = find_slot(c, offset);
    if (i >= 0 && c->entries[i].pins == 0)
        forget_slot(c, i);
}
