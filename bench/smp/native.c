/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/smp's work loop (work.asm) as a host program on 1 or more threads: how this
 * host scales a CPU-bound job by itself, printed beside the guests' speed-ups, since
 * a virtual host may give two busy threads less than two cores (steal time that it
 * does not report). Usage: native ITERS THREADS [wide].
 *
 * The work loop is one chain of dependent operations, so a thread sharing a core with
 * another (SMT siblings of the physical host) loses little; "wide" runs six independent
 * adds a pass instead, which needs a core's issue width to itself, as a translated loop
 * with its extra host instructions does. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t per_thread;
static uint32_t results[64];

static void *work(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint32_t a = 12345, b = 0, d = 0;
    for (uint64_t n = per_thread; n; n--) {
        a = a * 1103515245u + 12345u;
        b ^= a;
        b = b << 5 | b >> 27;
        d += b;
        /* Keep the compiler from folding or vectorizing the loop: one step each pass. */
        __asm__ volatile("" : "+r"(d), "+r"(b), "+r"(a));
    }
    results[id] = d;
    return NULL;
}

static void *work_wide(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint64_t x0 = 0, x1 = 1, x2 = 2, x3 = 3, x4 = 4, x5 = 5;
    for (uint64_t n = per_thread; n; n--)
        __asm__ volatile("add $1, %0; add $3, %1; add $5, %2; add $7, %3; add $9, %4; add $11, %5"
                         : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5));
    results[id] = (uint32_t)(x0 + x1 + x2 + x3 + x4 + x5);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "wide"))) {
        fprintf(stderr, "usage: native ITERS THREADS [wide]\n");
        return 2;
    }
    uint64_t iters = strtoull(argv[1], NULL, 0);
    unsigned threads = (unsigned)strtoul(argv[2], NULL, 0);
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "native: THREADS must be 1-64\n");
        return 2;
    }
    per_thread = iters / threads;
    pthread_t t[64];
    for (uintptr_t i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, argc == 4 ? work_wide : work, (void *)i) != 0) {
            fprintf(stderr, "native: cannot start a thread\n");
            return 1;
        }
    uint32_t sum = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        sum += results[i];
    }
    printf("smp-bench: done %08x\n", sum);
    return 33;
}
