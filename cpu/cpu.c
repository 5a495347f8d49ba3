/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cpu/cpu.h"
#include "cpu/jit/jit.h"
#include "cpu/kvm/kvm.h"
#include "cpu/x86/backend.h"

#include <string.h>

static const CpuBackend *const backends[] = {
    &cpu_kvm_backend,
    &cpu_tcg_backend,
    &cpu_interp_backend,
    &cpu_jit_backend,
    NULL,
};

const CpuBackend *const *cpu_backends(void)
{
    return backends;
}

const CpuBackend *cpu_backend_find(const char *name)
{
    for (const CpuBackend *const *b = backends; *b; b++)
        if (!strcmp((*b)->name, name))
            return *b;
    return NULL;
}
