/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the IDE files only: a channel (command and control block registers, two
 * devices), the ATA disk and ATAPI CD-ROM state, and the hooks to the bus master. */
#pragma once

#include "hw/storage/ide.h"
#include "disks/block.h"
#include "engine/device.h"
#include "engine/vmstate.h"

/* Status register bits (ATA-6 §7.15.6). */
#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DSC 0x10 /* obsolete "seek complete"; BIOSes still test it */
#define ST_DF 0x20
#define ST_DRDY 0x40
#define ST_BSY 0x80

/* Error register bits (ATA-6 §7.9.6). */
#define ER_AMNF 0x01
#define ER_ABRT 0x04
#define ER_IDNF 0x10
#define ER_UNC 0x40

/* Device control register (ATA-6 §7.8). */
#define DC_NIEN 0x02
#define DC_SRST 0x04
#define DC_HOB 0x80

/* Device/head register. */
#define DH_DEV 0x10
#define DH_LBA 0x40

#define ATA_SECTOR 512
#define CD_SECTOR 2048
/* Largest PIO block: READ MULTIPLE with 16 sectors, an ATAPI byte count limit of 64 KiB. */
#define IDE_BUF_SIZE (128 * 1024)
#define IDE_MAX_MULTIPLE 16
#define VIREO_IDE_FIRMWARE "1.0"

typedef struct IdeChannel IdeChannel;
typedef struct IdeDevice IdeDevice;

typedef enum { IDE_NONE, IDE_DISK, IDE_CDROM } IdeKind;

/* What happens when the guest has moved the last byte of a PIO block. An enumeration
 * rather than a function pointer so that it can be saved with the device's state. */
typedef enum {
    IDE_END_NONE,
    IDE_END_ATA_READ,      /* next DRQ block of a PIO read, or the end */
    IDE_END_ATA_WRITE,     /* the block is written to the image */
    IDE_END_ATAPI_PIO,     /* next chunk of an ATAPI data-in reply */
    IDE_END_ATAPI_PACKET,  /* the 12 command bytes are in */
    IDE_END_MAX = IDE_END_ATAPI_PACKET,
} IdeEnd;

struct IdeDevice {
    IdeChannel *ch;
    int unit;
    IdeKind kind;
    BlockImage *img;
    uint64_t nsectors;         /* in the device's own sector size */
    uint16_t cyls, heads, secs;         /* default geometry (IDENTIFY words 1, 3, 6) */
    uint16_t cur_heads, cur_secs;       /* INITIALIZE DEVICE PARAMETERS */
    unsigned multiple;                  /* SET MULTIPLE MODE; 0 = disabled */
    uint8_t mdma_mode, udma_mode;       /* SET FEATURES 03h: selected mode, 0xff none */
    bool write_cache;
    char serial[21], model[41];

    uint8_t status, error;

    /* PIO data transfer. */
    uint8_t *buf;          /* IDE_BUF_SIZE bytes */
    uint32_t pos, end;
    uint8_t end_fn;        /* IdeEnd */

    /* The running ATA read/write command. */
    uint64_t lba;
    uint32_t remaining;   /* sectors still to move */
    uint32_t block;       /* sectors per DRQ block */
    bool lba48;
    uint8_t cmd;

    /* DMA: the command waits for the bus master's start bit. */
    bool dma_pending;
    bool dma_write;       /* device to memory is false: true means memory to device */
    /* An asynchronous DMA request is in flight; completions of an older generation
     * (the device was reset meanwhile) are dropped. */
    bool aio_busy;
    unsigned aio_gen;

    /* ATAPI. */
    uint8_t cdb[12];
    uint8_t sense_key, asc, ascq;
    bool unit_attention;   /* medium may have changed: the next command reports it */
    bool tray_open;
    bool locked;
    uint8_t media_event;   /* GET EVENT STATUS NOTIFICATION media event code */
    uint32_t cd_lba;        /* READ(10)/(12) in progress */
    uint32_t cd_remaining;  /* sectors */
    uint32_t byte_limit;    /* byte count limit of the PACKET command */
    uint32_t xfer_pos, xfer_end; /* reply bytes in buf not yet handed to the host */

    /* Saved beside the state so a load can refuse a stream from another drive set-up:
     * the kind, the size in sectors and whether a medium is in (pre_save fills them). */
    uint8_t saved_kind;
    bool saved_medium;
    uint64_t saved_nsectors;
};

/* The bus master's half of a DMA transfer (piix-ide.c). Moves len bytes between buf and
 * the PRD table's buffers; to_memory gives the direction. Returns false (and sets the
 * error bit) when a PRD points outside RAM or the table ends before len bytes. */
