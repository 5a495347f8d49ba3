/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The differential program: a static 32-bit Linux executable that runs integer, x87,
 * MMX, SSE and SSE2 instructions over fixed operands and prints every result and the
 * flags the architecture defines (SSE3 included; SSE4.1, SSE4.2, CRC32 and LZCNT in a
 * section of their own that runs where CPUID has them). Run natively on the host and inside a Linux guest
 * under Vireo, its outputs must be equal; lines starting with "model:" hold results
 * the SDM leaves to the implementation (RCPPS/RSQRTPS precision) and are compared
 * only when both sides run on the same host CPU model.
 * Built as a 64-bit program too, it is the reference on hosts that cannot run 32-bit
 * programs: same lines in the same order, except that a form that does not exist in
 * 64-bit mode prints NOT64 and its line's key instead of its result.
 * Build: gcc -m32 -static -O1 -msse3 -o diff32 diff32.c
 *        gcc -O1 -msse3 -mno-red-zone -o diff32-64 diff32.c
 * (no red zone: the PUSHF in the asm statements writes below RSP). */
#include <nmmintrin.h>
#include <pmmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define OF 0x800u
#define ARITH (CF | PF | AF | ZF | SF | OF)

/* Loading and saving the flags through the stack: PUSH/POP take a 64-bit register in
 * 64-bit mode. Flags inputs are unsigned long, so their upper half is zero there. */
#ifdef __x86_64__
#define SET_FLAGS(op) "push %q[" #op "]\n\tpopf\n\t"
#define GET_FLAGS(op) "\n\tpushf\n\tpop %q[" #op "]"
#else
#define SET_FLAGS(op) "push %[" #op "]\n\tpopf\n\t"
#define GET_FLAGS(op) "\n\tpushf\n\tpop %[" #op "]"
#endif

/* Marks, in the 64-bit build, a line whose instruction is invalid in 64-bit mode. */
#define NOT64 "not64: "

static const uint32_t vals[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x12345678,
                                 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xdeadbeef };
#define NV (sizeof(vals) / sizeof(vals[0]))

/* r = a op b with the flags in fin, flags out. */
#define ALU(insn, a, b, fin, r, f)                                                   \
    __asm__ volatile(SET_FLAGS(fi) insn " %[b], %[r]" GET_FLAGS(f)                   \
                     : [r] "=&r"(r), [f] "=&r"(f)                                     \
                     : "[r]"(a), [b] "r"(b), [fi] "r"(fin)                            \
                     : "cc")

static void test_alu(void)
{
    for (unsigned x = 0; x < NV; x++)
        for (unsigned y = 0; y < NV; y++) {
            uint32_t a = vals[x], b = vals[y], r, f;
            for (uint32_t cin = 0; cin < 2; cin++) {
                unsigned long fin = 0x202 | cin;
                ALU("addl", a, b, fin, r, f);
                printf("add %08x %08x %u: %08x %03x\n", a, b, cin, r, f & ARITH);
                ALU("adcl", a, b, fin, r, f);
                printf("adc %08x %08x %u: %08x %03x\n", a, b, cin, r, f & ARITH);
                ALU("subl", a, b, fin, r, f);
                printf("sub %08x %08x %u: %08x %03x\n", a, b, cin, r, f & ARITH);
                ALU("sbbl", a, b, fin, r, f);
                printf("sbb %08x %08x %u: %08x %03x\n", a, b, cin, r, f & ARITH);
            }
            unsigned long fin = 0x202;
            /* AF is undefined after logic ops; SF ZF PF AF after IMUL. */
            ALU("andl", a, b, fin, r, f);
            printf("and %08x %08x: %08x %03x\n", a, b, r, f & (ARITH & ~AF));
            ALU("xorl", a, b, fin, r, f);
            printf("xor %08x %08x: %08x %03x\n", a, b, r, f & (ARITH & ~AF));
            ALU("imull", a, b, fin, r, f);
            printf("imul %08x %08x: %08x %03x\n", a, b, r, f & (CF | OF));
            uint32_t lo, hi;
            __asm__("mull %2" : "=a"(lo), "=d"(hi) : "r"(b), "0"(a) : "cc");
            printf("mul %08x %08x: %08x%08x\n", a, b, hi, lo);
            if (b) {
                uint32_t q, rem;
                __asm__("divl %4" : "=a"(q), "=d"(rem) : "0"(a), "1"(0), "r"(b));
                printf("div %08x %08x: %08x %08x\n", a, b, q, rem);
            }
            /* 8- and 16-bit forms through the same values */
            uint16_t a16 = (uint16_t)a, b16 = (uint16_t)b, r16;
            __asm__ volatile(SET_FLAGS(fi) "addw %[b], %[r]" GET_FLAGS(f)
                             : [r] "=&r"(r16), [f] "=&r"(f) : "[r]"(a16), [b] "r"(b16), [fi] "r"(fin) : "cc");
            printf("add16 %04x %04x: %04x %03x\n", a16, b16, r16, f & ARITH);
            uint8_t a8 = (uint8_t)a, b8 = (uint8_t)b, r8;
            __asm__ volatile(SET_FLAGS(fi) "subb %[b], %[r]" GET_FLAGS(f)
                             : [r] "=&q"(r8), [f] "=&r"(f) : "[r]"(a8), [b] "q"(b8), [fi] "r"(fin) : "cc");
            printf("sub8 %02x %02x: %02x %03x\n", a8, b8, r8, f & ARITH);
        }
}

#define SHIFT(insn, a, n, r, f)                                                     \
    __asm__ volatile(SET_FLAGS(fi) insn " %%cl, %[r]" GET_FLAGS(f)                   \
                     : [r] "=&r"(r), [f] "=&r"(f)                                   \
                     : "[r]"(a), "c"(n), [fi] "r"(0x202ul)                          \
                     : "cc")

