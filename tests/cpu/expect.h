/* SPDX-License-Identifier: GPL-2.0-or-later */
/* EXPECT(cond, fmt, ...) for the CPU test programs: a failed check prints where and why
 * and counts in `failures`; the program goes on and exits non-zero at the end. */
#pragma once

#include <stdio.h>

static int failures;

#define EXPECT(cond, ...)                                              \
    do {                                                               \
        if (!(cond)) {                                                 \
            printf("FAIL %s:%d: ", __func__, __LINE__);                \
            printf(__VA_ARGS__);                                       \
            printf("\n");                                              \
            failures++;                                                \
        }                                                              \
    } while (0)
