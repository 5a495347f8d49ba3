/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prepares a Linux bzImage (Documentation/arch/x86/boot.rst) or a Multiboot v1 kernel
 * (Multiboot Specification 0.6.96) for the boot ROM: each piece gets an address, a size
 * and its data in fw_cfg under QEMU's well-known selectors. */
#include "hw/firmware/kernel-loader.h"
#include "engine/regfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const unsigned char vireoboot_bin[];
extern const size_t vireoboot_bin_len;

#define FW_CFG_KERNEL_ENTRY 0x10
#define FW_CFG_KERNEL_DATA 0x11
#define FW_CFG_INITRD_DATA 0x12
#define FW_CFG_CMDLINE_ADDR 0x13
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15
#define FW_CFG_SETUP_ADDR 0x16
#define FW_CFG_SETUP_SIZE 0x17
#define FW_CFG_SETUP_DATA 0x18

/* Linux: real-mode setup and command line in low memory, as QEMU places them. */
#define LINUX_SETUP_ADDR 0x10000
#define LINUX_CMDLINE_ADDR 0x20000
#define LINUX_KERNEL_ADDR 0x100000
/* Keep loaded pieces clear of the firmware's tables at the top of low RAM. */
#define HIGH_RESERVE (1u << 20)

#define MULTIBOOT_MAGIC 0x1badb002
#define MULTIBOOT_SEARCH 8192
#define MB_INFO_SIZE 88
#define MB_MAX_MODULES 64
/* Read at once: a bzImage's setup code (at most 0x8200 bytes) and the Multiboot header
 * (in the first 8 KiB) lie in it. */
#define KERNEL_HEAD_SIZE 0x10000

static uint16_t rd16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v & 0xffff); wr16(p + 2, v >> 16); }

GBytes *vireoboot_rom(void)
{
    uint8_t *rom = g_memdup2(vireoboot_bin, vireoboot_bin_len);
    size_t len = vireoboot_bin_len;
    /* PnP header checksum: the 32 header bytes sum to zero. */
    uint16_t pnp = rd16(rom + 0x1a);
    g_assert(pnp + 32u <= len && !memcmp(rom + pnp, "$PnP", 4));
    uint8_t sum = 0;
    rom[pnp + 9] = 0;
    for (int i = 0; i < 32; i++)
        sum += rom[pnp + i];
    rom[pnp + 9] = (uint8_t)-sum;
    /* ROM checksum in the last byte: the whole image sums to zero. */
    sum = 0;
    rom[len - 1] = 0;
    for (size_t i = 0; i < len; i++)
        sum += rom[i];
    rom[len - 1] = (uint8_t)-sum;
    return g_bytes_new_take(rom, len);
}

static void add_piece(FwCfgState *fw, uint16_t addr_key, uint32_t addr, uint16_t size_key,
                      uint16_t data_key, GBytes *data)
{
    fw_cfg_add_i32(fw, addr_key, addr);
    fw_cfg_add_i32(fw, size_key, (uint32_t)g_bytes_get_size(data));
    fw_cfg_add_bytes(fw, data_key, data);
}

/* A file named by -kernel or -initrd. Only its size is known up front; data is read
 * once the loader knows it fits, so a huge or sparse file is refused without reading
 * gigabytes first. */
typedef struct KernelFile {
    const char *what;   /* "-kernel", "-initrd", ... for messages */
    const char *path;
    int fd;
    uint64_t size;
    uint8_t *head;      /* the first head_len bytes */
    size_t head_len;
} KernelFile;

static bool kfile_open(KernelFile *kf, const char *what, const char *path, size_t head_max, GError **err)
{
    GError *local = NULL;
    *kf = (KernelFile){ .what = what, .path = path, .fd = -1 };
    kf->fd = regfile_open(path, &kf->size, &local);
    if (kf->fd >= 0) {
        kf->head_len = (size_t)MIN(kf->size, (uint64_t)head_max);
        kf->head = g_malloc(kf->head_len ? kf->head_len : 1);
        if (regfile_read_at(kf->fd, path, 0, kf->head, kf->head_len, &local))
            return true;
    }
    /* A file that is missing or unreadable is not a bad option value: status 1. */
    g_set_error(err, VIREO_ERROR, local->code == VIREO_ERROR_INVALID ? VIREO_ERROR_INVALID
                                                                     : VIREO_ERROR_NOT_FOUND,
                "%s: %s", what, local->message);
    g_error_free(local);
    if (kf->fd >= 0)
        close(kf->fd);
    g_free(kf->head);
    *kf = (KernelFile){ .fd = -1 };
    return false;
}