static void test_shift(void)
{
    static const uint8_t counts[] = { 0, 1, 2, 7, 8, 15, 16, 31 };
    for (unsigned x = 0; x < NV; x++)
        for (unsigned k = 0; k < sizeof(counts); k++) {
            uint32_t a = vals[x], n = counts[k], r, f;
            /* OF only for 1-bit shifts; AF undefined; for rotates only CF (and OF at 1). */
            uint32_t m = (n == 1 ? OF : 0) | (n ? CF | ZF | SF | PF : 0);
            uint32_t mr = (n == 1 ? OF : 0) | (n ? CF : 0);
            SHIFT("shll", a, n, r, f);
            printf("shl %08x %u: %08x %03x\n", a, n, r, f & m);
            SHIFT("shrl", a, n, r, f);
            printf("shr %08x %u: %08x %03x\n", a, n, r, f & m);
            SHIFT("sarl", a, n, r, f);
            printf("sar %08x %u: %08x %03x\n", a, n, r, f & m);
            SHIFT("roll", a, n, r, f);
            printf("rol %08x %u: %08x %03x\n", a, n, r, f & mr);
            SHIFT("rorl", a, n, r, f);
            printf("ror %08x %u: %08x %03x\n", a, n, r, f & mr);
            SHIFT("rcll", a, n, r, f);
            printf("rcl %08x %u: %08x %03x\n", a, n, r, f & mr);
            uint32_t b = 0x9abcdef0;
            __asm__ volatile("shldl %%cl, %[b], %[r]" GET_FLAGS(f)
                             : [r] "=&r"(r), [f] "=&r"(f) : "[r]"(a), [b] "r"(b), "c"(n) : "cc");
            printf("shld %08x %u: %08x %03x\n", a, n, r, f & (n ? CF | ZF | SF | PF : 0));
            __asm__ volatile("bsfl %[a], %[r]" GET_FLAGS(f) : [r] "=&r"(r), [f] "=&r"(f) : "[r]"(0u), [a] "r"(a) : "cc");
            if (a)
                printf("bsf %08x: %u\n", a, r);
        }
}

#ifdef __i386__
static void test_bcd(void)
{
    for (unsigned a = 0; a < 256; a += 3) {
        for (unsigned cf = 0; cf < 2; cf++) {
            uint32_t ax = a, f;
            __asm__ volatile("push %[fi]\n\tpopf\n\tdaa\n\tpushf\n\tpop %[f]"
                             : "+a"(ax), [f] "=&r"(f) : [fi] "r"(0x202u | cf | (a & 0x10 ? AF : 0)) : "cc");
            printf("daa %02x %u: %02x %03x\n", a, cf, ax & 0xff, f & (CF | AF | ZF | SF | PF));
            ax = a;
            __asm__ volatile("push %[fi]\n\tpopf\n\tdas\n\tpushf\n\tpop %[f]"
                             : "+a"(ax), [f] "=&r"(f) : [fi] "r"(0x202u | cf | (a & 0x20 ? AF : 0)) : "cc");
            printf("das %02x %u: %02x %03x\n", a, cf, ax & 0xff, f & (CF | AF | ZF | SF | PF));
            ax = 0x0100 | a;
            __asm__ volatile("push %[fi]\n\tpopf\n\taaa\n\tpushf\n\tpop %[f]"
                             : "+a"(ax), [f] "=&r"(f) : [fi] "r"(0x202u | (cf ? AF : 0)) : "cc");
            printf("aaa %02x %u: %04x %03x\n", a, cf, ax & 0xffff, f & (CF | AF));
        }
        uint32_t ax = a, f;
        __asm__ volatile("aam\n\tpushf\n\tpop %[f]" : "+a"(ax), [f] "=&r"(f) : : "cc");
        printf("aam %02x: %04x %03x\n", a, ax & 0xffff, f & (ZF | SF | PF));
        ax = 0x0300 | a;
        __asm__ volatile("aad\n\tpushf\n\tpop %[f]" : "+a"(ax), [f] "=&r"(f) : : "cc");
        printf("aad %02x: %04x %03x\n", a, ax & 0xffff, f & (ZF | SF | PF));
    }
}
#else
/* DAA, DAS, AAA, AAM and AAD are invalid opcodes in 64-bit mode: print the keys of the
 * 32-bit build's lines, in its order, for the runner to count them as not compared. */
static void test_bcd(void)
{
    for (unsigned a = 0; a < 256; a += 3) {
        for (unsigned cf = 0; cf < 2; cf++) {
            printf(NOT64 "daa %02x %u\n", a, cf);
            printf(NOT64 "das %02x %u\n", a, cf);
            printf(NOT64 "aaa %02x %u\n", a, cf);
        }
        printf(NOT64 "aam %02x\n", a);
        printf(NOT64 "aad %02x\n", a);
    }
}
#endif

static void test_string(void)
{
    static char src[300], dst[300];
    for (unsigned k = 0; k < sizeof(src); k++)
        src[k] = (char)(k * 7 + 3);
    for (unsigned len = 0; len < 40; len += 7) {
        memset(dst, 0, sizeof(dst));
        void *s = src + 1, *d = dst + 3;
        unsigned long n = len; /* the count register is RCX in 64-bit mode */
        __asm__ volatile("rep movsb" : "+S"(s), "+D"(d), "+c"(n) : : "memory");
        uint32_t sum = 0;
        for (unsigned k = 0; k < sizeof(dst); k++)
            sum = sum * 31 + (uint8_t)dst[k];
        printf("movsb %u: %08x %u\n", len, sum, (unsigned)n);
        d = dst;
        n = len / 4 + 1;
        __asm__ volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(0xa5a5a5a5u) : "memory");
        s = src;
        d = dst;
        n = 200;
        uint32_t f;
        dst[len] = src[len] ^ 1;
        memcpy(dst, src, len);
        __asm__ volatile("repe cmpsb" GET_FLAGS(f) : "+S"(s), "+D"(d), "+c"(n), [f] "=r"(f) : : "memory", "cc");
        printf("cmpsb %u: %u %03x\n", len, (unsigned)n, f & ARITH);
        d = src;
        n = 300;
        __asm__ volatile("repne scasb" GET_FLAGS(f) : "+D"(d), "+c"(n), [f] "=r"(f) : "a"(src[len * 3]) : "memory", "cc");
        printf("scasb %u: %u %03x\n", len, (unsigned)n, f & ARITH);
    }
}

