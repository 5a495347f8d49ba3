/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QEMU's "std-vga" PCI device (1234:1111), and its ISA form "isa-vga" (no PCI, no
 * linear framebuffer): the VGA's legacy ports and memory window,
 * the Bochs VBE ports 0x1CE/0x1CF, BAR 0 the linear framebuffer (all of video memory,
 * dirty-logged), BAR 2 the MMIO window SeaBIOS's and Linux's bochs drivers use (VGA
 * ports at 0x400-0x41F, VBE registers at 0x500-0x515, QEMU's extended registers at
 * 0x600), the VGA BIOS in the ROM BAR, and the display console's device operations. */
#include "hw/display/vga-internal.h"

#include <string.h>

#define VGA_MMIO_SIZE 0x1000
#define MMIO_VGA_PORTS 0x400
#define MMIO_VBE 0x500
#define MMIO_QEXT 0x600
#define QEXT_SIZE 8
#define QEXT_LITTLE_ENDIAN 0x1e1e1e1e

/* ---- legacy ports ---- */

static uint32_t vga_ports_read(void *opaque, uint32_t off, unsigned size)
{
    return vga_port_read(opaque, (uint16_t)(0x3b0 + off));
}

static void vga_ports_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    vga_port_write(opaque, (uint16_t)(0x3b0 + off), (uint8_t)value);
}

static const PortOps vga_port_ops = {
    .read = vga_ports_read,
    .write = vga_ports_write,
    .min_size = 1,
    .max_size = 1,
};

/* 0x1CE index, 0x1CF (and 0x1D0) data, both 16 bits wide. */
static uint32_t vbe_ports_read(void *opaque, uint32_t off, unsigned size)
{
    VgaState *s = opaque;
    return off == 0 ? s->vbe_index : vga_vbe_read(s, s->vbe_index);
}

static void vbe_ports_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    VgaState *s = opaque;
    if (off == 0)
        s->vbe_index = (uint16_t)value;
    else
        vga_vbe_write(s, s->vbe_index, (uint16_t)value);
}

static const PortOps vbe_port_ops = {
    .read = vbe_ports_read,
    .write = vbe_ports_write,
    .min_size = 1,
    .max_size = 2,
};

/* ---- legacy memory window 0xA0000-0xBFFFF ---- */

static uint64_t window_read(void *opaque, hwaddr off, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)vga_mem_read(opaque, (uint32_t)(off + i)) << (8 * i);
    return v;
}

static void window_write(void *opaque, hwaddr off, uint64_t value, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        vga_mem_write(opaque, (uint32_t)(off + i), (uint8_t)(value >> (8 * i)));
}

static const MemOps window_ops = {
    .read = window_read,
    .write = window_write,
    .min_size = 1,
    .max_size = 4,
};

/* ---- BAR 2 ---- */

static uint64_t mmio_read(void *opaque, hwaddr off, unsigned size)
{
    VgaState *s = opaque;
    if (off >= MMIO_VGA_PORTS && off + size <= MMIO_VGA_PORTS + 0x20) {
        uint64_t v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= (uint64_t)vga_port_read(s, (uint16_t)(0x3c0 + off - MMIO_VGA_PORTS + i)) << (8 * i);
        return v;
    }
    if (off >= MMIO_VBE && off < MMIO_VBE + 2 * VBE_NUM_REGS && size == 2)
        return vga_vbe_read(s, (unsigned)(off - MMIO_VBE) / 2);
    if (off == MMIO_QEXT && size == 4)
        return QEXT_SIZE;
    if (off == MMIO_QEXT + 4 && size == 4)
        return QEXT_LITTLE_ENDIAN;
    return 0;
}

static void mmio_write(void *opaque, hwaddr off, uint64_t value, unsigned size)
{
    VgaState *s = opaque;
    if (off >= MMIO_VGA_PORTS && off + size <= MMIO_VGA_PORTS + 0x20) {
        /* A 16-bit write is an index and its data, as with OUT DX, AX. */
        for (unsigned i = 0; i < size; i++)
            vga_port_write(s, (uint16_t)(0x3c0 + off - MMIO_VGA_PORTS + i), (uint8_t)(value >> (8 * i)));
        return;
    }
    if (off >= MMIO_VBE && off < MMIO_VBE + 2 * VBE_NUM_REGS && size == 2)
        vga_vbe_write(s, (unsigned)(off - MMIO_VBE) / 2, (uint16_t)value);
    /* The framebuffer is little-endian only; the endianness register keeps its value. */
}

const MemOps vga_mmio_ops = {
    .read = mmio_read,
    .write = mmio_write,
    .min_size = 1,
    .max_size = 4,
};

/* ---- display console ---- */