typedef struct IdeDmaOps {
    /* True when the engine may start now (start bit set). */
    bool (*ready)(void *opaque);
    bool (*transfer)(void *opaque, uint8_t *buf, uint32_t len, bool to_memory);
    /* Consumes the next up to len bytes of the PRD buffers and says where they are:
     * *gpa always; *host too when they are plain guest RAM the device may access
     * directly in that direction (else NULL: go through mem_read/mem_write). Returns
     * the byte count, 0 on a bus master error. */
    uint32_t (*map)(void *opaque, uint32_t len, bool to_memory, uint8_t **host, hwaddr *gpa);
    /* The command is over; ok false when the device reports an error. */
    void (*done)(void *opaque, bool ok);
} IdeDmaOps;

struct IdeChannel {
    Vm *vm;
    int index;      /* 0 primary, 1 secondary: serial numbers differ per drive */
    IrqLine irq;
    IdeDevice dev[2];
    /* Command block registers: writes reach both devices (ATA-6 §5.2.x), so one copy;
     * the "previous" bytes are the 48-bit high-order halves (ATA-6 §6.20). */
    uint8_t feature, nsector, sector, lcyl, hcyl;
    uint8_t hob_feature, hob_nsector, hob_sector, hob_lcyl, hob_hcyl;
    uint8_t select;
    uint8_t devctl;
    bool irq_pending; /* INTRQ before nIEN gating */
    const IdeDmaOps *dma;
    void *dma_opaque;
    PortRegion *cmd_region, *ctl_region;
};

static inline IdeDevice *ide_cur(IdeChannel *ch)
{
    return &ch->dev[(ch->select & DH_DEV) ? 1 : 0];
}

/* ide.c, for the bus master: hooks the channel to it, and starts a pending transfer. */
void ide_channel_set_dma(IdeChannel *ch, const IdeDmaOps *ops, void *opaque);
void ide_channel_dma_start(IdeChannel *ch);
/* Whether the legacy ports answer (PIIX3 IDETIM decode enable). */
void ide_channel_set_decode(IdeChannel *ch, bool on);

/* ide.c, for the ATAPI half. */
void ide_set_irq(IdeChannel *ch);
/* Opens a PIO data block of len bytes at buf + start; end_fn runs when it is done. */
void ide_pio_start(IdeDevice *d, uint32_t start, uint32_t len, IdeEnd end_fn);
void ide_abort(IdeDevice *d);
void ide_set_signature(IdeDevice *d);

/* A channel inside another device's state (the PIIX3 function): registers its ports
 * without reset handler or cleanup, which the owner runs (ide_channel_reset at system
 * reset, ide_channel_fini when it goes). */
void ide_channel_init(IdeChannel *ch, Vm *vm, uint16_t cmd_base, uint16_t ctl_base, const IrqLine *irq);
void ide_channel_reset(IdeChannel *ch);
void ide_channel_fini(IdeChannel *ch);

/* Device state of a channel and its two drives, for the owner's description (the
 * engine runs only the top-level hooks, so the owner calls these from its own). The
 * check refuses a stream made with other drives or media, or whose indices, counts and
 * PIO continuations the drive could not run from; post_load re-derives nothing that
 * drives an output: the owner re-drives INTRQ (ide_channel_irq_level). */
extern const VmStateDesc ide_channel_vmsd;
void ide_channel_pre_save(IdeChannel *ch);
bool ide_channel_check(const IdeChannel *ch, GError **err);
void ide_channel_post_load(IdeChannel *ch);
bool ide_channel_irq_level(const IdeChannel *ch);
/* Waits for the drives' DMA requests in flight to complete (lock held; it is dropped
 * while waiting, since the completion takes it). */
void ide_channel_drain(IdeChannel *ch);

/* ide-drives.c: the IDE drives of cfg in positions 0-3 (channel = position / 2), fixed
 * indexes first; and the DeviceClass hooks over both channels' drives. */
bool ide_pair_attach_drives(IdeChannel ch[2], const VmConfig *cfg, GError **err);
void ide_pair_for_each_image(IdeChannel ch[2], DeviceImageFn fn, void *opaque);
DeviceMediaResult ide_pair_change_media(IdeChannel ch[2], const char *drive, const char *filename,
                                        const char *format, GError **err);
bool ide_pair_swap_image(IdeChannel ch[2], const char *drive, BlockImage *img, BlockImage **old);

/* ide-atapi.c */
void atapi_pio_end(IdeDevice *d);
void atapi_packet_received(IdeDevice *d);
void atapi_identify(IdeDevice *d, uint16_t *id);
void atapi_packet_begin(IdeDevice *d);
void atapi_dma_run(IdeDevice *d);
void atapi_reset(IdeDevice *d);
void atapi_change_medium(IdeDevice *d, BlockImage *img);