/* ---- x87 ---- */

static void print_ld(const char *what, long double v, uint16_t sw)
{
    unsigned char b[10];
    memcpy(b, &v, 10);
    printf("%s: %02x%02x %02x%02x%02x%02x%02x%02x%02x%02x sw %04x\n", what, b[9], b[8], b[7], b[6],
           b[5], b[4], b[3], b[2], b[1], b[0], sw);
}

static const double fvals[] = { 0.0, -0.0, 1.0, -1.5, 3.141592653589793, 1e-310, 1e300, -7.25e-5,
                                123456789.125, 0.1, __builtin_inf(), -__builtin_inf(), __builtin_nan("") };
#define NF (sizeof(fvals) / sizeof(fvals[0]))

/* One x87 operation on ST0 = a, ST1 = b with control word cw; result ST0 and the
 * status word's exception flags and condition codes. */
#define X87_2(insn, name)                                                                \
    static void name(double a, double b, uint16_t cw, long double *r, uint16_t *sw)     \
    {                                                                                   \
        long double out;                                                                \
        uint16_t s;                                                                     \
        __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldl %[b]\n\tfldl %[a]\n\t" insn      \
                         "\n\tfnstsw %[s]\n\tfstpt %[o]\n\tfninit"                        \
                         : [o] "=m"(out), [s] "=m"(s)                                    \
                         : [a] "m"(a), [b] "m"(b), [cw] "m"(cw));                       \
        *r = out;                                                                       \
        *sw = s;                                                                        \
    }
X87_2("fadd %%st(1), %%st", x_add)
X87_2("fsub %%st(1), %%st", x_sub)
X87_2("fmul %%st(1), %%st", x_mul)
X87_2("fdiv %%st(1), %%st", x_div)
X87_2("fdivr %%st(1), %%st", x_divr)
X87_2("fprem", x_prem)
X87_2("fprem1", x_prem1)
X87_2("fscale", x_scale)
X87_2("fpatan\n\tfld1", x_patan)
X87_2("fyl2x\n\tfld1", x_yl2x)
X87_2("fyl2xp1\n\tfld1", x_yl2xp1)
X87_2("fsqrt", x_sqrt)
X87_2("fsin", x_sin)
X87_2("fcos", x_cos)
X87_2("fptan", x_ptan)
X87_2("fsincos", x_sincos)
X87_2("f2xm1", x_f2xm1)
X87_2("frndint", x_rndint)
X87_2("fxtract", x_xtract)
X87_2("fcom", x_com)
X87_2("fucom", x_ucom)
X87_2("fxam", x_xam)
X87_2("ftst", x_tst)
X87_2("fabs\n\tfchs", x_abschs)

static void test_x87(void)
{
    static const struct {
        const char *name;
        void (*fn)(double, double, uint16_t, long double *, uint16_t *);
        unsigned sw_mask; /* the condition codes the instruction defines */
    } ops[] = {
        { "fadd", x_add, 0x023f }, { "fsub", x_sub, 0x023f }, { "fmul", x_mul, 0x023f },
        { "fdiv", x_div, 0x023f }, { "fdivr", x_divr, 0x023f }, { "fprem", x_prem, 0x473f },
        { "fprem1", x_prem1, 0x473f }, { "fscale", x_scale, 0x023f }, { "fpatan", x_patan, 0x003f },
        { "fyl2x", x_yl2x, 0x003f }, { "fyl2xp1", x_yl2xp1, 0x003f }, { "fsqrt", x_sqrt, 0x023f },
        { "fsin", x_sin, 0x063f }, { "fcos", x_cos, 0x063f }, { "fptan", x_ptan, 0x063f },
        { "fsincos", x_sincos, 0x063f }, { "f2xm1", x_f2xm1, 0x023f }, { "frndint", x_rndint, 0x023f },
        { "fxtract", x_xtract, 0x003f }, { "fcom", x_com, 0x453f }, { "fucom", x_ucom, 0x453f },
        { "fxam", x_xam, 0x4700 }, { "ftst", x_tst, 0x453f }, { "fabschs", x_abschs, 0x023f },
    };
    static const uint16_t cws[] = { 0x037f, 0x007f, 0x027f, 0x077f, 0x0b7f, 0x0f7f };
    char name[64];
    for (unsigned o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
        for (unsigned c = 0; c < sizeof(cws) / sizeof(cws[0]); c++)
            for (unsigned x = 0; x < NF; x++)
                for (unsigned y = 0; y < NF; y += (c ? 3 : 1)) {
                    long double r;
                    uint16_t sw;
                    ops[o].fn(fvals[x], fvals[y], cws[c], &r, &sw);
                    snprintf(name, sizeof(name), "%s %04x %u %u", ops[o].name, cws[c], x, y);
                    print_ld(name, r, sw & ops[o].sw_mask);
                }
    /* conversions to integers and BCD under each rounding control */
    static const double cv[] = { 2.5, -2.5, 3.5, -0.5, 1e10, -32768.7, 65535.9, 1e19, 99999999999999999.0 };
    for (unsigned c = 0; c < sizeof(cws) / sizeof(cws[0]); c++)
        for (unsigned k = 0; k < sizeof(cv) / sizeof(cv[0]); k++) {
            int16_t i16;
            int32_t i32;
            int64_t i64;
            unsigned char bcd[10];
            uint16_t s1, s2, s3, s4, cw = cws[c];
            __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldl %[v]\n\tfists %[w]\n\tfnstsw %[s1]\n\tfnclex\n\t"
                             "fistl %[l]\n\tfnstsw %[s2]\n\tfnclex\n\tfld %%st\n\tfistpll %[q]\n\tfnstsw %[s3]\n\t"
                             "fnclex\n\tfbstp %[b]\n\tfnstsw %[s4]\n\tfninit"
                             : [w] "=m"(i16), [l] "=m"(i32), [q] "=m"(i64), [b] "=m"(bcd), [s1] "=m"(s1),
                               [s2] "=m"(s2), [s3] "=m"(s3), [s4] "=m"(s4)
                             : [v] "m"(cv[k]), [cw] "m"(cw));
            int16_t t16;
            int32_t t32;
            int64_t t64;
            uint16_t s5;
            __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldl %[v]\n\tfld %%st\n\tfld %%st\n\tfisttps %[w]\n\t"
                             "fisttpl %[l]\n\tfisttpll %[q]\n\tfnstsw %[s]\n\tfninit"
                             : [w] "=m"(t16), [l] "=m"(t32), [q] "=m"(t64), [s] "=m"(s5)
                             : [v] "m"(cv[k]), [cw] "m"(cw));
            printf("fisttp %04x %u: %04x %08x %016llx sw %04x\n", cw, k, (uint16_t)t16, (uint32_t)t32,
                   (unsigned long long)t64, s5 & 0x3f);
            printf("fist %04x %u: %04x %08x %016llx %02x%02x%02x%02x%02x%02x%02x%02x%02x%02x sw %04x %04x %04x %04x\n",
                   cw, k, (uint16_t)i16, (uint32_t)i32, (unsigned long long)i64, bcd[9], bcd[8], bcd[7], bcd[6],
                   bcd[5], bcd[4], bcd[3], bcd[2], bcd[1], bcd[0], s1 & 0x3f, s2 & 0x3f, s3 & 0x3f, s4 & 0x3f);
        }
    /* loads, constants, stores to float/double, FCOMI, FCMOV, stack faults */
    for (unsigned x = 0; x < NF; x++) {
        float f;
        double d;
        uint16_t s1, s2;
        uint32_t fl;
        __asm__ volatile("fninit\n\tfldl %[v]\n\tfsts %[f]\n\tfnstsw %[s1]\n\tfnclex\n\tfstpl %[d]\n\tfnstsw %[s2]"
                         : [f] "=m"(f), [d] "=m"(d), [s1] "=m"(s1), [s2] "=m"(s2) : [v] "m"(fvals[x]));
        uint32_t fb;
        uint64_t db;
        memcpy(&fb, &f, 4);
        memcpy(&db, &d, 8);
        printf("fst %u: %08x %016llx sw %04x %04x\n", x, fb, (unsigned long long)db, s1 & 0x23f, s2 & 0x23f);
        for (unsigned y = 0; y < NF; y++) {
            uint32_t fu;
            __asm__ volatile("fninit\n\tfldl %[b]\n\tfldl %[a]\n\tfcomi %%st(1), %%st" GET_FLAGS(f) "\n\t"
                             "fucomi %%st(1), %%st" GET_FLAGS(g) "\n\tfnstsw %[s]\n\tfninit"
                             : [f] "=r"(fl), [g] "=r"(fu), [s] "=m"(s1) : [a] "m"(fvals[x]), [b] "m"(fvals[y]) : "cc");
            printf("fcomi %u %u: %03x %03x sw %04x\n", x, y, fl & ARITH, fu & ARITH, s1 & 0x3f);
        }
    }
    static const char *kn[] = { "fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz" };
    for (unsigned c = 0; c < sizeof(cws) / sizeof(cws[0]); c++) {
        long double k[7];
        uint16_t cw = cws[c];
        __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfld1\n\tfstpt %[k0]\n\tfldl2t\n\tfstpt %[k1]\n\tfldl2e\n\tfstpt %[k2]\n\t"
                         "fldpi\n\tfstpt %[k3]\n\tfldlg2\n\tfstpt %[k4]\n\tfldln2\n\tfstpt %[k5]\n\tfldz\n\tfstpt %[k6]"
                         : [k0] "=m"(k[0]), [k1] "=m"(k[1]), [k2] "=m"(k[2]), [k3] "=m"(k[3]), [k4] "=m"(k[4]),
                           [k5] "=m"(k[5]), [k6] "=m"(k[6])
                         : [cw] "m"(cw));
        for (unsigned j = 0; j < 7; j++) {
            char nm[32];
            snprintf(nm, sizeof(nm), "%s %04x", kn[j], cw);
            print_ld(nm, k[j], 0);
        }
    }
    /* stack overflow and underflow (masked), FXAM of empty, FSTENV image fields */
    uint16_t s1, s2, env[14];
    long double top;
    __asm__ volatile("fninit\n\t" "fld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\t"
                     "fnstsw %[s1]\n\tfstpt %[t]\n\tfninit\n\tfadd %%st(1), %%st\n\tfnstsw %[s2]\n\tfnstenv %[e]\n\tfninit"
                     : [s1] "=m"(s1), [s2] "=m"(s2), [t] "=m"(top), [e] "=m"(env));
    print_ld("overflow", top, s1);
    printf("underflow: sw %04x env cw %04x sw %04x tw %04x\n", s2, env[0], env[2], env[4]);
    /* FCMOV */
    for (unsigned k = 0; k < 4; k++) {
        long double r;
        unsigned long fin = 0x202 | (k & 1 ? CF : 0) | (k & 2 ? ZF : 0);
        __asm__ volatile("fninit\n\tfldz\n\tfld1\n\t" SET_FLAGS(fi) "fcmovbe %%st(1), %%st\n\tfstpt %[r]\n\tfninit"
                         : [r] "=m"(r) : [fi] "r"(fin) : "cc");
        print_ld("fcmovbe", r, (uint16_t)k);
    }
}