static void kfile_close(KernelFile *kf)
{
    if (kf->fd >= 0)
        close(kf->fd);
    g_free(kf->head);
    kf->fd = -1;
    kf->head = NULL;
}

/* len bytes at off, which the caller checked lie within the file. */
static bool kfile_read(KernelFile *kf, uint64_t off, size_t len, void *dst, GError **err)
{
    if (off + len <= kf->head_len) {
        memcpy(dst, kf->head + off, len);
        return true;
    }
    GError *local = NULL;
    if (regfile_read_at(kf->fd, kf->path, off, dst, len, &local))
        return true;
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s: %s", kf->what, local->message);
    g_error_free(local);
    return false;
}

/* The whole (checked) file as GBytes. */
static GBytes *kfile_read_all(KernelFile *kf, GError **err)
{
    uint8_t *data = g_malloc(kf->size ? (size_t)kf->size : 1);
    if (!kfile_read(kf, 0, (size_t)kf->size, data, err)) {
        g_free(data);
        return NULL;
    }
    return g_bytes_new_take(data, (size_t)kf->size);
}

/* vga= on the kernel command line goes into the boot header's vid_mode (Linux's
 * Documentation/arch/x86/boot.rst, "vid_mode"; admin-guide/svga.rst): "normal" 0xFFFF,
 * "ext" 0xFFFE, "ask" 0xFFFD, or a mode number (decimal, 0x hex or 0 octal, as the
 * kernel's own parser). The kernel's setup code then sets the mode through the BIOS. */
static bool parse_vga(const char *cmdline, uint16_t *mode, GError **err)
{
    *mode = 0xffff;
    const char *v = NULL;
    for (const char *p = cmdline; (p = strstr(p, "vga=")); p += 4)
        if (p == cmdline || p[-1] == ' ')
            v = p + 4;   /* the last one counts, as in the kernel */
    if (!v)
        return true;
    size_t len = strcspn(v, " ");
    g_autofree char *word = g_strndup(v, len);
    if (!strcmp(word, "normal"))
        return true;
    if (!strcmp(word, "ext")) {
        *mode = 0xfffe;
        return true;
    }
    if (!strcmp(word, "ask")) {
        *mode = 0xfffd;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long n = strtoul(word, &end, 0);
    if (!*word || *end || errno || n > 0xffff || word[0] == '-') {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "-append: vga=%s is not a video mode (normal, ext, ask or a number up to 0xffff)",
                    word);
        return false;
    }
    *mode = (uint16_t)n;
    return true;
}

/* ---- Linux ---- */

