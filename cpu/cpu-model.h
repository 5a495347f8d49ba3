/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CPU models for -cpu: what CPUID says (vendor, family/model/stepping, feature bits) and,
 * for the interpreter and the translator, which instructions exist (an absent feature's
 * instructions raise #UD, SDM vol. 2, "CPUID"). QEMU's names; the feature sets are
 * QEMU's for the model minus what Vireo does not implement (VME, MCE, MCA, PSE-36,
 * PAT).
 * Under KVM the host executes the instructions: only CPUID follows the model. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* CPUID.1:EDX */
enum {
    CPUID_FPU = 1u << 0,
    CPUID_PSE = 1u << 3,
    CPUID_DE = 1u << 2,  /* CR4.DE: I/O breakpoints, DR4/DR5 #UD */
    CPUID_TSC = 1u << 4,
    CPUID_MSR = 1u << 5,
    CPUID_PAE = 1u << 6,
    CPUID_CX8 = 1u << 8,
    CPUID_APIC = 1u << 9,
    CPUID_SEP = 1u << 11,
    CPUID_MTRR = 1u << 12,
    CPUID_PGE = 1u << 13,
    CPUID_CMOV = 1u << 15,
    CPUID_PAT = 1u << 16,
    CPUID_CLFSH = 1u << 19,
    CPUID_MMX = 1u << 23,
    CPUID_FXSR = 1u << 24,
    CPUID_SSE = 1u << 25,
    CPUID_SSE2 = 1u << 26,
};
/* CPUID.1:ECX */
enum {
    CPUID_ECX_SSE3 = 1u << 0,
    CPUID_ECX_SSSE3 = 1u << 9,
    CPUID_ECX_CX16 = 1u << 13, /* CMPXCHG16B */
    CPUID_ECX_SSE41 = 1u << 19,
    CPUID_ECX_SSE42 = 1u << 20,
    CPUID_ECX_POPCNT = 1u << 23,
};
/* CPUID.80000001h:ECX */
enum {
    CPUID_EXT_ECX_LAHF_LM = 1u << 0,
    CPUID_EXT_ECX_ABM = 1u << 5, /* LZCNT ("LZCNT" in Intel's tables, ABM in AMD's) */
};
/* CPUID.80000001h:EDX */
enum {
    CPUID_EXT_SYSCALL = 1u << 11, /* SYSCALL/SYSRET (in 64-bit mode on Intel) */
    CPUID_EXT_NX = 1u << 20,
    CPUID_EXT_PDPE1GB = 1u << 26, /* 1 GiB pages in IA-32e paging */
    CPUID_EXT_RDTSCP = 1u << 27,  /* RDTSCP and IA32_TSC_AUX */
    CPUID_EXT_LM = 1u << 29,      /* long mode (IA-32e) */
};
/* A feature set as one word: CPUID.1 EDX in the low half, ECX in the high half. */
#define CPU_FEATURE_ECX(bit) ((uint64_t)(bit) << 32)

typedef struct CpuModel {
    const char *name;
    const char *description;
    const char *vendor;          /* 12 characters */
    uint8_t family, model, stepping;
    uint32_t edx, ecx;           /* CPUID.1; APIC is added when the board gives one */
    uint32_t ext_edx;            /* CPUID.80000001h */
    uint32_t max_ext_leaf;       /* 0: no extended leaves */
    const char *brand;           /* CPUID.80000002h-4h, with max_ext_leaf >= 80000004h */
    uint32_t ext_ecx;            /* CPUID.80000001h:ECX (LAHF/SAHF in 64-bit mode, LZCNT) */
    uint32_t level;              /* highest basic leaf; 0: 2 for a P6, else 1 */
} CpuModel;

/* CPUID.1:EDX bit 28: EBX[23:16] counts the logical processors of the package. */
#define CPUID_HTT (1u << 28)

/* The processor that asks, for what CPUID says per processor: its initial APIC ID and
 * where it sits in -smp's topology. */
typedef struct CpuidWho {
    bool apic;                   /* it has a local APIC */
    bool nx_disabled;            /* IA32_MISC_ENABLE's XD disable bit hides NX */
    uint8_t apic_id;             /* its initial APIC ID */
    uint8_t thread_bits;         /* low APIC ID bits numbering the threads of a core */
    uint8_t core_bits;           /* the next bits, numbering the cores of a package */
    uint8_t threads, cores;      /* threads per core, cores per package */
} CpuidWho;

/* The model a name means ("host" is "max", as with QEMU's TCG); NULL with err set
 * for an unknown one, naming -cpu help. */
const CpuModel *cpu_model_find(const char *name, GError **err);
/* NULL name: the default (max). */
const CpuModel *cpu_model_get(const char *name);
/* What -cpu help prints. */
void cpu_model_print_list(FILE *out);

/* The model's features as one word (see CPU_FEATURE_ECX). */
uint64_t cpu_model_features(const CpuModel *m);
/* The model's highest basic leaf. */
uint32_t cpu_model_level(const CpuModel *m);
/* CPUID leaf/subleaf (EAX, ECX) as this model answers it on processor who (NULL: a lone
 * CPU without APIC). */
void cpu_model_cpuid(const CpuModel *m, uint32_t leaf, uint32_t subleaf, const CpuidWho *who, uint32_t out[4]);