/* ---- MMX ---- */

static const uint64_t mvals[] = { 0, 0x0123456789abcdefull, 0x8000800080008000ull, 0x7fff7fff7fff7fffull,
                                  0xffffffffffffffffull, 0x00ff00ff80017f02ull, 0xfedcba9876543210ull };
#define NM (sizeof(mvals) / sizeof(mvals[0]))

#define MMX_OP(insn)                                                                    \
    do {                                                                                \
        uint64_t r;                                                                     \
        __asm__ volatile("movq %[a], %%mm0\n\tmovq %[b], %%mm1\n\t" insn " %%mm1, %%mm0\n\t" \
                         "movq %%mm0, %[r]\n\temms"                                     \
                         : [r] "=m"(r) : [a] "m"(a), [b] "m"(b) : "mm0", "mm1");        \
        printf("%s %016llx %016llx: %016llx\n", insn, (unsigned long long)a,            \
               (unsigned long long)b, (unsigned long long)r);                           \
    } while (0)

static void test_mmx(void)
{
    for (unsigned x = 0; x < NM; x++)
        for (unsigned y = 0; y < NM; y++) {
            uint64_t a = mvals[x], b = mvals[y];
            MMX_OP("paddb"); MMX_OP("paddw"); MMX_OP("paddd"); MMX_OP("paddsb"); MMX_OP("paddsw");
            MMX_OP("paddusb"); MMX_OP("paddusw"); MMX_OP("psubb"); MMX_OP("psubw"); MMX_OP("psubd");
            MMX_OP("psubsb"); MMX_OP("psubsw"); MMX_OP("psubusb"); MMX_OP("psubusw");
            MMX_OP("pcmpeqb"); MMX_OP("pcmpeqw"); MMX_OP("pcmpeqd"); MMX_OP("pcmpgtb");
            MMX_OP("pcmpgtw"); MMX_OP("pcmpgtd"); MMX_OP("pmullw"); MMX_OP("pmulhw"); MMX_OP("pmaddwd");
            MMX_OP("packsswb"); MMX_OP("packssdw"); MMX_OP("packuswb"); MMX_OP("punpcklbw");
            MMX_OP("punpcklwd"); MMX_OP("punpckldq"); MMX_OP("punpckhbw"); MMX_OP("punpckhwd");
            MMX_OP("punpckhdq"); MMX_OP("pand"); MMX_OP("pandn"); MMX_OP("por"); MMX_OP("pxor");
            MMX_OP("psllw"); MMX_OP("pslld"); MMX_OP("psllq"); MMX_OP("psrlw"); MMX_OP("psrld");
            MMX_OP("psrlq"); MMX_OP("psraw"); MMX_OP("psrad"); MMX_OP("pavgb"); MMX_OP("pavgw");
            MMX_OP("pminub"); MMX_OP("pmaxub"); MMX_OP("pminsw"); MMX_OP("pmaxsw"); MMX_OP("pmulhuw");
            MMX_OP("psadbw"); MMX_OP("pmuludq"); MMX_OP("paddq"); MMX_OP("psubq");
        }
}

