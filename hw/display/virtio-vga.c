/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtio-vga: the virtio 2D GPU (hw/virtio/virtio-gpu.c) behind a std-vga (this
 * folder's VGA core with the Bochs VBE), as QEMU's virtio-vga: one PCI function
 * 1af4:1050 of class VGA whose BAR 0 is the VGA's 16 MiB of video memory (the linear
 * framebuffer SeaVGABIOS's vgabios-virtio.bin uses for VBE modes), whose BAR 2 starts
 * with the std-vga's MMIO registers and continues with the virtio modern interface,
 * and whose BAR 4 holds the MSI-X table; the VGA's legacy ports and window answer as
 * the std-vga's do. The screen is the VGA's (BIOS, boot loader, VBE) until the guest's
 * virtio-gpu driver sets a scanout, then the GPU's until the device is reset (QEMU
 * switches at the driver's first command; waiting for the scanout keeps the boot
 * screen while the driver probes).
 *
 * Lock rules: everything runs with the engine lock held, as for both halves. */
#include "hw/display/vga-internal.h"
#include "hw/virtio/virtio-gpu.h"
#include "hw/isa/isa-bus.h"
#include "vireo-config.h"

#include <string.h>

typedef struct VirtioVgaState {
    VirtioGpuState gpu; /* first: its Device header and properties are the class's */
    VgaState vga;       /* its Device header is unused: the VGA is a part, not a device */
    bool showing_gpu;   /* which half the console showed last (host state) */
    bool realized;
    char *romfile;      /* property */
} VirtioVgaState;

static bool vvga_gpu_shows(const VirtioVgaState *s)
{
    return s->gpu.scanout_taken;
}

/* ---- display console ---- */

static void vvga_update(void *opaque, DisplayConsole *con)
{
    VirtioVgaState *s = opaque;
    bool gpu = vvga_gpu_shows(s);
    if (gpu != s->showing_gpu) {
        /* The other half drew last: the new one redraws everything at its size. */
        s->showing_gpu = gpu;
        if (gpu) {
            virtio_gpu_redraw(&s->gpu);
        } else {
            s->vga.full_redraw = true;
            s->vga.layout_stale = true;
            /* The GPU's cursor is not the VGA's: front ends drop it. */
            display_console_set_cursor(con, NULL, 0, 0, 0, 0);
            display_console_move_cursor(con, false, 0, 0);
        }
    }
    if (gpu)
        virtio_gpu_display_update(&s->gpu, con);
    else
        vga_display_ops.update(&s->vga, con);
}

static bool vvga_get_text(void *opaque, DisplayText *text)
{
    VirtioVgaState *s = opaque;
    return !vvga_gpu_shows(s) && vga_display_ops.get_text(&s->vga, text);
}

static char *vvga_describe_mode(void *opaque)
{
    VirtioVgaState *s = opaque;
    if (vvga_gpu_shows(s))
        return virtio_gpu_describe_mode(&s->gpu);
    return vga_display_ops.describe_mode(&s->vga);
}

/* The display info follows the window whichever half shows: a driver that starts
 * later reads the size then (no event is sent before DRIVER_OK). */
static bool vvga_request_size(void *opaque, int width, int height)
{
    VirtioVgaState *s = opaque;
    return virtio_gpu_request_size(&s->gpu, width, height);
}

static const DisplayDeviceOps vvga_display_ops = {
    .update = vvga_update,
    .get_text = vvga_get_text,
    .describe_mode = vvga_describe_mode,
    .request_size = vvga_request_size,
};

/* ---- device ---- */

