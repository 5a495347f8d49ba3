/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The virtio 2D GPU's state and entry points, for the two devices built on it:
 * virtio-gpu-pci (virtio-gpu.c, the GPU alone) and virtio-vga (hw/display/virtio-vga.c,
 * the same GPU behind a VGA that shows the screen until the driver takes the scanout).
 * Everything runs with the engine lock held (see virtio-gpu.c). */
#pragma once

#include "hw/virtio/virtio.h"
#include "engine/display.h"

#include <pixman.h>

typedef struct VirtioGpuState {
    Device dev;
    char *addr; /* properties */
    uint32_t xres, yres, max_hostmem_mib;
    bool edid;
    VirtioPci vp;
    /* Guest-visible state. */
    uint32_t events_read;
    uint32_t out_w, out_h;  /* the display info's size */
    uint32_t scanout_res;   /* 0: the scanout is off */
    uint32_t sx, sy, sw, sh; /* the scanout's rectangle of its resource */
    bool cursor_on;
    uint32_t cursor_x, cursor_y, hot_x, hot_y;
    /* The driver set a scanout since the device's last reset: virtio-vga's screen is
     * the GPU's from then on (saved by virtio-vga only; virtio-gpu-pci has no VGA). */
    bool scanout_taken;
    GBytes *saved; /* resources and cursor image, only between pre_save/load and post_load */
    /* Host state. */
    GHashTable *res;    /* id -> GpuResource */
    uint64_t hostmem;   /* bytes of resource images */
    pixman_image_t *cursor; /* a8r8g8b8 copy of the cursor resource */
    pixman_region32_t pending; /* scanout pixels to copy at the next update */
    bool resize;        /* the surface must take the scanout's size */
    bool cursor_drawn;
    int drawn_x, drawn_y; /* where the cursor was composed */
    /* Bumped by every UPDATE_CURSOR (and reset, load): the console gets the shape at the
     * next update when it differs from cursor_published. */
    unsigned cursor_gen, cursor_published;
} VirtioGpuState;

/* The GPU's properties (xres, yres, max-hostmem-mib, edid, addr), for a class whose
 * state starts with a VirtioGpuState. */
extern const DeviceProp virtio_gpu_props[];

/* Realizes the GPU's PCI function and queues, without a display console: vga true
 * makes it virtio-vga's (class VGA, BAR 0 left to the caller's video memory, the
 * modern interface in BAR 2 after vga_mmio in front, MSI-X in BAR 4). */
bool virtio_gpu_init(VirtioGpuState *s, Vm *vm, bool vga, const MemOps *vga_mmio, void *vga_opaque,
                     GError **err);
void virtio_gpu_fini(VirtioGpuState *s);
/* The display console's operations, for a device that chooses between them. */
void virtio_gpu_display_update(VirtioGpuState *s, DisplayConsole *con);
char *virtio_gpu_describe_mode(VirtioGpuState *s);
bool virtio_gpu_request_size(VirtioGpuState *s, int width, int height);
/* The next update redraws the whole scanout at its size (the screen was another's). */
void virtio_gpu_redraw(VirtioGpuState *s);

/* The saved state: the fields (nested, so hooks do not run) and the hooks that the
 * owner's description calls. */
extern const VmStateDesc virtio_gpu_state_vmsd;
void virtio_gpu_pre_save(VirtioGpuState *s);
bool virtio_gpu_state_check(const VirtioGpuState *s, GError **err);
void virtio_gpu_post_load(VirtioGpuState *s);