/* ---- SSE / SSE2 ---- */

static void print_v(const char *what, __m128i v, unsigned csr)
{
    uint32_t d[4];
    memcpy(d, &v, 16);
    printf("%s: %08x %08x %08x %08x mxcsr %04x\n", what, d[3], d[2], d[1], d[0], csr);
}

static __m128 fv(float a, float b, float c, float d)
{
    return _mm_set_ps(a, b, c, d);
}

/* (hi, lo * scale) as doubles, computed by SSE2 under the default MXCSR: C arithmetic
 * would run on the x87 in the 32-bit build and under the last test's MXCSR (FTZ, DAZ,
 * a rounding) in the 64-bit one, and the two builds must start from the same operands.
 * One asm statement, so the compiler cannot move a conversion across the LDMXCSR. */
static __m128d dv(float hi, float lo, double scale)
{
    static const unsigned csr = 0x1f80;
    __m128d r, t;
    __asm__ volatile("ldmxcsr %[csr]\n\tcvtss2sd %[lo], %[r]\n\tmulsd %[sc], %[r]\n\t"
                     "cvtss2sd %[hi], %[t]\n\tunpcklpd %[t], %[r]"
                     : [r] "=&x"(r), [t] "=&x"(t)
                     : [csr] "m"(csr), [lo] "m"(lo), [hi] "m"(hi), [sc] "m"(scale));
    return r;
}

/* An empty asm the compiler must assume to read and rewrite v: it keeps the operations
 * between an LDMXCSR and the STMXCSR after it in both builds, whatever the optimizer. */
#define PIN(v) __asm__ volatile("" : "+x"(v))

