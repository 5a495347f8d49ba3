/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Ethernet frame helpers for the network cards (eth.h). */
#include "hw/net/eth.h"

#include <string.h>
#include <zlib.h>

bool eth_is_broadcast(const uint8_t *dst)
{
    static const uint8_t all[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    return !memcmp(dst, all, ETH_ALEN);
}

uint32_t eth_fcs(const uint8_t *frame, size_t len)
{
    return (uint32_t)crc32(0, frame, (uInt)len);
}

/* IEEE 802.3 polynomial 0x04C11DB7, bits of each byte taken least significant first
 * (the order they go on the wire), register shifted towards its top: the hash
 * hardware of these cards, whose index is the register's top bits. */
uint32_t eth_crc32_be(const uint8_t *buf, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = buf[i];
        for (int bit = 0; bit < 8; bit++, b >>= 1) {
            uint32_t carry = (crc >> 31) ^ (b & 1u);
            crc <<= 1;
            if (carry)
                crc ^= 0x04c11db7u;
        }
    }
    return crc;
}

uint32_t eth_csum_add(uint32_t sum, const uint8_t *buf, size_t len)
{
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        sum += (uint32_t)(buf[i] << 8 | buf[i + 1]);
    if (i < len)
        sum += (uint32_t)buf[i] << 8;
    /* Fold early enough that the sum never wraps (a 64 KiB buffer adds < 2^21). */
    return (sum & 0xffff) + (sum >> 16);
}

uint16_t eth_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

void eth_csum_insert(uint8_t *buf, size_t len, size_t start, size_t end, size_t at)
{
    if (end > len)
        end = len;
    if (start >= end || at + 2 > len)
        return;
    uint16_t c = (uint16_t)~eth_csum_fold(eth_csum_add(0, buf + start, end - start));
    eth_put16(buf + at, c);
}
