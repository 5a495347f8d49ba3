/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include "cpu/cpu.h"

extern const CpuBackend cpu_kvm_backend;

/* True on a paravirtual KVM host (PVM): /dev/kvm without VMX/SVM in the CPU flags. */
bool kvm_host_is_pvm(void);