static void test_sse(void)
{
    static const float fs[] = { 0.0f, -0.0f, 1.0f, -1.5f, 3.4e38f, 1e-40f, 1e-30f, 12345.678f,
                                __builtin_inff(), __builtin_nanf(""), 0.1f, -2.5f };
    const unsigned nfs = sizeof(fs) / sizeof(fs[0]);
    static const unsigned csrs[] = { 0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9f80, 0x1fc0 };
    char nm[96];
    for (unsigned c = 0; c < sizeof(csrs) / sizeof(csrs[0]); c++)
        for (unsigned x = 0; x < nfs; x++)
            for (unsigned y = 0; y < nfs; y++) {
                __m128 a = fv(fs[x], fs[y], fs[(x + 1) % nfs], fs[(y + 5) % nfs]);
                __m128 b = fv(fs[y], fs[x], fs[(x + 3) % nfs], fs[(y + 7) % nfs]);
                __m128d ad = dv(fs[x], fs[y], 1e-300), bd = dv(fs[y], fs[x], 3.0);
#define PS(op, expr)                                                                     \
    do {                                                                                 \
        _mm_setcsr(csrs[c]);                                                             \
        PIN(a); PIN(b); PIN(ad); PIN(bd);                                                \
        __m128i r = (expr);                                                              \
        PIN(r);                                                                          \
        unsigned s = _mm_getcsr();                                                       \
        snprintf(nm, sizeof(nm), "%s %04x %u %u", op, csrs[c], x, y);                    \
        print_v(nm, r, s);                                                               \
    } while (0)
                PS("addps", _mm_castps_si128(_mm_add_ps(a, b)));
                PS("subss", _mm_castps_si128(_mm_sub_ss(a, b)));
                PS("mulps", _mm_castps_si128(_mm_mul_ps(a, b)));
                PS("divps", _mm_castps_si128(_mm_div_ps(a, b)));
                PS("sqrtps", _mm_castps_si128(_mm_sqrt_ps(a)));
                PS("minps", _mm_castps_si128(_mm_min_ps(a, b)));
                PS("maxss", _mm_castps_si128(_mm_max_ss(a, b)));
                PS("cmpltps", _mm_castps_si128(_mm_cmplt_ps(a, b)));
                PS("cmpunordps", _mm_castps_si128(_mm_cmpunord_ps(a, b)));
                PS("cvtps2dq", _mm_cvtps_epi32(a));
                PS("cvttps2dq", _mm_cvttps_epi32(b));
                PS("cvtps2pd", _mm_castpd_si128(_mm_cvtps_pd(a)));
                PS("addpd", _mm_castpd_si128(_mm_add_pd(ad, bd)));
                PS("mulsd", _mm_castpd_si128(_mm_mul_sd(ad, bd)));
                PS("divpd", _mm_castpd_si128(_mm_div_pd(ad, bd)));
                PS("sqrtpd", _mm_castpd_si128(_mm_sqrt_pd(ad)));
                PS("cvtpd2ps", _mm_castps_si128(_mm_cvtpd_ps(ad)));
                PS("cvtpd2dq", _mm_cvtpd_epi32(bd));
                PS("cmplepd", _mm_castpd_si128(_mm_cmple_pd(ad, bd)));
                PS("andnps", _mm_castps_si128(_mm_andnot_ps(a, b)));
                PS("shufps", _mm_castps_si128(_mm_shuffle_ps(a, b, 0x1b)));
                PS("unpcklps", _mm_castps_si128(_mm_unpacklo_ps(a, b)));
                PS("addsubps", _mm_castps_si128(_mm_addsub_ps(a, b)));
                PS("haddps", _mm_castps_si128(_mm_hadd_ps(a, b)));
                PS("hsubpd", _mm_castpd_si128(_mm_hsub_pd(ad, bd)));
                PS("movshdup", _mm_castps_si128(_mm_movehdup_ps(a)));
                PS("movsldup", _mm_castps_si128(_mm_moveldup_ps(b)));
                PS("movddup", _mm_castpd_si128(_mm_movedup_pd(ad)));
                PS("cvtsi2ss", _mm_castps_si128(_mm_cvtsi32_ss(a, (int)(x * 123456789u))));
                {
                    _mm_setcsr(csrs[c]);
                    PIN(a); PIN(b); PIN(ad); PIN(bd);
                    int i1 = _mm_cvtss_si32(a), i2 = _mm_cvttsd_si32(bd);
                    int cm = _mm_comilt_ss(a, b), uc = _mm_ucomieq_sd(ad, bd);
                    __asm__ volatile("" : "+r"(i1), "+r"(i2), "+r"(cm), "+r"(uc));
                    printf("cvt %04x %u %u: %08x %08x %d %d mxcsr %04x\n", csrs[c], x, y, (unsigned)i1,
                           (unsigned)i2, cm, uc, _mm_getcsr());
                }
                if (c == 0) {
                    _mm_setcsr(0x1f80);
                    __m128i r = _mm_castps_si128(_mm_rcp_ps(a));
                    snprintf(nm, sizeof(nm), "model: rcpps %u %u", x, y);
                    print_v(nm, r, _mm_getcsr());
                    r = _mm_castps_si128(_mm_rsqrt_ps(b));
                    snprintf(nm, sizeof(nm), "model: rsqrtps %u %u", x, y);
                    print_v(nm, r, _mm_getcsr());
                }
            }
    _mm_setcsr(0x1f80);
    /* SSE2 integer */
    for (unsigned x = 0; x < NM; x++)
        for (unsigned y = 0; y < NM; y++) {
            __m128i a = _mm_set_epi64x((long long)mvals[x], (long long)mvals[(x + 3) % NM]);
            __m128i b = _mm_set_epi64x((long long)mvals[y], (long long)mvals[(y + 2) % NM]);
#define PI(op, expr)                                                                     \
    do {                                                                                 \
        snprintf(nm, sizeof(nm), "%s %u %u", op, x, y);                                  \
        print_v(nm, (expr), 0);                                                          \
    } while (0)
            PI("paddb", _mm_add_epi8(a, b));
            PI("paddq", _mm_add_epi64(a, b));
            PI("psubusw", _mm_subs_epu16(a, b));
            PI("paddsw", _mm_adds_epi16(a, b));
            PI("pmaddwd", _mm_madd_epi16(a, b));
            PI("pmulhw", _mm_mulhi_epi16(a, b));
            PI("pmuludq", _mm_mul_epu32(a, b));
            PI("psadbw", _mm_sad_epu8(a, b));
            PI("packsswb", _mm_packs_epi16(a, b));
            PI("packuswb", _mm_packus_epi16(a, b));
            PI("packssdw", _mm_packs_epi32(a, b));
            PI("punpckhbw", _mm_unpackhi_epi8(a, b));
            PI("punpcklqdq", _mm_unpacklo_epi64(a, b));
            PI("punpckhqdq", _mm_unpackhi_epi64(a, b));
            PI("pcmpgtd", _mm_cmpgt_epi32(a, b));
            PI("pavgb", _mm_avg_epu8(a, b));
            PI("pminsw", _mm_min_epi16(a, b));
            PI("psllw", _mm_sll_epi16(a, _mm_cvtsi32_si128((int)(y * 3))));
            PI("psrad", _mm_sra_epi32(a, _mm_cvtsi32_si128((int)(y * 6))));
            PI("psrlq", _mm_srl_epi64(a, _mm_cvtsi32_si128((int)(y * 11))));
            PI("pslldq", _mm_slli_si128(a, 5));
            PI("psrldq", _mm_srli_si128(b, 3));
            PI("psrawi", _mm_srai_epi16(a, 9));
            PI("pshufd", _mm_shuffle_epi32(a, 0x4e));
            PI("pshuflw", _mm_shufflelo_epi16(a, 0x1b));
            PI("pshufhw", _mm_shufflehi_epi16(b, 0x39));
            PI("pinsrw", _mm_insert_epi16(a, (int)y * 1000, 5));
            printf("pextrw %u %u: %d pmovmskb %04x movmskpd %x\n", x, y, _mm_extract_epi16(b, 3),
                   _mm_movemask_epi8(a), _mm_movemask_pd(_mm_castsi128_pd(b)));
        }
}

