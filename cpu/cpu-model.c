/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The CPU models (see cpu-model.h). */
#include "cpu/cpu-model.h"
#include "engine/config.h"

#include <string.h>

#define P5_FEATURES (CPUID_FPU | CPUID_DE | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_CX8 | CPUID_MMX)
/* No PAT: the MSR is kept, but page attributes are not modelled, so CPUID does not
 * offer them (QEMU's P6 models do). */
#define P6_FEATURES (P5_FEATURES | CPUID_PAE | CPUID_SEP | CPUID_MTRR | CPUID_PGE | CPUID_CMOV | CPUID_FXSR)

static const CpuModel models[] = {
    { "486", "Intel 486 (FPU; no TSC, MSRs, CMPXCHG8B or MMX)", "GenuineIntel",
      4, 8, 0, CPUID_FPU | CPUID_PSE, 0, 0, 0, NULL },
    { "pentium", "Intel Pentium with MMX (TSC, CMPXCHG8B, no CMOV)", "GenuineIntel",
      5, 4, 3, P5_FEATURES, 0, 0, 0, NULL },
    { "pentium2", "Intel Pentium II (P6: CMOV, PAE, SYSENTER, FXSAVE, MMX)", "GenuineIntel",
      6, 5, 2, P6_FEATURES, 0, 0, 0, NULL },
    { "pentium3", "Intel Pentium III (Pentium II with SSE)", "GenuineIntel",
      6, 7, 3, P6_FEATURES | CPUID_SSE, 0, 0, 0, NULL },
    { "qemu32", "QEMU Virtual CPU version 2.5+ (P6 with SSE2 and SSE3)", "GenuineIntel",
      6, 6, 3, (P6_FEATURES & ~CPUID_MTRR) | CPUID_SSE | CPUID_SSE2, CPUID_ECX_SSE3, 0, 0x80000004u,
      "QEMU Virtual CPU version 2.5+", 0, 4 },
    /* The x86-64 models as QEMU 7.2 defines them, less what Vireo does not model
     * (VME, MCA, PSE-36; core2duo's MONITOR, VMX, thermal and debug-store bits;
     * qemu64's SVM), extended leaves up to 80000008h. */
    { "qemu64", "QEMU Virtual CPU version 2.5+ (x86-64: LM, SYSCALL, NX, SSE3, CMPXCHG16B)", "AuthenticAMD",
      15, 107, 1, P6_FEATURES | CPUID_CLFSH | CPUID_SSE | CPUID_SSE2, CPUID_ECX_SSE3 | CPUID_ECX_CX16,
      CPUID_EXT_LM | CPUID_EXT_SYSCALL | CPUID_EXT_NX, 0x80000008u, "QEMU Virtual CPU version 2.5+",
      CPUID_EXT_ECX_LAHF_LM, 0xb },
    { "kvm64", "Common KVM processor (x86-64 Pentium 4 signature: LM, SYSCALL, NX, SSE3, CMPXCHG16B)",
      "GenuineIntel", 15, 6, 1, P6_FEATURES | CPUID_CLFSH | CPUID_SSE | CPUID_SSE2, CPUID_ECX_SSE3 | CPUID_ECX_CX16,
      CPUID_EXT_LM | CPUID_EXT_SYSCALL | CPUID_EXT_NX, 0x80000008u, "Common KVM processor", 0, 0xb },
    { "core2duo", "Intel Core 2 Duo T7700 (x86-64, SSSE3, CMPXCHG16B, LAHF in 64-bit mode)", "GenuineIntel",
      6, 15, 11, P6_FEATURES | CPUID_CLFSH | CPUID_SSE | CPUID_SSE2,
      CPUID_ECX_SSE3 | CPUID_ECX_SSSE3 | CPUID_ECX_CX16, CPUID_EXT_LM | CPUID_EXT_SYSCALL | CPUID_EXT_NX,
      0x80000008u, "Intel(R) Core(TM)2 Duo CPU     T7700  @ 2.40GHz", CPUID_EXT_ECX_LAHF_LM, 0xa },
    /* max has everything the interpreter and the translator implement, long mode with
     * 1 GiB pages and RDTSCP included (cpu/x86/README.md lists what 64-bit code still
     * lacks); extended leaves up to 80000008h for the address sizes. */
    { "max", "everything this CPU implements (the default): P6 with SSE2, SSE3, SSSE3, SSE4.1, "
      "SSE4.2, POPCNT, LZCNT, CLFLUSH, NX; x86-64 with CMPXCHG16B, LAHF, 1 GiB pages, RDTSCP",
      "GenuineIntel", 6, 5, 2, P6_FEATURES | CPUID_CLFSH | CPUID_SSE | CPUID_SSE2,
      CPUID_ECX_SSE3 | CPUID_ECX_SSSE3 | CPUID_ECX_CX16 | CPUID_ECX_SSE41 | CPUID_ECX_SSE42 | CPUID_ECX_POPCNT,
      CPUID_EXT_LM | CPUID_EXT_SYSCALL | CPUID_EXT_NX | CPUID_EXT_PDPE1GB | CPUID_EXT_RDTSCP, 0x80000008u,
      "Vireo P6-class CPU with x86-64", CPUID_EXT_ECX_LAHF_LM | CPUID_EXT_ECX_ABM, 0xb },
};

