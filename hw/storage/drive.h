/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A configured drive's image opened through the block layer: the options every storage
 * controller honours (format, cache mode, read-only, -snapshot overlays) in one place. */
#pragma once

#include "disks/block.h"
#include "engine/config.h"

#include <stdbool.h>

/* Opens dc's image (dc->file must be set). A CD is always read-only; with
 * protect_unwritable a file this user cannot write opens read-only (a write-protected
 * floppy) instead of failing. *readonly says how it was opened. Errors name the medium
 * kind and the file once. */
BlockImage *drive_open(const VmConfig *cfg, const DriveConfig *dc, bool protect_unwritable,
                       bool *readonly, GError **err);