/* ---- SSE4.1, SSE4.2, CRC32, LZCNT: this section alone is compiled for them (the
 * target attribute, as -msse4.2 -mlzcnt would) and runs only where CPUID offers them,
 * so the reference is whatever the host runs; a host without them prints one line. */
#define SSE4_TARGET __attribute__((target("sse4.2,popcnt,lzcnt")))

/* A string compare with its imm8 (a constant in the instruction): the index in ECX,
 * or the mask in XMM0, and the flags. */
#define STRCMP(imm)                                                                          \
    do {                                                                                     \
        unsigned long f;                                                                     \
        unsigned idx;                                                                        \
        __m128i m;                                                                           \
        __asm__ volatile(SET_FLAGS(fi) "pcmpestri %[i], %[b], %[a]" GET_FLAGS(f)             \
                         : [f] "=&r"(f), "=c"(idx)                                            \
                         : [a] "x"(a), [b] "x"(b), "a"(la), "d"(lb), [i] "i"(imm), [fi] "r"(fin) \
                         : "cc");                                                            \
        printf("pcmpestri %02x %u %u %d %d: %u %03lx\n", imm, x, y, la, lb, idx, f & ARITH);  \
        __asm__ volatile(SET_FLAGS(fi) "pcmpistrm %[i], %[b], %[a]" GET_FLAGS(f)             \
                         : [f] "=&r"(f), "=Yz"(m)                                             \
                         : [a] "x"(a), [b] "x"(b), [i] "i"(imm), [fi] "r"(fin)               \
                         : "cc");                                                            \
        snprintf(nm, sizeof(nm), "pcmpistrm %02x %u %u fl %03lx", imm, x, y, f & ARITH);      \
        print_v(nm, m, 0);                                                                   \
    } while (0)

/* ROUNDPS/ROUNDSD with each rounding control (imm8 bit 2 off) and with MXCSR's. */
#define ROUND(imm)                                                                           \
    do {                                                                                     \
        _mm_setcsr(csrs[c]);                                                                 \
        PIN(a); PIN(ad);                                                                     \
        __m128i r = _mm_castps_si128(_mm_round_ps(a, imm));                                  \
        PIN(r);                                                                              \
        unsigned s = _mm_getcsr();                                                           \
        snprintf(nm, sizeof(nm), "roundps %02x %04x %u", imm, csrs[c], x);                   \
        print_v(nm, r, s);                                                                   \
        _mm_setcsr(csrs[c]);                                                                 \
        r = _mm_castpd_si128(_mm_round_sd(ad, ad, imm));                                     \
        PIN(r);                                                                              \
        s = _mm_getcsr();                                                                    \
        snprintf(nm, sizeof(nm), "roundsd %02x %04x %u", imm, csrs[c], x);                   \
        print_v(nm, r, s);                                                                   \
    } while (0)

SSE4_TARGET static void test_sse4_fp(void)
{
    static const float fs[] = { 0.0f, -0.0f, 0.5f, -0.5f, 1.5f, -2.5f, 2.5f, 1e-40f, -1e-40f, 8388607.5f,
                                3.4e38f, __builtin_inff(), __builtin_nanf(""), 0.1f, -12345.678f };
    const unsigned nfs = sizeof(fs) / sizeof(fs[0]);
    static const unsigned csrs[] = { 0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0 };
    char nm[96];
    for (unsigned c = 0; c < sizeof(csrs) / sizeof(csrs[0]); c++)
        for (unsigned x = 0; x < nfs; x++) {
            __m128 a = fv(fs[x], fs[(x + 1) % nfs], fs[(x + 4) % nfs], fs[(x + 9) % nfs]);
            __m128 b = fv(fs[(x + 2) % nfs], fs[x], fs[(x + 7) % nfs], fs[(x + 3) % nfs]);
            __m128d ad = dv(fs[x], fs[(x + 5) % nfs], 0.75), bd = dv(fs[(x + 6) % nfs], fs[x], 3.0);
            ROUND(0x00);
            ROUND(0x01);
            ROUND(0x02);
            ROUND(0x03);
            ROUND(0x04);
            ROUND(0x09);
            ROUND(0x0c);
            _mm_setcsr(csrs[c]);
            PIN(a); PIN(b); PIN(ad); PIN(bd);
            __m128i r = _mm_castps_si128(_mm_dp_ps(a, b, 0xff));
            PIN(r);
            snprintf(nm, sizeof(nm), "dpps ff %04x %u", csrs[c], x);
            print_v(nm, r, _mm_getcsr());
            _mm_setcsr(csrs[c]);
            r = _mm_castps_si128(_mm_dp_ps(a, b, 0x5a));
            PIN(r);
            snprintf(nm, sizeof(nm), "dpps 5a %04x %u", csrs[c], x);
            print_v(nm, r, _mm_getcsr());
            _mm_setcsr(csrs[c]);
            r = _mm_castpd_si128(_mm_dp_pd(ad, bd, 0x31));
            PIN(r);
            snprintf(nm, sizeof(nm), "dppd 31 %04x %u", csrs[c], x);
            print_v(nm, r, _mm_getcsr());
            _mm_setcsr(csrs[c]);
            r = _mm_castps_si128(_mm_blendv_ps(a, b, _mm_castsi128_ps(_mm_set_epi32((int)0x80000000, 0, -1, 1))));
            PIN(r);
            snprintf(nm, sizeof(nm), "blendvps %04x %u", csrs[c], x);
            print_v(nm, r, _mm_getcsr());
            r = _mm_castps_si128(_mm_insert_ps(a, b, 0x9a));
            snprintf(nm, sizeof(nm), "insertps %u", x);
            print_v(nm, r, 0);
            printf("extractps %u: %08x\n", x, (unsigned)_mm_extract_ps(b, 2));
        }
    _mm_setcsr(0x1f80);
}