static bool vvga_realize(Device *dev, GError **err)
{
    VirtioVgaState *s = (VirtioVgaState *)dev;
    Vm *vm = dev->vm;
    if (!isa_bus_check_ports(vm, 0x3b0, 0x30, err)) {
        g_prefix_error(err, "virtio-vga: the VGA ports (use -vga none with -device virtio-vga): ");
        return false;
    }
    g_autofree char *rom = NULL;
    gsize rom_len = 0;
    g_autofree char *rom_path =
        s->romfile ? g_strdup(s->romfile) : g_build_filename(SEABIOS_DIR, "vgabios-virtio.bin", NULL);
    if (strcmp(rom_path, "none") &&
        !pci_rom_load(rom_path, "virtio-vga: VGA BIOS", "install the Debian package 'seabios', or give romfile=",
                      &rom, &rom_len, err))
        return false;
    VgaState *v = &s->vga;
    vga_core_init(v, vm, VGA_VRAM_SIZE);
    if (!virtio_gpu_init(&s->gpu, vm, true, &vga_mmio_ops, v, err)) {
        vga_core_destroy(v);
        return false;
    }
    s->realized = true;
    PciDevice *d = &s->gpu.vp.pci;
    v->lfb = pci_register_bar_ram(d, 0, VGA_VRAM_SIZE, v->vram, true);
    mem_region_set_dirty_log(v->lfb, true);
    if (rom)
        pci_register_rom(d, rom, rom_len);
    vga_legacy_init(v);
    v->con = display_console_register(vm, &vvga_display_ops, s);
    return true;
}

static void vvga_unrealize(Device *dev)
{
    VirtioVgaState *s = (VirtioVgaState *)dev;
    if (!s->realized)
        return;
    virtio_gpu_fini(&s->gpu);
    vga_core_destroy(&s->vga);
}

static void vvga_reset(Device *dev)
{
    VirtioVgaState *s = (VirtioVgaState *)dev;
    vga_core_reset(&s->vga);
    virtio_pci_reset(&s->gpu.vp);
}

static void vvga_pre_save(void *state)
{
    virtio_gpu_pre_save(&((VirtioVgaState *)state)->gpu);
}

static bool vvga_check(const void *state, GError **err)
{
    const VirtioVgaState *s = state;
    if (!virtio_gpu_state_check(&s->gpu, err))
        return false;
    if (!vga_std_state_check(&s->vga, err)) {
        g_prefix_error(err, "virtio-vga: ");
        return false;
    }
    return true;
}

static void vvga_post_load(void *state)
{
    VirtioVgaState *s = state;
    virtio_gpu_post_load(&s->gpu);
    vga_std_post_load(&s->vga);
    /* Whichever half shows redraws all of it at the next update. */
    s->showing_gpu = !vvga_gpu_shows(s);
}

static const VmStateField vvga_fields[] = {
    VMSTATE_STRUCT(VirtioVgaState, gpu, VirtioGpuState, &virtio_gpu_state_vmsd),
    VMSTATE_BOOL(VirtioVgaState, gpu.scanout_taken),
    VMSTATE_STRUCT(VirtioVgaState, vga, VgaState, &vga_std_vmsd),
    VMSTATE_END,
};

static const VmStateDesc vvga_vmsd = {
    .name = "virtio-vga",
    .version = VIRTIO_PCI_VMSD_VERSION,
    .fields = vvga_fields,
    .pre_save = vvga_pre_save,
    .check = vvga_check,
    .post_load = vvga_post_load,
};

/* The GPU's properties (its state is first, so their offsets hold here), then the ROM. */
static DeviceProp vvga_props[8];

static const DeviceClass vvga_class = {
    .name = "virtio-vga",
    .description = "virtio 2D GPU with a std-vga for the boot screens (PCI 1af4:1050, class VGA)",
    .instance_size = sizeof(VirtioVgaState),
    .user_creatable = true,
    .props = vvga_props,
    .vmsd = &vvga_vmsd,
    .realize = vvga_realize,
    .reset = vvga_reset,
    .unrealize = vvga_unrealize,
};

__attribute__((constructor)) static void vvga_register(void)
{
    size_t n = 0;
    while (virtio_gpu_props[n].name)
        n++;
    g_assert(n + 2 <= G_N_ELEMENTS(vvga_props));
    memcpy(vvga_props, virtio_gpu_props, n * sizeof(DeviceProp));
    vvga_props[n] = (DeviceProp){ "romfile", DEVICE_PROP_STRING, offsetof(VirtioVgaState, romfile),
                                  "VGA BIOS image for the ROM BAR (default: SeaBIOS's vgabios-virtio.bin; none: no ROM)",
                                  NULL, 0, 0, NULL };
    device_class_register(&vvga_class);
}

bool virtio_vga_new(Vm *vm, const char *addr, GError **err)
{
    g_autofree char *spec = g_strdup_printf("%s,id=vga%s%s", vvga_class.name, addr ? ",addr=" : "", addr ? addr : "");
    return device_create_from_spec(vm, spec, err) != NULL;
}