static bool load_linux(FwCfgState *fw, KernelFile *kf, const char *initrd,
                       const char *cmdline, const KernelLoadInfo *info, GError **err)
{
    const uint8_t *k = kf->head;
    uint64_t klen = kf->size;
    uint16_t version = rd16(k + 0x206);
    if (version < 0x0202 || !(k[0x211] & 0x01)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "-kernel: Linux boot protocol %x.%02x without a high-loaded kernel "
                    "(zImage) is not supported; use a bzImage (protocol 2.02 or later)",
                    version >> 8, version & 0xff);
        return false;
    }
    unsigned setup_sects = k[0x1f1] ? k[0x1f1] : 4;
    size_t setup_len = (setup_sects + 1) * 512u;
    if (setup_len >= klen || setup_len > 0x8000 + 512) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "-kernel: the setup code size (%u sectors) does not fit the image", setup_sects);
        return false;
    }
    uint64_t kernel_len = klen - setup_len;
    if (LINUX_KERNEL_ADDR + kernel_len + HIGH_RESERVE > info->ram_below_4g) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "-kernel: a %" G_GUINT64_FORMAT " KiB kernel does not fit in %" G_GUINT64_FORMAT
                    " MiB of RAM", kernel_len >> 10, info->ram_below_4g >> 20);
        return false;
    }

    size_t cmdline_max = version >= 0x0206 ? rd32(k + 0x238) : 255;
    const char *cl = cmdline ? cmdline : "";
    if (strlen(cl) > cmdline_max) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "-append: the command line is %zu bytes; this kernel takes at most %zu",
                    strlen(cl), cmdline_max);
        return false;
    }

    uint16_t vid_mode;
    if (!parse_vga(cl, &vid_mode, err))
        return false;
    uint8_t *setup = g_memdup2(k, setup_len);
    setup[0x210] = 0xff;                  /* type_of_loader: no assigned ID */
    setup[0x211] |= 0x80;                 /* CAN_USE_HEAP */
    wr16(setup + 0x224, LINUX_CMDLINE_ADDR - LINUX_SETUP_ADDR - 0x200); /* heap_end_ptr */
    wr32(setup + 0x228, LINUX_CMDLINE_ADDR);
    wr16(setup + 0x1fa, vid_mode);        /* vid_mode: vga= on the command line */

    GBytes *rd = NULL;
    uint32_t rd_addr = 0;
    if (initrd) {
        KernelFile rf;
        if (!kfile_open(&rf, "-initrd", initrd, 0, err)) {
            g_free(setup);
            return false;
        }
        uint64_t rdlen = rf.size;
        uint64_t max = version >= 0x0203 ? rd32(k + 0x22c) : 0x37ffffff;
        if (max > info->ram_below_4g - HIGH_RESERVE - 1)
            max = info->ram_below_4g - HIGH_RESERVE - 1;
        uint64_t kernel_end = LINUX_KERNEL_ADDR + kernel_len;
        /* The size decides before anything is read: a 2 GiB file is not read to learn
         * that it does not fit. */
        if (rdlen > max + 1 || ((max + 1 - rdlen) & ~UINT64_C(0xfff)) < kernel_end) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "-initrd: a %" G_GUINT64_FORMAT " KiB initrd does not fit below %" G_GUINT64_FORMAT
                        " MiB next to the kernel; give the VM more memory (-m)",
                        rdlen >> 10, (max + 1) >> 20);
            kfile_close(&rf);
            g_free(setup);
            return false;
        }
        rd = kfile_read_all(&rf, err);
        kfile_close(&rf);
        if (!rd) {
            g_free(setup);
            return false;
        }
        rd_addr = (uint32_t)((max + 1 - rdlen) & ~UINT64_C(0xfff));
        wr32(setup + 0x218, rd_addr);
        wr32(setup + 0x21c, (uint32_t)rdlen);
    }
    uint8_t *kdata = g_malloc(kernel_len ? (size_t)kernel_len : 1);
    if (!kfile_read(kf, setup_len, (size_t)kernel_len, kdata, err)) {
        g_free(kdata);
        if (rd)
            g_bytes_unref(rd);
        g_free(setup);
        return false;
    }
    if (rd)
        add_piece(fw, FW_CFG_INITRD_ADDR, rd_addr, FW_CFG_INITRD_SIZE, FW_CFG_INITRD_DATA, rd);

    add_piece(fw, FW_CFG_SETUP_ADDR, LINUX_SETUP_ADDR, FW_CFG_SETUP_SIZE, FW_CFG_SETUP_DATA,
              g_bytes_new_take(setup, setup_len));
    add_piece(fw, FW_CFG_CMDLINE_ADDR, LINUX_CMDLINE_ADDR, FW_CFG_CMDLINE_SIZE, FW_CFG_CMDLINE_DATA,
              g_bytes_new(cl, strlen(cl) + 1));
    add_piece(fw, FW_CFG_KERNEL_ADDR, LINUX_KERNEL_ADDR, FW_CFG_KERNEL_SIZE, FW_CFG_KERNEL_DATA,
              g_bytes_new_take(kdata, (size_t)kernel_len));
    fw_cfg_add_i32(fw, FW_CFG_KERNEL_ENTRY, 0);
    fw_cfg_add_bytes(fw, FW_CFG_KERNEL_CMDLINE, g_bytes_new(cl, strlen(cl) + 1));
    return true;
}

/* ---- Multiboot ---- */

typedef struct MbImage {
    uint32_t start, end;  /* physical range [start, end) the image covers, bss included */
    uint32_t entry;
    uint8_t *data;        /* end - start bytes */
} MbImage;

static bool mb_range_ok(uint64_t start, uint64_t len, const KernelLoadInfo *info)
{
    /* Conventional memory below the EBDA, or RAM above 1 MiB clear of the firmware. */
    uint64_t end = start + len;
    if (end <= 0x9fc00)
        return true;
    return start >= 0x100000 && end + HIGH_RESERVE <= info->ram_below_4g;
}