SSE4_TARGET static void test_sse4_int(void)
{
    char nm[96];
    for (unsigned x = 0; x < NM; x++)
        for (unsigned y = 0; y < NM; y++) {
            __m128i a = _mm_set_epi64x((long long)mvals[x], (long long)mvals[(x + 3) % NM]);
            __m128i b = _mm_set_epi64x((long long)mvals[y], (long long)mvals[(y + 2) % NM]);
            PI("pmulld", _mm_mullo_epi32(a, b));
            PI("pmuldq", _mm_mul_epi32(a, b));
            PI("pminsb", _mm_min_epi8(a, b));
            PI("pminud", _mm_min_epu32(a, b));
            PI("pmaxsd", _mm_max_epi32(a, b));
            PI("pmaxuw", _mm_max_epu16(a, b));
            PI("pcmpeqq", _mm_cmpeq_epi64(a, b));
            PI("pcmpgtq", _mm_cmpgt_epi64(a, b));
            PI("packusdw", _mm_packus_epi32(a, b));
            PI("pblendw", _mm_blend_epi16(a, b, 0xa5));
            PI("pblendvb", _mm_blendv_epi8(a, b, _mm_xor_si128(a, b)));
            PI("mpsadbw", _mm_mpsadbw_epu8(a, b, 5));
            PI("phminposuw", _mm_minpos_epu16(a));
            PI("pmovsxbw", _mm_cvtepi8_epi16(a));
            PI("pmovsxwq", _mm_cvtepi16_epi64(b));
            PI("pmovzxbd", _mm_cvtepu8_epi32(a));
            PI("pmovzxdq", _mm_cvtepu32_epi64(b));
            PI("pinsrb", _mm_insert_epi8(a, (int)(y * 37), 13));
            PI("pinsrd", _mm_insert_epi32(a, (int)mvals[y], 2));
            printf("pextrb %u %u: %d pextrd %08x ptest %d %d %d\n", x, y, _mm_extract_epi8(a, 11),
                   (unsigned)_mm_extract_epi32(b, 1), _mm_testz_si128(a, b), _mm_testc_si128(a, b),
                   _mm_testnzc_si128(a, b));
        }
    /* String compares: explicit and implicit lengths, every aggregation and polarity. */
    static const char *strs[] = { "hello, world", "lo", "abcdefghijklmnopq", "", "a-z", "\x80\x7f\x01\xff",
                                  "ll", "world", "wo\0rld" };
    const unsigned ns = sizeof(strs) / sizeof(strs[0]);
    for (unsigned x = 0; x < ns; x++)
        for (unsigned y = 0; y < ns; y++) {
            char sa[16] = { 0 }, sb[16] = { 0 };
            strncpy(sa, strs[x], 16);
            strncpy(sb, strs[y], 16);
            __m128i a, b;
            memcpy(&a, sa, 16);
            memcpy(&b, sb, 16);
            int la = (int)strlen(strs[x]) - (int)(x % 3), lb = (int)strlen(strs[y]) + (int)(y % 4) - 1;
            unsigned long fin = 0x202 | (x & 1 ? ARITH : 0);
            STRCMP(0x00);
            STRCMP(0x04);
            STRCMP(0x08);
            STRCMP(0x0c);
            STRCMP(0x14);
            STRCMP(0x3c);
            STRCMP(0x4c);
            STRCMP(0x72);
            STRCMP(0x01);
            STRCMP(0x0d);
            STRCMP(0x45);
            STRCMP(0x2b);
        }
    /* CRC32 over each width, LZCNT and its flags (OF SF AF PF undefined). */
    for (unsigned x = 0; x < NV; x++)
        for (unsigned y = 0; y < NV; y++) {
            uint32_t crc = vals[x], v = vals[y];
            printf("crc32 %08x %08x: %08x %08x %08x\n", crc, v, _mm_crc32_u8(crc, (uint8_t)v),
                   _mm_crc32_u16(crc, (uint16_t)v), _mm_crc32_u32(crc, v));
        }
    for (unsigned x = 0; x < NV; x++) {
        uint32_t v = vals[x], r;
        unsigned long f, fin = 0x202;
        __asm__ volatile(SET_FLAGS(fi) "lzcntl %[v], %[r]" GET_FLAGS(f)
                         : [r] "=&r"(r), [f] "=&r"(f) : [v] "r"(v), [fi] "r"(fin) : "cc");
        uint16_t r16;
        unsigned long f16;
        __asm__ volatile(SET_FLAGS(fi) "lzcntw %w[v], %w[r]" GET_FLAGS(f)
                         : [r] "=&r"(r16), [f] "=&r"(f16) : [v] "r"(v), [fi] "r"(fin) : "cc");
        printf("lzcnt %08x: %u %03lx %u %03lx\n", v, r, f & (CF | ZF), r16, f16 & (CF | ZF));
    }
}

static void test_sse4(void)
{
    if (!__builtin_cpu_supports("sse4.2") || !__builtin_cpu_supports("lzcnt")) {
        printf("sse4: this CPU has no SSE4.2 or LZCNT\n");
        return;
    }
    test_sse4_fp();
    test_sse4_int();
}

int main(void)
{
    printf("diff32 begin\n");
    test_alu();
    test_shift();
    test_bcd();
    test_string();
    test_x87();
    test_mmx();
    test_sse();
    test_sse4();
    printf("diff32 end\n");
    return 0;
}