void vga_ensure_layout(VgaState *s)
{
    if (!s->layout_stale)
        return;
    vga_layout_build(s);
    s->layout_stale = false;
    s->full_redraw = true;
}

static void vga_update(void *opaque, DisplayConsole *con)
{
    VgaState *s = opaque;
    /* Writes through the linear framebuffer bypass the VGA; the memory map logged them. */
    uint64_t harvested[VGA_DIRTY_WORDS] = { 0 };
    G_STATIC_ASSERT(sizeof(unsigned long) == sizeof(uint64_t));
    if (s->lfb) /* the ISA VGA has none */
        mem_region_dirty_harvest(s->lfb, (unsigned long *)harvested);
    for (unsigned i = 0; i < VGA_DIRTY_WORDS; i++) {
        if (!harvested[i])
            continue;
        s->dirty[i] |= harvested[i];
        s->memory_written = true;
        if (i < (VGA_PLANAR_BYTES >> VGA_PAGE_BITS) / 64)
            s->font_written = true;
    }

    if (s->hooks && s->hooks->pre_render)
        s->hooks->pre_render(s);
    vga_ensure_layout(s);
    bool full = s->full_redraw;
    if (s->palette_stale) {
        vga_palette_update(s);
        s->palette_stale = false;
        full = true;
    }
    const VgaLayout *l = &s->layout;
    bool square = l->kind == VGA_MODE_VBE;
    DisplaySurface *surf = display_console_surface(con);
    if (surf->width != l->width || surf->height != l->height) {
        surf = display_console_resize(con, l->width, l->height, square ? l->width : 4, square ? l->height : 3);
        full = true;
    }

    bool text = l->kind == VGA_MODE_TEXT;
    if (!full && !s->memory_written && (!text || vga_text_blink_phase(s) == s->last_blink_phase))
        return;
    if (text)
        vga_text_render(s, surf, full || s->font_written);
    else
        vga_gfx_render(s, surf, full);
    memset(s->dirty, 0, sizeof(s->dirty));
    s->memory_written = false;
    s->font_written = false;
    s->full_redraw = false;
}

static bool vga_get_text(void *opaque, DisplayText *text)
{
    VgaState *s = opaque;
    vga_ensure_layout(s);
    return vga_text_snapshot(s, text);
}

static char *vga_describe_mode(void *opaque)
{
    VgaState *s = opaque;
    vga_ensure_layout(s);
    const VgaLayout *l = &s->layout;
    if (s->hooks && s->hooks->describe) {
        char *d = s->hooks->describe(s);
        if (d)
            return d;
    }
    switch (l->kind) {
    case VGA_MODE_TEXT:
        return g_strdup_printf("VGA text %ux%u (%dx%d)", l->chars, l->text_rows, l->width, l->height);
    case VGA_MODE_PLANAR:
        return g_strdup_printf("VGA graphics %dx%d, 16 colours", l->width, l->height);
    case VGA_MODE_CGA4:
        return g_strdup_printf("VGA graphics %dx%d, 4 colours (CGA)", l->width, l->height);
    case VGA_MODE_256:
        return g_strdup_printf("VGA graphics %dx%d, 256 colours", l->width, l->height);
    case VGA_MODE_VBE:
        return g_strdup_printf("VBE %dx%dx%u", l->width, l->height, l->vbe_bpp);
    case VGA_MODE_BLANK:
        break;
    }
    return g_strdup("blank");
}

const DisplayDeviceOps vga_display_ops = {
    .update = vga_update,
    .get_text = vga_get_text,
    .describe_mode = vga_describe_mode,
};

/* ---- device ---- */

static void vga_reset(Device *dev)
{
    vga_core_reset((VgaState *)dev);
}

static bool vga_realize(Device *dev, GError **err)
{
    VgaState *s = (VgaState *)dev;
    Vm *vm = dev->vm;
    vga_core_init(s, vm, VGA_VRAM_SIZE);

    if (!s->bus) /* the ISA VGA: no PCI function, no linear framebuffer */
        goto legacy;
    PciDevice *d = pci_device_new(s->bus, s->devfn, "vga", 0x1234, 0x1111, 0x030000, 2);
    pci_device_set_subsystem(d, 0x1af4, 0x1100);
    d->opaque = s;
    s->pci = d;
    s->lfb = pci_register_bar_ram(d, 0, VGA_VRAM_SIZE, s->vram, true);
    mem_region_set_dirty_log(s->lfb, true);
    pci_register_bar_mmio(d, 2, VGA_MMIO_SIZE, &vga_mmio_ops, s);
    if (s->rom)
        pci_register_rom(d, s->rom, s->rom_size);
    g_clear_pointer(&s->rom, g_free);
    s->rom_size = 0;

legacy:
    vga_legacy_init(s);
    s->con = display_console_register(vm, &vga_display_ops, s);
    return true;
}