/* ELF32 executable: PT_LOAD segments at their physical addresses (ELF gABI, program
 * headers). Only the program headers and the segments are read: the file may hold much
 * more (symbols), and the segments are checked against the VM's RAM first. */
static bool mb_load_elf(KernelFile *kf, MbImage *img, const KernelLoadInfo *info, GError **err)
{
    const uint8_t *k = kf->head;
    uint64_t klen = kf->size;
    if (klen < 52 || memcmp(k, "\177ELF", 4) || k[4] != 1 || k[5] != 1 || rd16(k + 18) != 3) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "-kernel: a Multiboot kernel must be a 32-bit little-endian i386 ELF file "
                    "or use the header's address fields");
        return false;
    }
    uint32_t phoff = rd32(k + 28);
    uint16_t phentsize = rd16(k + 42), phnum = rd16(k + 44);
    if (phentsize < 32 || phnum == 0 || phoff > klen || (uint64_t)phnum * phentsize > klen - phoff) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-kernel: the ELF program headers are damaged");
        return false;
    }
    /* The 32 bytes of each entry that ELF32 defines. */
    g_autofree uint8_t *phdrs = g_malloc((size_t)phnum * 32);
    for (unsigned i = 0; i < phnum; i++)
        if (!kfile_read(kf, phoff + (uint64_t)i * phentsize, 32, phdrs + (size_t)i * 32, err))
            return false;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = phdrs + (size_t)i * 32;
        if (rd32(ph) != 1 || rd32(ph + 20) == 0) /* PT_LOAD with a memory size */
            continue;
        uint64_t paddr = rd32(ph + 12), filesz = rd32(ph + 16), memsz = rd32(ph + 20);
        uint64_t off = rd32(ph + 4);
        if (filesz > memsz || off > klen || filesz > klen - off || !mb_range_ok(paddr, memsz, info)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "-kernel: ELF segment %u (0x%" G_GINT64_MODIFIER "x, %" G_GUINT64_FORMAT
                        " bytes) lies outside the file or the VM's RAM", i, paddr, memsz);
            return false;
        }
        lo = MIN(lo, paddr);
        hi = MAX(hi, paddr + memsz);
    }
    if (lo >= hi) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-kernel: the ELF file has nothing to load");
        return false;
    }
    img->start = (uint32_t)lo;
    img->end = (uint32_t)hi;
    img->data = g_malloc0(hi - lo);
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = phdrs + (size_t)i * 32;
        if (rd32(ph) != 1 || rd32(ph + 20) == 0)
            continue;
        if (!kfile_read(kf, rd32(ph + 4), rd32(ph + 16), img->data + (rd32(ph + 12) - lo), err)) {
            g_clear_pointer(&img->data, g_free);
            return false;
        }
    }
    img->entry = rd32(k + 24);
    return true;
}

/* The a.out kludge (header flag 16): the header says where the file goes. */
static bool mb_load_aout(KernelFile *kf, size_t hdr_off, const uint8_t *h, MbImage *img,
                         const KernelLoadInfo *info, GError **err)
{
    uint64_t klen = kf->size;
    uint32_t header_addr = rd32(h + 12), load_addr = rd32(h + 16);
    uint32_t load_end = rd32(h + 20), bss_end = rd32(h + 24), entry = rd32(h + 28);
    if (load_addr > header_addr || header_addr - load_addr > hdr_off) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-kernel: Multiboot load address is after the header");
        return false;
    }
    uint64_t file_off = hdr_off - (header_addr - load_addr);
    uint64_t load_len = load_end ? (uint64_t)load_end - load_addr : klen - file_off;
    uint64_t mem_len = bss_end ? (uint64_t)bss_end - load_addr : load_len;
    if (load_end && load_end < load_addr) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-kernel: Multiboot load_end_addr is below load_addr");
        return false;
    }
    if (file_off + load_len > klen || mem_len < load_len || !mb_range_ok(load_addr, mem_len, info)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "-kernel: the Multiboot address fields point outside the file or the VM's RAM");
        return false;
    }
    img->start = load_addr;
    img->end = (uint32_t)(load_addr + mem_len);
    img->data = g_malloc0(mem_len);
    if (!kfile_read(kf, file_off, load_len, img->data, err)) {
        g_clear_pointer(&img->data, g_free);
        return false;
    }
    img->entry = entry;
    return true;
}