const CpuModel *cpu_model_find(const char *name, GError **err)
{
    if (!strcmp(name, "host"))
        name = "max";
    for (size_t i = 0; i < G_N_ELEMENTS(models); i++)
        if (!strcmp(models[i].name, name))
            return &models[i];
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown CPU model '%s' (try -cpu help)", name);
    return NULL;
}

const CpuModel *cpu_model_get(const char *name)
{
    const CpuModel *m = name ? cpu_model_find(name, NULL) : NULL;
    return m ? m : &models[G_N_ELEMENTS(models) - 1];
}

void cpu_model_print_list(FILE *out)
{
    fprintf(out, "Available CPUs (-cpu NAME):\n");
    for (size_t i = 0; i < G_N_ELEMENTS(models); i++)
        fprintf(out, "  %-10s %s\n", models[i].name, models[i].description);
    fprintf(out, "  %-10s %s\n", "host", "the same as max");
}

uint64_t cpu_model_features(const CpuModel *m)
{
    return m->edx | CPU_FEATURE_ECX(m->ecx);
}

static uint32_t str4(const char *s)
{
    uint32_t v;
    memcpy(&v, s, 4);
    return v;
}

uint32_t cpu_model_level(const CpuModel *m)
{
    return m->level ? m->level : m->family >= 6 ? 2 : 1; /* leaf 2 came with the P6 */
}

/* Leaf 4's caches, the same as leaf 2's descriptors say (16 KiB L1 data and code, 4-way
 * with 32-byte lines; 512 KiB unified L2, 4-way): type, level, ways, sets. */
static const struct {
    uint8_t type, level, ways;
    uint16_t sets;
} leaf4_caches[] = {
    { 1, 1, 4, 128 },  /* data */
    { 2, 1, 4, 128 },  /* instruction */
    { 3, 2, 4, 4096 }, /* unified */
};

/* Deterministic cache parameters (SDM vol. 2A, CPUID leaf 04h): EAX[31:26] is the
 * number of addressable core IDs in the package minus one, [25:14] the logical
 * processors sharing the cache minus one (each cache here is a core's own). */
static void leaf4(uint32_t subleaf, const CpuidWho *who, uint32_t r[4])
{
    if (subleaf >= G_N_ELEMENTS(leaf4_caches))
        return; /* type 0: no more caches */
    unsigned line = 32;
    r[0] = leaf4_caches[subleaf].type | (uint32_t)leaf4_caches[subleaf].level << 5 | 1u << 8 /* self-init */ |
           (((1u << who->thread_bits) - 1) << 14) | (((1u << who->core_bits) - 1) << 26);
    r[1] = (line - 1) | (uint32_t)(leaf4_caches[subleaf].ways - 1) << 22;
    r[2] = leaf4_caches[subleaf].sets - 1u;
    r[3] = 0;
}

/* Extended topology (SDM vol. 2A, CPUID leaf 0Bh): level 0 the threads of a core, level 1
 * the cores of a package; EAX the APIC ID shift to the next level, EBX the logical
 * processors at this level, ECX the level number and type, EDX the x2APIC ID. */
