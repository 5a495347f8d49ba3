/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The interpreter's CpuBackend entry for cpu/cpu.c's table. */
#pragma once

#include "cpu/cpu.h"

extern const CpuBackend cpu_interp_backend;
