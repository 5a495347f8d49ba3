/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A 93C46 serial EEPROM (64 words of 16 bits, Microwire) as network cards wire it to
 * bit-banged register bits: chip select, clock and data in; data out. */
#pragma once

#include "engine/vmstate.h"

#include <stdbool.h>
#include <stdint.h>

#define EEPROM93C46_WORDS 64

typedef struct Eeprom93c46 {
    uint16_t data[EEPROM93C46_WORDS];
    /* The serial state: bits shifted in since chip select, the command's word, the
     * bit shifted out, whether writes are enabled (EWEN), the pins as last driven. */
    uint16_t in;
    uint8_t in_bits;
    uint8_t addr;
    uint8_t state;
    uint8_t out_pos;
    uint32_t out;
    bool write_enabled;
    bool cs, sk, dout;
} Eeprom93c46;

/* Contents are the owner's; the serial state starts idle. */
void eeprom93c46_reset(Eeprom93c46 *e);
/* The pins as software drives them; commands are taken on rising clock edges. */
void eeprom93c46_pins(Eeprom93c46 *e, bool cs, bool sk, bool di);
/* The data-out pin. */
bool eeprom93c46_dout(const Eeprom93c46 *e);
bool eeprom93c46_state_check(const Eeprom93c46 *e);

extern const VmStateDesc eeprom93c46_vmsd;
