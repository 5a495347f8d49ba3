/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The QEMU command line that runs a VM the way Vireo runs it (vireo-run
 * --print-qemu-command): for moving a VM to a host with QEMU, or comparing the two. */
#pragma once

#include "engine/config.h"

/* One line: qemu-system-i386 and its options, each argument quoted for a POSIX shell
 * where it needs it. Image formats the configuration leaves to probing are probed now,
 * so QEMU gets them explicitly. */
char *qemu_command_line(const VmConfig *cfg);