static bool load_multiboot(FwCfgState *fw, KernelFile *kf, size_t hdr_off, const char *initrd,
                           const char *cmdline, const KernelLoadInfo *info, GError **err)
{
    const uint8_t *h = kf->head + hdr_off;
    uint64_t klen = kf->size;
    uint32_t flags = rd32(h + 4);
    /* Spec 3.1.2: a loader that does not understand a required bit (0-15) must refuse. */
    if (flags & 0xfff8) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "-kernel: the Multiboot header asks for features 0x%x Vireo does not offer", flags & 0xfff8);
        return false;
    }
    if (flags & (1u << 16) && hdr_off + 32 > klen) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-kernel: the Multiboot header is truncated");
        return false;
    }
    MbImage img = { 0 };
    bool ok = flags & (1u << 16) ? mb_load_aout(kf, hdr_off, h, &img, info, err)
                                 : mb_load_elf(kf, &img, info, err);
    if (!ok)
        return false;

    /* Modules: -initrd "file args,file args", each page aligned after the information. */
    g_auto(GStrv) mods = initrd && *initrd ? g_strsplit(initrd, ",", -1) : g_new0(char *, 1);
    unsigned nmods = g_strv_length(mods);
    GByteArray *strings = g_byte_array_new();
    /* The command line starts with the kernel's file name, as GRUB and QEMU pass it:
     * kernels take the first word as their name (kvm-unit-tests' argv[0]). */
    g_autofree char *cl = g_strdup_printf("%s %s", kf->path, cmdline ? cmdline : "");
    /* Information block layout: info, module list, memory map, then strings. */
    uint32_t info_addr = (img.end + 0xfff) & ~0xfffu;
    uint32_t mods_off = MB_INFO_SIZE;
    uint32_t mmap_off = mods_off + 16 * nmods;
    unsigned nmmap = info->ram_above_4g ? 4 : 3;
    uint32_t str_off = mmap_off + 24 * nmmap;
    uint32_t cmdline_addr = info_addr + str_off;
    g_byte_array_append(strings, (const guint8 *)cl, (guint)strlen(cl) + 1);
    uint32_t name_addr = info_addr + str_off + strings->len;
    static const char loader_name[] = "Vireo";
    g_byte_array_append(strings, (const guint8 *)loader_name, sizeof(loader_name));
    uint32_t mod_str_addr[MB_MAX_MODULES];
    if (nmods > G_N_ELEMENTS(mod_str_addr)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-initrd: more than 64 Multiboot modules");
        g_byte_array_free(strings, TRUE);
        g_free(img.data);
        return false;
    }
    for (unsigned i = 0; i < nmods; i++) {
        mod_str_addr[i] = info_addr + str_off + strings->len;
        g_byte_array_append(strings, (const guint8 *)mods[i], (guint)strlen(mods[i]) + 1);
    }
    uint32_t info_len = str_off + strings->len;
    uint8_t *mbi = g_malloc0(info_len);
    memcpy(mbi + str_off, strings->data, strings->len);
    g_byte_array_free(strings, TRUE);

    /* Module data, concatenated page by page after the information block. Every module
     * is opened and the total checked before any of them is read. */
    uint32_t mods_base = (info_addr + info_len + 0xfff) & ~0xfffu;
    KernelFile mf[MB_MAX_MODULES];
    unsigned nopen = 0;
    uint64_t total = 0;
    ok = true;
    for (unsigned i = 0; i < nmods && ok; i++) {
        g_autofree char *path = g_strndup(mods[i], strcspn(mods[i], " "));
        ok = kfile_open(&mf[i], "-initrd module", path, 0, err);
        if (ok) {
            nopen++;
            total += (mf[i].size + 0xfff) & ~UINT64_C(0xfff);
        }
    }
    if (ok && (uint64_t)mods_base + total + HIGH_RESERVE > info->ram_below_4g) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "-kernel: the kernel and its modules do not fit in the VM's RAM; give it more (-m)");
        ok = false;
    }
    uint8_t *moddata = ok ? g_malloc0(total ? (size_t)total : 1) : NULL;
    uint64_t pos = 0;
    for (unsigned i = 0; i < nmods && ok; i++) {
        ok = kfile_read(&mf[i], 0, (size_t)mf[i].size, moddata + pos, err);
        uint8_t *m = mbi + mods_off + 16 * i;
        wr32(m, mods_base + (uint32_t)pos);
        wr32(m + 4, mods_base + (uint32_t)(pos + mf[i].size));
        wr32(m + 8, mod_str_addr[i]);
        pos += (mf[i].size + 0xfff) & ~UINT64_C(0xfff);
    }
    for (unsigned i = 0; i < nopen; i++)
        kfile_close(&mf[i]);
    if (!ok) {
        g_free(moddata);
        g_free(mbi);
        g_free(img.data);
        return false;
    }

    /* Memory map (spec 3.3): each entry's size field does not count itself. */
    struct { uint64_t base, len; uint32_t type; } map[4] = {
        { 0, 0x9fc00, 1 },
        { 0x9fc00, 0x400, 2 },
        { 0x100000, info->ram_below_4g - 0x100000, 1 },
        { UINT64_C(1) << 32, info->ram_above_4g, 1 },
    };
    for (unsigned i = 0; i < nmmap; i++) {
        uint8_t *e = mbi + mmap_off + 24 * i;
        wr32(e, 20);
        wr32(e + 4, (uint32_t)map[i].base);
        wr32(e + 8, (uint32_t)(map[i].base >> 32));
        wr32(e + 12, (uint32_t)map[i].len);
        wr32(e + 16, (uint32_t)(map[i].len >> 32));
        wr32(e + 20, map[i].type);
    }
    /* Flags: memory, command line, modules, memory map, boot loader name. */
    wr32(mbi, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
    wr32(mbi + 4, 639);
    wr32(mbi + 8, (uint32_t)((info->ram_below_4g - 0x100000) >> 10));
    wr32(mbi + 16, cmdline_addr);
    wr32(mbi + 20, nmods);
    wr32(mbi + 24, info_addr + mods_off);
    wr32(mbi + 44, 24 * nmmap);
    wr32(mbi + 48, info_addr + mmap_off);
    wr32(mbi + 64, name_addr);

    add_piece(fw, FW_CFG_KERNEL_ADDR, img.start, FW_CFG_KERNEL_SIZE, FW_CFG_KERNEL_DATA,
              g_bytes_new_take(img.data, img.end - img.start));
    add_piece(fw, FW_CFG_SETUP_ADDR, info_addr, FW_CFG_SETUP_SIZE, FW_CFG_SETUP_DATA,
              g_bytes_new_take(mbi, info_len));
    if (nmods)
        add_piece(fw, FW_CFG_INITRD_ADDR, mods_base, FW_CFG_INITRD_SIZE, FW_CFG_INITRD_DATA,
                  g_bytes_new_take(moddata, (size_t)total));
    else
        g_free(moddata);
    fw_cfg_add_i32(fw, FW_CFG_CMDLINE_SIZE, 0);
    fw_cfg_add_i32(fw, FW_CFG_KERNEL_ENTRY, img.entry);
    return true;
}

