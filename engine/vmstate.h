/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Declarative, versioned descriptions of a device's guest-visible state, and their
 * stream form.
 *
 * A VmStateDesc lists the fields of a state struct (offset, type, array length, the
 * version that added it, an optional range). vmstate_save appends one section to a
 * GByteArray; vmstate_load checks a section completely before anything changes: it
 * decodes into a scratch copy of the struct, runs the range checks and the
 * description's check hook on it, and only then copies the described fields into the
 * live struct, re-arms timers and runs post_load. On any error the live struct is
 * untouched and err says what was wrong in one line.
 *
 * Section format (all integers little-endian):
 *
 *   u32  length of the rest of the section, checksum included
 *   u16  class name length, then the class name (no NUL)
 *   u16  instance id length, then the instance id
 *   u32  state version
 *   ...  fields in description order: u8/u16/u32/u64/i32/i64 as such, bool as one
 *        byte 0 or 1; arrays and byte buffers as a u32 element count then the
 *        elements; a nested description as its fields; a timer as the i64
 *        virtual-clock expiry time, -1 when not armed; a GBytes as a u32 byte
 *        count (0xffffffff: none) then the bytes; a heap buffer as a u32 byte
 *        count then, per 4 KiB page (the last may be shorter), a tag byte 0 (all
 *        zeros, nothing follows) or 1 (the page's bytes follow)
 *   u32  CRC-32 (zlib) of everything above, from the length field on
 *
 * Fields a newer version added are absent from an older stream and keep the value the
 * struct had before the load. Wiring (pointers, callbacks, IRQ lines, chardevs) is never
 * described: post_load re-derives it from the loaded state (re-raises IRQ levels, asks
 * chardevs for input), and timers come back armed at their saved expiry. The caller
 * holds the engine lock and has set the virtual clock to the time of the save. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/timer.h"

typedef enum {
    VMS_U8,
    VMS_U16,
    VMS_U32,
    VMS_U64,
    VMS_I32,
    VMS_I64,
    VMS_BOOL,
    VMS_BUFFER, /* count bytes, no range check */
    VMS_STRUCT, /* count elements of sub, elem_size bytes apart */
    VMS_TIMER,  /* a VTimer * member: its expiry is saved, and re-armed on load */
    VMS_BUFFER_PTR, /* a uint8_t * member pointing at count bytes the device owns
                     * (sector buffers, video memory); zero pages are skipped */
    VMS_BYTES,      /* a GBytes * member of at most count bytes (NULL: none) whose size
                     * the device decides: state with no fixed shape (a GPU's resources),
                     * serialized by pre_save and parsed by check and post_load */
} VmStateType;

typedef struct VmStateDesc VmStateDesc;

typedef struct VmStateField {
    const char *name;
    VmStateType type;
    size_t offset;
    size_t count;           /* 0: a scalar; n: a fixed array (or buffer) of n */
    size_t elem_size;       /* VMS_STRUCT: sizeof one element */
    const VmStateDesc *sub; /* VMS_STRUCT */
    uint32_t version_added; /* 0 or 1: since the first version */
    bool ranged;            /* integer fields: reject values outside [min, max] */
    int64_t min, max;
} VmStateField;

struct VmStateDesc {
    const char *name;         /* for messages */
    uint32_t version;         /* what vmstate_save writes */
    uint32_t minimum_version; /* the oldest stream version load accepts (0: 1) */
    const VmStateField *fields; /* ends with a field whose name is NULL */
    /* Before save: fill derived fields from live data. */
    void (*pre_save)(void *state);
    /* On the decoded scratch copy, before anything changes: cross-field checks (FIFO
     * indices against sizes, a mode against its count). No side effects. */
    bool (*check)(const void *state, GError **err);
    /* After the fields were copied in and timers re-armed: re-derive wiring (IRQ
     * levels, chardev flow control). Cannot fail. */
    void (*post_load)(void *state);
};

/* Field constructors. The _Generic checks that the member has the type the field says,
 * so a struct change that would corrupt the stream fails to compile. */
#define VMS_OFF_(T, f, ctype) _Generic(((T *)0)->f, ctype: offsetof(T, f))
#define VMS_AOFF_(T, f, ctype) _Generic(((T *)0)->f[0], ctype: offsetof(T, f))
#define VMSTATE_U8(T, f) { .name = #f, .type = VMS_U8, .offset = VMS_OFF_(T, f, uint8_t) }
#define VMSTATE_U16(T, f) { .name = #f, .type = VMS_U16, .offset = VMS_OFF_(T, f, uint16_t) }
#define VMSTATE_U32(T, f) { .name = #f, .type = VMS_U32, .offset = VMS_OFF_(T, f, uint32_t) }
#define VMSTATE_U64(T, f) { .name = #f, .type = VMS_U64, .offset = VMS_OFF_(T, f, uint64_t) }
#define VMSTATE_I32(T, f) { .name = #f, .type = VMS_I32, .offset = VMS_OFF_(T, f, int32_t) }
#define VMSTATE_I64(T, f) { .name = #f, .type = VMS_I64, .offset = VMS_OFF_(T, f, int64_t) }
#define VMSTATE_BOOL(T, f) { .name = #f, .type = VMS_BOOL, .offset = VMS_OFF_(T, f, bool) }
/* An integer field whose loaded value must lie in [lo, hi]. */
#define VMSTATE_U8_RANGE(T, f, lo, hi) \
    { .name = #f, .type = VMS_U8, .offset = VMS_OFF_(T, f, uint8_t), .ranged = true, .min = (lo), .max = (hi) }
#define VMSTATE_U32_RANGE(T, f, lo, hi) \
    { .name = #f, .type = VMS_U32, .offset = VMS_OFF_(T, f, uint32_t), .ranged = true, .min = (lo), .max = (hi) }
#define VMSTATE_I32_RANGE(T, f, lo, hi) \
    { .name = #f, .type = VMS_I32, .offset = VMS_OFF_(T, f, int32_t), .ranged = true, .min = (lo), .max = (hi) }
#define VMSTATE_I64_RANGE(T, f, lo, hi) \
    { .name = #f, .type = VMS_I64, .offset = VMS_OFF_(T, f, int64_t), .ranged = true, .min = (lo), .max = (hi) }
#define VMSTATE_U8_ARRAY(T, f, n) \
    { .name = #f, .type = VMS_U8, .offset = VMS_AOFF_(T, f, uint8_t), .count = (n) }
#define VMSTATE_U32_ARRAY(T, f, n) \
    { .name = #f, .type = VMS_U32, .offset = VMS_AOFF_(T, f, uint32_t), .count = (n) }
#define VMSTATE_U64_ARRAY(T, f, n) \
    { .name = #f, .type = VMS_U64, .offset = VMS_AOFF_(T, f, uint64_t), .count = (n) }
#define VMSTATE_U16_RANGE(T, f, lo, hi) \
    { .name = #f, .type = VMS_U16, .offset = VMS_OFF_(T, f, uint16_t), .ranged = true, .min = (lo), .max = (hi) }
#define VMSTATE_U16_ARRAY(T, f, n) \
    { .name = #f, .type = VMS_U16, .offset = VMS_AOFF_(T, f, uint16_t), .count = (n) }
/* count bytes at the pointer member f; the pointer itself is wiring and must be set
 * (loading into a device whose pointer is NULL is refused). */
#define VMSTATE_BUFFER_PTR(T, f, n) \
    { .name = #f, .type = VMS_BUFFER_PTR, .offset = VMS_OFF_(T, f, uint8_t *), .count = (n) }
/* A GBytes * member of at most max bytes. On load the loaded GBytes (or NULL) replaces
 * the member's, which is unreferenced; check sees the decoded one. */
#define VMSTATE_BYTES(T, f, max) \
    { .name = #f, .type = VMS_BYTES, .offset = VMS_OFF_(T, f, GBytes *), .count = (max) }
#define VMSTATE_BUFFER(T, f) \
    { .name = #f, .type = VMS_BUFFER, .offset = VMS_AOFF_(T, f, uint8_t), .count = sizeof(((T *)0)->f) }
#define VMSTATE_STRUCT_ARRAY(T, f, n, ET, desc) \
    { .name = #f, .type = VMS_STRUCT, .offset = VMS_AOFF_(T, f, ET), .count = (n), \
      .elem_size = sizeof(ET), .sub = (desc) }
#define VMSTATE_STRUCT(T, f, ET, desc) \
    { .name = #f, .type = VMS_STRUCT, .offset = VMS_OFF_(T, f, ET), .count = 0, \
      .elem_size = sizeof(ET), .sub = (desc) }
#define VMSTATE_TIMER(T, f) { .name = #f, .type = VMS_TIMER, .offset = VMS_OFF_(T, f, VTimer *) }
#define VMSTATE_END { .name = NULL }

/* Appends one section describing state (lock held). */
void vmstate_save(GByteArray *out, const char *class_name, const char *id,
                  const VmStateDesc *desc, void *state);

/* The header of the section at buf, after its length and checksum were verified.
 * Names point into buf. */
typedef struct VmStateSectionInfo {
    const char *class_name;
    size_t class_len;
    const char *id;
    size_t id_len;
    uint32_t version;
    size_t total_len; /* bytes of the whole section */
} VmStateSectionInfo;
bool vmstate_section_peek(const uint8_t *buf, size_t len, VmStateSectionInfo *info, GError **err);

/* A decoded, checked section waiting to be committed into its live struct. */
typedef struct VmStateStaged VmStateStaged;
/* Decodes the section at buf (which must be for class_name/id) into a scratch copy of
 * state (state_size bytes) and checks it. *consumed gets the section's length. */
VmStateStaged *vmstate_load_prepare(const VmStateDesc *desc, const char *class_name,
                                    const char *id, void *state, size_t state_size,
                                    const uint8_t *buf, size_t len, size_t *consumed,
                                    GError **err);
/* Copies the fields in and re-arms timers; then post_load. A multi-device load commits
 * every device before running any post_load, so re-raised IRQ levels meet restored
 * receivers. */
void vmstate_load_commit(VmStateStaged *st);
void vmstate_load_finish(VmStateStaged *st); /* post_load, frees st */
void vmstate_load_abort(VmStateStaged *st);  /* frees st, nothing changed */

/* All of the above for one section that must fill buf exactly. */
bool vmstate_load(const VmStateDesc *desc, const char *class_name, const char *id, void *state,
                  size_t state_size, const uint8_t *buf, size_t len, GError **err);
