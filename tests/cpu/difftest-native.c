/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The native half of the differential test: reads cases from stdin (registers, flags,
 * a data page and code), runs each on the host CPU in user mode, and writes the final
 * registers, flags, data page and the exception that ended the run (INT3 at the end
 * of the code, or a fault) to stdout. Protocol: difftest-proto.h.
 * Built twice: as a 32-bit program (-m32, difftest-native) running the code in 32-bit
 * mode, and as a 64-bit one (difftest-native64) running it in 64-bit mode, for the
 * cases whose bytes mean the same there (difftest.c's portable set). Both load the
 * registers with 32-bit values and report their low halves. */
#define _GNU_SOURCE
#include "difftest-proto.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef __x86_64__
#define R(name) REG_R##name
#else
#define R(name) REG_E##name
#endif

static sigjmp_buf back;
static DiffResult result;

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    (void)si;
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    result.signal = (uint32_t)sig;
    result.vector = (uint32_t)g[REG_TRAPNO];
    result.error = (uint32_t)g[REG_ERR];
    result.regs[0] = (uint32_t)g[R(AX)];
    result.regs[1] = (uint32_t)g[R(CX)];
    result.regs[2] = (uint32_t)g[R(DX)];
    result.regs[3] = (uint32_t)g[R(BX)];
    result.regs[4] = (uint32_t)g[R(SP)];
    result.regs[5] = (uint32_t)g[R(BP)];
    result.regs[6] = (uint32_t)g[R(SI)];
    result.regs[7] = (uint32_t)g[R(DI)];
    result.eip = (uint32_t)g[R(IP)];
    result.eflags = (uint32_t)g[REG_EFL];
    siglongjmp(back, 1);
}

static int read_all(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = read(0, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_all(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t r = write(1, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Writes the entry stub: load EFLAGS and every register, then fall into the code.
 * The same bytes in 64-bit mode push the sign-extended imm32 and POPFQ it, and MOV
 * r32, imm32 zero-extends: every register starts with its upper half clear. */
static unsigned put_stub(uint8_t *p, const DiffCase *k)
{
    unsigned n = 0;
    p[n++] = 0x68; /* push imm32 */
    memcpy(p + n, &k->eflags, 4);
    n += 4;
    p[n++] = 0x9d; /* popfd */
    for (unsigned r = 0; r < 8; r++) {
        p[n++] = (uint8_t)(0xb8 + r); /* mov r32, imm32 (ESP last is fine: no stack use) */
        memcpy(p + n, &k->regs[r], 4);
        n += 4;
    }
    while (n < DIFF_STUB_LEN)
        p[n++] = 0x90;
    return n;
}

int main(void)
{
    uint8_t *data = mmap((void *)DIFF_DATA_ADDR, DIFF_DATA_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    uint8_t *code = mmap((void *)DIFF_STUB_ADDR, DIFF_CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (data != (void *)DIFF_DATA_ADDR || code != (void *)DIFF_STUB_ADDR) {
        fprintf(stderr, "difftest-native: cannot map the fixed test pages\n");
        return 3;
    }
    static uint8_t altstack[65536];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGTRAP, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);

    DiffCase k;
    while (read_all(&k, sizeof(k)) == 0) {
        if (k.magic != DIFF_MAGIC || k.code_len > DIFF_CODE_MAX)
            return 4;
        memcpy(data, k.data, DIFF_DATA_SIZE);
        memset(code, 0xcc, DIFF_CODE_SIZE);
        unsigned n = put_stub(code, &k);
        memcpy(code + n, k.code, k.code_len);
        __builtin___clear_cache((char *)code, (char *)code + DIFF_CODE_SIZE);
        memset(&result, 0, sizeof(result));
        if (sigsetjmp(back, 1) == 0) {
            void (*entry)(void) = (void (*)(void))code;
            entry();
        }
        result.magic = DIFF_MAGIC;
        memcpy(result.data, data, DIFF_DATA_SIZE);
        if (write_all(&result, sizeof(result)) < 0)
            return 5;
    }
    return 0;
}
