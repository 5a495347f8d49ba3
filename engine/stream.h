/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Little-endian integers in VM state streams (vmstate sections, the device list, the RAM
 * and whole-VM parts): one spelling for every writer and reader. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* Appends the n low bytes of v (n <= 8), least significant first. */
static inline void stream_put_le(GByteArray *out, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    g_byte_array_append(out, b, (guint)n);
}

/* Overwrites n bytes at offset at (already appended) with v. */
static inline void stream_set_le(GByteArray *out, guint at, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out->data[at + i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t stream_get_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline uint32_t stream_get_le32(const uint8_t *p)
{
    return (uint32_t)stream_get_le(p, 4);
}

static inline uint64_t stream_get_le64(const uint8_t *p)
{
    return stream_get_le(p, 8);
}