bool kernel_load(FwCfgState *fw, const char *kernel, const char *initrd, const char *cmdline,
                 const KernelLoadInfo *info, GError **err)
{
    KernelFile kf;
    if (!kfile_open(&kf, "-kernel", kernel, KERNEL_HEAD_SIZE, err))
        return false;
    const uint8_t *k = kf.head;
    size_t klen = kf.head_len;
    bool ok;
    size_t mb = SIZE_MAX;
    for (size_t off = 0; off + 12 <= MIN(klen, (size_t)MULTIBOOT_SEARCH); off += 4) {
        if (rd32(k + off) == MULTIBOOT_MAGIC && rd32(k + off) + rd32(k + off + 4) + rd32(k + off + 8) == 0) {
            mb = off;
            break;
        }
    }
    if (klen > 0x240 && !memcmp(k + 0x202, "HdrS", 4)) {
        ok = load_linux(fw, &kf, initrd, cmdline, info, err);
    } else if (mb != SIZE_MAX) {
        ok = load_multiboot(fw, &kf, mb, initrd, cmdline, info, err);
    } else {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "-kernel %s: neither a Linux bzImage nor a Multiboot kernel", kernel);
        ok = false;
    }
    kfile_close(&kf);
    if (ok)
        fw_cfg_add_file(fw, VIREOBOOT_ROM_NAME, vireoboot_rom());
    return ok;
}