void vga_legacy_init(VgaState *s)
{
    io_add(vm_io(s->vm), "vga", 0x3b0, 0x30, &vga_port_ops, s);
    io_add(vm_io(s->vm), "vbe", 0x1ce, 3, &vbe_port_ops, s);
    mem_add_mmio(vm_mem(s->vm), "vga-window", 0xa0000, 0x20000, &window_ops, s, 1);
}

static void vga_unrealize(Device *dev)
{
    VgaState *s = (VgaState *)dev;
    vga_core_destroy(s);
    g_free(s->rom);
}

static void vga_pre_save(void *state)
{
    VgaState *s = state;
    if (s->pci)
        memcpy(s->pci_config, s->pci->config, sizeof(s->pci_config));
}

static bool vga_fail(GError **err, const char *what, unsigned v)
{
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "VGA: %s (0x%x)", what, v);
    return false;
}

bool vga_core_state_check(const VgaState *s, unsigned sr_index_max, unsigned gr_index_max, GError **err)
{
    static const uint8_t sr_mask[8] = { 0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0, 0, 0 };
    if (s->sr_index > sr_index_max || s->gr_index > gr_index_max || s->ar_index > 0x3f || s->cr_index > 0x3f)
        return vga_fail(err, "register index out of range",
                        (unsigned)s->sr_index << 24 | (unsigned)s->gr_index << 16 | (unsigned)s->ar_index << 8 | s->cr_index);
    for (unsigned i = 0; i < 8; i++)
        if (s->sr[i] & ~sr_mask[i])
            return vga_fail(err, "sequencer register with bits the VGA keeps clear", i);
    if (s->dac_component > 2)
        return vga_fail(err, "DAC sub-index past blue", s->dac_component);
    if (s->dac_state != 0 && s->dac_state != 3)
        return vga_fail(err, "DAC state is neither read nor write", s->dac_state);
    return true;
}

/* Bounds every index the port and memory paths use, and the VBE geometry the layout
 * and renderer divide by and index with; the register values themselves are whatever
 * a guest could have written (the masks of vga-core.c). */
static bool vga_check(const void *state, GError **err)
{
    const VgaState *s = state;
    if (s->pci && !pci_device_config_check(s->pci, s->pci_config, err))
        return false;
    return vga_std_state_check(s, err);
}

bool vga_std_state_check(const VgaState *s, GError **err)
{
    if (!vga_core_state_check(s, 7, 0x0f, err))
        return false;
    const uint16_t *r = s->vbe_regs;
    if (r[VBE_INDEX_ID] < VBE_ID0 || r[VBE_INDEX_ID] > VBE_ID5)
        return vga_fail(err, "VBE id", r[VBE_INDEX_ID]);
    if (r[VBE_INDEX_XRES] > VBE_MAX_XRES || r[VBE_INDEX_YRES] > VBE_MAX_YRES)
        return vga_fail(err, "VBE resolution", (unsigned)r[VBE_INDEX_XRES] << 16 | r[VBE_INDEX_YRES]);
    unsigned bpp = r[VBE_INDEX_BPP];
    if (bpp != 0 && bpp != 8 && bpp != 15 && bpp != 16 && bpp != 24 && bpp != 32)
        return vga_fail(err, "VBE depth", bpp);
    if (r[VBE_INDEX_BANK] >= VGA_VRAM_SIZE >> 16)
        return vga_fail(err, "VBE bank", r[VBE_INDEX_BANK]);
    if (r[VBE_INDEX_ENABLE] & ~(VBE_ENABLED | VBE_GETCAPS | VBE_8BIT_DAC | VBE_LFB_ENABLED | VBE_NOCLEARMEM))
        return vga_fail(err, "VBE enable bits", r[VBE_INDEX_ENABLE]);
    /* Enabling fills in a depth and a resolution; the renderer divides by the depth. */
    if ((r[VBE_INDEX_ENABLE] & VBE_ENABLED) && (!bpp || !r[VBE_INDEX_XRES] || !r[VBE_INDEX_YRES]))
        return vga_fail(err, "VBE enabled without a mode", r[VBE_INDEX_ENABLE]);
    return true;
}

/* The legacy window decodes by GR06 and the VBE registers at every access, so what
 * needs re-establishing is the PCI side (BAR 0, the LFB, and BAR 2 at their addresses,
 * or unmapped as the command register says) and the picture: layout and palette
 * rebuilt, every page dirty so a front end redraws the whole screen. */
static void vga_post_load(void *state)
{
    VgaState *s = state;
    if (s->pci)
        pci_device_config_load(s->pci, s->pci_config);
    vga_std_post_load(s);
}

