/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the differential test and its native helpers (32- and 64-bit) exchange over pipes. */
#pragma once

#include <stdint.h>

#define DIFF_MAGIC 0x56444946u /* "FIDV" */
/* Addresses both sides use: a data page, then the entry stub and the code. */
#define DIFF_DATA_ADDR 0x00100000u
#define DIFF_DATA_SIZE 4096u
#define DIFF_STUB_ADDR 0x00102000u
#define DIFF_STUB_LEN 64u
#define DIFF_CODE_ADDR (DIFF_STUB_ADDR + DIFF_STUB_LEN)
#define DIFF_CODE_SIZE 8192u
#define DIFF_CODE_MAX (DIFF_CODE_SIZE - DIFF_STUB_LEN - 16)

typedef struct DiffCase {
    uint32_t magic;
    uint32_t code_len;
    uint32_t regs[8];      /* EAX ECX EDX EBX ESP EBP ESI EDI */
    uint32_t eflags;       /* loaded with POPFD: arithmetic flags and DF */
    uint8_t data[DIFF_DATA_SIZE];
    uint8_t code[DIFF_CODE_MAX];
} DiffCase;

typedef struct DiffResult {
    uint32_t magic;
    uint32_t signal;       /* the host signal that ended the run */
    uint32_t vector;       /* the exception vector (trap number) */
    uint32_t error;        /* its error code */
    uint32_t regs[8];      /* the low halves in 64-bit mode */
    uint32_t eip;
    uint32_t eflags;
    uint8_t data[DIFF_DATA_SIZE];
} DiffResult;