static void leaf_b(uint32_t subleaf, const CpuidWho *who, uint32_t r[4])
{
    r[2] = subleaf & 0xff;
    r[3] = who->apic_id;
    if (subleaf == 0) {
        r[0] = who->thread_bits;
        r[1] = who->threads;
        r[2] |= 1u << 8; /* SMT */
    } else if (subleaf == 1) {
        r[0] = (uint32_t)who->thread_bits + who->core_bits;
        r[1] = (uint32_t)who->threads * who->cores;
        r[2] |= 2u << 8; /* core */
    }
}

void cpu_model_cpuid(const CpuModel *m, uint32_t leaf, uint32_t subleaf, const CpuidWho *who, uint32_t out[4])
{
    static const CpuidWho lone = { .threads = 1, .cores = 1 };
    if (!who)
        who = &lone;
    uint32_t a = 0, b = 0, c = 0, d = 0;
    /* Above the maximum the processor answers the highest basic leaf (SDM vol. 2, CPUID). */
    uint32_t max_basic = cpu_model_level(m);
    bool ext = leaf >= 0x80000000u;
    if ((!ext && leaf > max_basic) || (ext && (!m->max_ext_leaf || leaf > m->max_ext_leaf)))
        leaf = max_basic;
    switch (leaf) {
    case 0:
        a = max_basic;
        b = str4(m->vendor);
        d = str4(m->vendor + 4);
        c = str4(m->vendor + 8);
        break;
    case 1: {
        /* Models above 15 go to the extended model field (SDM vol. 2, CPUID, figure 3-6). */
        a = (uint32_t)(m->model >> 4) << 16 | (uint32_t)m->family << 8 | (uint32_t)(m->model & 15) << 4 |
            m->stepping;
        /* EBX: the initial APIC ID, the package's addressable logical processor IDs
         * (valid with HTT), the CLFLUSH line size in quadwords. */
        unsigned per_pkg = 1u << (who->thread_bits + who->core_bits);
        b = (uint32_t)who->apic_id << 24;
        if (per_pkg > 1)
            b |= (uint32_t)MIN(per_pkg, 255u) << 16;
        if (m->edx & CPUID_CLFSH)
            b |= 8u << 8;
        c = m->ecx;
        d = m->edx | (who->apic ? CPUID_APIC : 0) | (per_pkg > 1 ? CPUID_HTT : 0);
        break;
    }
    case 2:
        /* Cache and TLB descriptors of a Pentium II (512 KiB L2). */
        a = 0x03020101u;
        d = 0x0c040843u;
        break;
    case 0x80000000u:
        a = m->max_ext_leaf;
        break;
    case 4: {
        uint32_t r[4] = { 0 };
        leaf4(subleaf, who, r);
        a = r[0], b = r[1], c = r[2], d = r[3];
        break;
    }
    case 0xb: {
        uint32_t r[4] = { 0 };
        leaf_b(subleaf, who, r);
        a = r[0], b = r[1], c = r[2], d = r[3];
        break;
    }
    case 3: case 5: case 6: case 7: case 8: case 9: case 0xa:
        break; /* serial number, MONITOR, power, structured features, PMU: none */
    case 0x80000001u:
        c = m->ext_ecx;
        d = who->nx_disabled ? m->ext_edx & ~CPUID_EXT_NX : m->ext_edx;
        /* AMD repeats most leaf-1 EDX bits here (AMD CPUID specification, Fn8000_0001_EDX). */
        if (!strcmp(m->vendor, "AuthenticAMD"))
            d |= m->edx & 0x0183f3ffu;
        break;
    case 0x80000005u: case 0x80000006u: case 0x80000007u:
        break; /* reserved, or cache and power details this model does not give */
    case 0x80000008u:
        /* Address sizes: MAXPHYADDR 36 (the page walks' reserved bits), 48-bit linear. */
        a = 36 | 48u << 8;
        break;
    default: {
        char brand[48] = { 0 };
        if (m->brand)
            strncpy(brand, m->brand, sizeof(brand) - 1);
        uint32_t w[4];
        memcpy(w, brand + (leaf - 0x80000002u) * 16, 16);
        a = w[0];
        b = w[1];
        c = w[2];
        d = w[3];
        break;
    }
    }
    out[0] = a;
    out[1] = b;
    out[2] = c;
    out[3] = d;
}
