/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/smp's work loop (work.asm) as a host program on 1 or more threads: how this
 * host scales a CPU-bound job by itself, printed beside the guests' speed-ups, since
 * a virtual host may give two busy threads less than two cores (steal time that it
 * does not report). Usage: native ITERS THREADS. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: native ITERS THREADS\n");
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
        if (pthread_create(&t[i], NULL, work, (void *)i) != 0) {
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