void vga_std_post_load(VgaState *s)
{
    s->layout_stale = true;
    s->palette_stale = true;
    s->full_redraw = true;
    s->font_written = true;
    vga_mark_dirty(s, 0, s->vram_size);
}

/* The registers and video memory of the std-vga; the "vga" description puts the PCI
 * function's configuration in front (the stream is the fields in order either way). */
static const VmStateField vga_std_fields[] = {
    VMSTATE_U8(VgaState, misc),
    VMSTATE_U8(VgaState, feature),
    VMSTATE_U8(VgaState, vga_enable),
    VMSTATE_U8(VgaState, sr_index),
    VMSTATE_U8_ARRAY(VgaState, sr, 8),
    VMSTATE_U8(VgaState, gr_index),
    VMSTATE_U8_ARRAY(VgaState, gr, 16),
    VMSTATE_U8(VgaState, ar_index),
    VMSTATE_U8_ARRAY(VgaState, ar, 32),
    VMSTATE_BOOL(VgaState, ar_flipflop),
    VMSTATE_U8(VgaState, cr_index),
    VMSTATE_U8_ARRAY(VgaState, cr, 64),
    VMSTATE_U8_ARRAY(VgaState, latch, 4),
    /* 256 entries of red, green, blue. */
    { .name = "dac", .type = VMS_U8, .offset = offsetof(VgaState, dac), .count = 256 * 3 },
    VMSTATE_U8(VgaState, dac_mask),
    VMSTATE_U8(VgaState, dac_read_index),
    VMSTATE_U8(VgaState, dac_write_index),
    VMSTATE_U8(VgaState, dac_component),
    VMSTATE_U8(VgaState, dac_state),
    VMSTATE_U8_ARRAY(VgaState, dac_latch, 3),
    VMSTATE_U16(VgaState, vbe_index),
    VMSTATE_U16_ARRAY(VgaState, vbe_regs, VBE_NUM_REGS),
    VMSTATE_BUFFER_PTR(VgaState, vram, VGA_VRAM_SIZE),
    VMSTATE_END,
};

const VmStateDesc vga_std_vmsd = {
    .name = "vga-std",
    .version = 1,
    .fields = vga_std_fields,
};

static const VmStateField vga_fields[] = {
    VMSTATE_U8_ARRAY(VgaState, pci_config, 256),
    { .name = "std", .type = VMS_STRUCT, .offset = 0, .elem_size = sizeof(VgaState), .sub = &vga_std_vmsd },
    VMSTATE_END,
};
G_STATIC_ASSERT(sizeof(((VgaState *)0)->dac) == 256 * 3);

static const VmStateDesc vga_vmsd = {
    .name = "vga",
    .version = 1,
    .fields = vga_fields,
    .pre_save = vga_pre_save,
    .check = vga_check,
    .post_load = vga_post_load,
};

static const DeviceClass vga_class = {
    .name = "VGA",
    .description = "standard VGA with Bochs VBE extensions (std-vga)",
    .instance_size = sizeof(VgaState),
    .vmsd = &vga_vmsd,
    .realize = vga_realize,
    .reset = vga_reset,
    .unrealize = vga_unrealize,
};

/* The same VGA on the ISA bus (QEMU's isa-vga): the legacy ports and window and the
 * VBE ports; its BIOS is a ROM the firmware runs from fw_cfg (the board adds it). */
static const DeviceClass isa_vga_class = {
    .name = "isa-vga",
    .description = "standard VGA on the ISA bus, with the Bochs VBE ports",
    .instance_size = sizeof(VgaState),
    .vmsd = &vga_vmsd,
    .realize = vga_realize,
    .reset = vga_reset,
    .unrealize = vga_unrealize,
};

__attribute__((constructor)) static void vga_register(void)
{
    device_class_register(&vga_class);
    device_class_register(&isa_vga_class);
}

VgaState *vga_isa_new(Vm *vm, GError **err)
{
    VgaState *s = (VgaState *)device_new(vm, isa_vga_class.name, "vga", err);
    if (!s || !device_realize(DEVICE(s), err))
        return NULL;
    return s;
}

VgaState *vga_pci_new(Vm *vm, PciBus *bus, int devfn, const char *rom_path, GError **err)
{
    g_autofree char *rom = NULL;
    gsize rom_len = 0;
    if (rom_path && !pci_rom_load(rom_path, "VGA BIOS", "install the Debian package 'seabios', or use -vga none",
                                  &rom, &rom_len, err))
        return NULL;
    VgaState *s = (VgaState *)device_new(vm, vga_class.name, "vga", err);
    if (!s)
        return NULL;
    s->bus = bus;
    s->devfn = devfn;
    s->rom = (uint8_t *)g_steal_pointer(&rom);
    s->rom_size = rom_len;
    if (!device_realize(DEVICE(s), err))
        return NULL;
    return s;
}
