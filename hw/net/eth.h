/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the network cards share about Ethernet frames: address classes, the frame check
 * sequence, the multicast hash CRC, and the Internet checksum (RFC 1071) they insert
 * or verify. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_ALEN 6
#define ETH_HLEN 14
/* Shortest frame on the wire without its FCS: cards pad what they receive to it. */
#define ETH_ZLEN 60
#define ETH_FCS_LEN 4

static inline bool eth_is_multicast(const uint8_t *dst) { return dst[0] & 1; }
bool eth_is_broadcast(const uint8_t *dst);

/* The IEEE 802.3 FCS of a frame (CRC-32, as it goes on the wire: little-endian bytes). */
uint32_t eth_fcs(const uint8_t *frame, size_t len);
/* The CRC-32 computed most-significant bit first, whose top bits index the multicast
 * hash filters of the DP8390 and RTL8139. */
uint32_t eth_crc32_be(const uint8_t *buf, size_t len);

/* One's complement sum of big-endian 16-bit words, not yet folded (sum carries on). */
uint32_t eth_csum_add(uint32_t sum, const uint8_t *buf, size_t len);
/* Folds a sum to 16 bits. */
uint16_t eth_csum_fold(uint32_t sum);
/* Stores the complement of the checksum of buf[start, end) as a big-endian word at
 * buf[at]: what a card's checksum insertion does. Ranges outside len are ignored. */
void eth_csum_insert(uint8_t *buf, size_t len, size_t start, size_t end, size_t at);

static inline uint16_t eth_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t eth_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void eth_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void eth_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
