/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 93C46 Microwire EEPROM in 16-bit organisation (hw/net/eeprom93c46.h), after the
 * 93C46 data sheets' instruction set: a start bit, a 2-bit opcode and a 6-bit address
 * on DI at rising SK edges while CS is high. READ 10 shifts the word out (a dummy 0
 * first, then the word MSB first, continuing with the next words); WRITE 01 and
 * ERASE 11 change a word, 00 with address 11xxxx / 00xxxx enables / disables writes,
 * 10xxxx erases all and 01xxxx writes all. Writes complete at once: DO reads ready. */
#include "hw/net/eeprom93c46.h"

#include <string.h>

enum { EE_IDLE, EE_COMMAND, EE_READ, EE_WRITE_DATA, EE_WRAL_DATA, EE_DONE };

void eeprom93c46_reset(Eeprom93c46 *e)
{
    e->in = 0;
    e->in_bits = 0;
    e->addr = 0;
    e->state = EE_IDLE;
    e->out_pos = 0;
    e->out = 0;
    e->write_enabled = false;
    e->cs = e->sk = false;
    e->dout = true;
}

static void eeprom_command(Eeprom93c46 *e)
{
    unsigned op = (e->in >> 6) & 3, addr = e->in & 0x3f;
    e->addr = (uint8_t)addr;
    e->in = 0;
    e->in_bits = 0;
    switch (op) {
    case 2: /* READ: a dummy zero, then the words from addr on */
        e->state = EE_READ;
        e->out = e->data[addr];
        e->out_pos = 0;
        e->dout = false;
        break;
    case 1: /* WRITE: 16 data bits follow */
        e->state = EE_WRITE_DATA;
        break;
    case 3: /* ERASE */
        if (e->write_enabled)
            e->data[addr] = 0xffff;
        e->state = EE_DONE;
        break;
    default:
        switch (addr >> 4) {
        case 3: e->write_enabled = true; break;   /* EWEN */
        case 0: e->write_enabled = false; break;  /* EWDS */
        case 2:                                   /* ERAL */
            if (e->write_enabled)
                memset(e->data, 0xff, sizeof(e->data));
            break;
        case 1: /* WRAL: 16 data bits follow */
            e->state = EE_WRAL_DATA;
            return;
        }
        e->state = EE_DONE;
        break;
    }
}

static void eeprom_clock(Eeprom93c46 *e, bool di)
{
    switch (e->state) {
    case EE_IDLE:
        if (di) {   /* the start bit */
            e->state = EE_COMMAND;
            e->in = 0;
            e->in_bits = 0;
        }
        break;
    case EE_COMMAND:
        e->in = (uint16_t)(e->in << 1 | di);
        if (++e->in_bits == 8)
            eeprom_command(e);
        break;
    case EE_READ:
        e->dout = (e->out >> (15 - e->out_pos)) & 1;
        if (++e->out_pos == 16) {
            /* Sequential read: the next word follows. */
            e->addr = (e->addr + 1) % EEPROM93C46_WORDS;
            e->out = e->data[e->addr];
            e->out_pos = 0;
        }
        break;
    case EE_WRITE_DATA:
    case EE_WRAL_DATA:
        e->in = (uint16_t)(e->in << 1 | di);
        if (++e->in_bits == 16) {
            if (e->write_enabled) {
                if (e->state == EE_WRITE_DATA)
                    e->data[e->addr] = e->in;
                else
                    for (int i = 0; i < EEPROM93C46_WORDS; i++)
                        e->data[i] = e->in;
            }
            e->state = EE_DONE;
        }
        break;
    default:
        break;
    }
}

void eeprom93c46_pins(Eeprom93c46 *e, bool cs, bool sk, bool di)
{
    if (!cs) {
        /* Deselected: the command ends; DO shows ready (1) after a write. */
        e->state = EE_IDLE;
        e->in = 0;
        e->in_bits = 0;
        e->dout = true;
    } else if (sk && !e->sk) {
        eeprom_clock(e, di);
    }
    e->cs = cs;
    e->sk = sk;
}

bool eeprom93c46_dout(const Eeprom93c46 *e)
{
    return e->dout;
}

bool eeprom93c46_state_check(const Eeprom93c46 *e)
{
    return e->state <= EE_DONE && e->in_bits <= 16 && e->out_pos < 16 && e->addr < EEPROM93C46_WORDS;
}

static const VmStateField eeprom93c46_fields[] = {
    VMSTATE_U16_ARRAY(Eeprom93c46, data, EEPROM93C46_WORDS),
    VMSTATE_U16(Eeprom93c46, in),
    VMSTATE_U8(Eeprom93c46, in_bits),
    VMSTATE_U8(Eeprom93c46, addr),
    VMSTATE_U8(Eeprom93c46, state),
    VMSTATE_U8(Eeprom93c46, out_pos),
    VMSTATE_U32(Eeprom93c46, out),
    VMSTATE_BOOL(Eeprom93c46, write_enabled),
    VMSTATE_BOOL(Eeprom93c46, cs),
    VMSTATE_BOOL(Eeprom93c46, sk),
    VMSTATE_BOOL(Eeprom93c46, dout),
    VMSTATE_END,
};

const VmStateDesc eeprom93c46_vmsd = {
    .name = "eeprom93c46",
    .version = 1,
    .fields = eeprom93c46_fields,
};
