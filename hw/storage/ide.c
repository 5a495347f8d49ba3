/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An ATA channel after ATA/ATAPI-6 (T13 1410D rev 3b): the command and control block
 * registers, device selection, software reset and signatures, and the ATA command set
 * of a hard disk (PIO in/out, multiple, DMA, LBA28/LBA48 and CHS addressing). The ATAPI
 * packet commands are in ide-atapi.c, the PIIX3 bus master in piix-ide.c.
 *
 * PIO commands complete at once (the block layer is called on the vCPU thread under the
 * engine lock); DMA commands of disks run on the block layer's thread pool and show BSY
 * until their completion takes the lock and raises the interrupt. */
#include "hw/storage/ide-internal.h"

#include <string.h>

/* Command block register offsets (ATA-6 §7.1, table 19). */
enum {
    REG_DATA = 0,
    REG_ERROR_FEATURE = 1,
    REG_NSECTOR = 2,
    REG_SECTOR = 3,
    REG_LCYL = 4,
    REG_HCYL = 5,
    REG_SELECT = 6,
    REG_STATUS_COMMAND = 7,
};

/* ATA-6 §8.39.6 (and table 4): the nIEN-gated INTRQ. */
static void ide_update_irq(IdeChannel *ch)
{
    irq_set(&ch->irq, ch->irq_pending && !(ch->devctl & DC_NIEN));
}

void ide_set_irq(IdeChannel *ch)
{
    ch->irq_pending = true;
    ide_update_irq(ch);
}

static void ide_clear_irq(IdeChannel *ch)
{
    ch->irq_pending = false;
    ide_update_irq(ch);
}

void ide_pio_start(IdeDevice *d, uint32_t start, uint32_t len, IdeEnd end_fn)
{
    d->pos = start;
    d->end = start + len;
    d->end_fn = (uint8_t)end_fn;
    d->status |= ST_DRQ;
}

static void ide_pio_stop(IdeDevice *d)
{
    d->pos = d->end = 0;
    d->end_fn = IDE_END_NONE;
    d->status &= ~ST_DRQ;
}

/* Command aborted (ATA-6 §6.2: ERR with ABRT in the error register). */
void ide_abort(IdeDevice *d)
{
    ide_pio_stop(d);
    d->dma_pending = false;
    d->error = ER_ABRT;
    d->status = ST_DRDY | ST_ERR;
    ide_set_irq(d->ch);
}

static void ata_error(IdeDevice *d, uint8_t error)
{
    ide_pio_stop(d);
    d->dma_pending = false;
    d->error = error;
    d->status = ST_DRDY | ST_ERR;
    ide_set_irq(d->ch);
}

static void ata_ok(IdeDevice *d)
{
    ide_pio_stop(d);
    d->status = ST_DRDY | ST_DSC;
    d->error = 0;
    ide_set_irq(d->ch);
}

/* ATA-6 §9.12: the signature a device leaves in the command block after power-on,
 * reset or EXECUTE DEVICE DIAGNOSTIC tells a packet device (14h EBh) from a disk. */
void ide_set_signature(IdeDevice *d)
{
    IdeChannel *ch = d->ch;
    ch->nsector = 1;
    ch->sector = 1;
    if (d->kind == IDE_CDROM) {
        ch->lcyl = 0x14;
        ch->hcyl = 0xeb;
    } else {
        ch->lcyl = 0;
        ch->hcyl = 0;
    }
    ch->select &= DH_DEV | 0xa0;
}

static void ide_device_reset(IdeDevice *d)
{
    ide_pio_stop(d);
    d->dma_pending = false;
    d->aio_busy = false;
    d->aio_gen++;
    d->error = 0x01; /* diagnostic code: no error */
    d->status = d->kind == IDE_DISK ? ST_DRDY | ST_DSC : 0;
    d->multiple = 0;
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
    if (d->kind == IDE_CDROM)
        atapi_reset(d);
}

/* Hardware or software reset of both devices (ATA-6 §9.2, §9.3): device 0 is selected
 * afterwards and both carry their signature. */
static void ide_channel_reset_devices(IdeChannel *ch)
{
    ch->select = 0xa0;
    for (int i = 0; i < 2; i++)
        if (ch->dev[i].kind != IDE_NONE)
            ide_device_reset(&ch->dev[i]);
    ch->select = 0xa0;
    ch->feature = ch->hob_feature = 0;
    ch->hob_nsector = ch->hob_sector = ch->hob_lcyl = ch->hob_hcyl = 0;
    for (int i = 1; i >= 0; i--)
        if (ch->dev[i].kind != IDE_NONE)
            ide_set_signature(&ch->dev[i]);
    ch->select = 0xa0;
    ide_clear_irq(ch);
}

/* Addressing ------------------------------------------------------------------------*/

static uint32_t ata_count(IdeDevice *d, bool lba48)
{
    IdeChannel *ch = d->ch;
    if (lba48) {
        uint32_t n = ch->nsector | (uint32_t)ch->hob_nsector << 8;
        return n ? n : 65536;
    }
    return ch->nsector ? ch->nsector : 256;
}

/* ATA-6 §6.20 (48-bit) and §6.1 (28-bit LBA and CHS): the address the registers name;
 * false when a CHS address lies outside the current translation. */
static bool ata_get_lba(IdeDevice *d, bool lba48, uint64_t *lba)
{
    IdeChannel *ch = d->ch;
    if (lba48) {
        *lba = ch->sector | (uint64_t)ch->lcyl << 8 | (uint64_t)ch->hcyl << 16 |
               (uint64_t)ch->hob_sector << 24 | (uint64_t)ch->hob_lcyl << 32 |
               (uint64_t)ch->hob_hcyl << 40;
        return true;
    }
    if (ch->select & DH_LBA) {
        *lba = ch->sector | (uint64_t)ch->lcyl << 8 | (uint64_t)ch->hcyl << 16 |
               (uint64_t)(ch->select & 0x0f) << 24;
        return true;
    }
    unsigned cyl = ch->lcyl | ch->hcyl << 8, head = ch->select & 0x0f, sec = ch->sector;
    if (!d->cur_heads || !d->cur_secs || sec == 0 || sec > d->cur_secs || head >= d->cur_heads)
        return false;
    *lba = ((uint64_t)cyl * d->cur_heads + head) * d->cur_secs + sec - 1;
    return true;
}

/* Leaves the address of the last sector moved in the registers, as a CHS or LBA driver
 * reading them back after a multi-sector transfer expects. */
static void ata_set_lba(IdeDevice *d, uint64_t lba)
{
    IdeChannel *ch = d->ch;
    if (d->lba48) {
        ch->sector = lba & 0xff;
        ch->lcyl = (lba >> 8) & 0xff;
        ch->hcyl = (lba >> 16) & 0xff;
        ch->hob_sector = (lba >> 24) & 0xff;
        ch->hob_lcyl = (lba >> 32) & 0xff;
        ch->hob_hcyl = (lba >> 40) & 0xff;
    } else if (ch->select & DH_LBA) {
        ch->sector = lba & 0xff;
        ch->lcyl = (lba >> 8) & 0xff;
        ch->hcyl = (lba >> 16) & 0xff;
        ch->select = (ch->select & 0xf0) | ((lba >> 24) & 0x0f);
    } else if (d->cur_heads && d->cur_secs) {
        uint64_t cyl = lba / ((uint64_t)d->cur_heads * d->cur_secs);
        unsigned rem = (unsigned)(lba % ((uint64_t)d->cur_heads * d->cur_secs));
        ch->lcyl = cyl & 0xff;
        ch->hcyl = (cyl >> 8) & 0xff;
        ch->select = (ch->select & 0xf0) | ((rem / d->cur_secs) & 0x0f);
        ch->sector = (uint8_t)(rem % d->cur_secs + 1);
    }
}

/* Reads/writes: PIO ------------------------------------------------------------------*/

static void ata_read_end(IdeDevice *d);

/* PIO data-in (ATA-6 §9.7): each DRQ block is announced with an interrupt. */
static void ata_read_block(IdeDevice *d)
{
    uint32_t n = MIN(d->remaining, d->block);
    GError *err = NULL;
    if (!block_pread(d->img, d->lba * ATA_SECTOR, d->buf, (size_t)n * ATA_SECTOR, &err)) {
        VLOG(LOG_DISK, "IDE: read at sector %" G_GUINT64_FORMAT ": %s", d->lba, err->message);
        g_error_free(err);
        ata_set_lba(d, d->lba);
        ata_error(d, ER_UNC | ER_ABRT);
        return;
    }
    ata_set_lba(d, d->lba + n - 1);
    d->lba += n;
    d->remaining -= n;
    d->status = ST_DRDY | ST_DSC;
    d->error = 0;
    ide_pio_start(d, 0, n * ATA_SECTOR, IDE_END_ATA_READ);
    ide_set_irq(d->ch);
}

static void ata_read_end(IdeDevice *d)
{
    if (d->remaining)
        ata_read_block(d);
    else
        d->status = ST_DRDY | ST_DSC;
}

static void ata_write_end(IdeDevice *d);

static void ata_write_next(IdeDevice *d)
{
    d->status = ST_DRDY | ST_DSC;
    ide_pio_start(d, 0, MIN(d->remaining, d->block) * ATA_SECTOR, IDE_END_ATA_WRITE);
}

/* PIO data-out (ATA-6 §9.8): the block is written when the host has filled it; an
 * interrupt asks for the next one or reports completion. */
static void ata_write_end(IdeDevice *d)
{
    uint32_t n = d->end / ATA_SECTOR;
    GError *err = NULL;
    if (!block_pwrite(d->img, d->lba * ATA_SECTOR, d->buf, (size_t)n * ATA_SECTOR, &err)) {
        VLOG(LOG_DISK, "IDE: write at sector %" G_GUINT64_FORMAT ": %s", d->lba, err->message);
        g_error_free(err);
        ata_set_lba(d, d->lba);
        ata_error(d, ER_ABRT);
        return;
    }
    ata_set_lba(d, d->lba + n - 1);
    d->lba += n;
    d->remaining -= n;
    if (d->remaining) {
        ata_write_next(d);
        ide_set_irq(d->ch);
    } else {
        ata_ok(d);
    }
}

/* Asynchronous DMA (disks): the PRD buffers become an iovec, straight into guest RAM
 * where the bus master can map it and through bounce buffers elsewhere; the block
 * layer's pool thread completes the command under the engine lock. */
typedef struct IdeBounce {
    hwaddr gpa;
    uint32_t len;
    uint8_t *buf;
} IdeBounce;

typedef struct IdeAio {
    IdeDevice *d;
    unsigned gen;
    bool write;
    uint64_t lba;
    uint32_t count;
    GArray *iov;     /* struct iovec */
    GArray *bounce;  /* IdeBounce */
} IdeAio;

static void ide_aio_free(IdeAio *r)
{
    for (guint i = 0; i < r->bounce->len; i++)
        g_free(g_array_index(r->bounce, IdeBounce, i).buf);
    g_array_free(r->bounce, TRUE);
    g_array_free(r->iov, TRUE);
    g_free(r);
}

static void ata_aio_done(void *opaque, const GError *err)
{
    IdeAio *r = opaque;
    IdeDevice *d = r->d;
    IdeChannel *ch = d->ch;
    vm_lock(ch->vm);
    if (r->gen == d->aio_gen && d->aio_busy) {
        d->aio_busy = false;
        if (err) {
            VLOG(LOG_DISK, "IDE: DMA at sector %" G_GUINT64_FORMAT ": %s", r->lba, err->message);
            ata_set_lba(d, r->lba);
            ata_error(d, r->write ? ER_ABRT : ER_UNC | ER_ABRT);
            ch->dma->done(ch->dma_opaque, false);
        } else {
            if (!r->write)
                for (guint i = 0; i < r->bounce->len; i++) {
                    IdeBounce *b = &g_array_index(r->bounce, IdeBounce, i);
                    mem_write(vm_mem(ch->vm), b->gpa, b->buf, b->len);
                }
            ata_set_lba(d, r->lba + r->count - 1);
            d->remaining = 0;
            ch->dma->done(ch->dma_opaque, true);
            ata_ok(d);
        }
    }
    vm_unlock(ch->vm);
    ide_aio_free(r);
}

static void ata_dma_submit(IdeDevice *d)
{
    IdeChannel *ch = d->ch;
    IdeAio *r = g_new0(IdeAio, 1);
    r->d = d;
    r->gen = d->aio_gen;
    r->write = d->dma_write;
    r->lba = d->lba;
    r->count = d->remaining;
    r->iov = g_array_new(FALSE, FALSE, sizeof(struct iovec));
    r->bounce = g_array_new(FALSE, FALSE, sizeof(IdeBounce));
    uint64_t left = (uint64_t)d->remaining * ATA_SECTOR;
    while (left) {
        uint8_t *host;
        hwaddr gpa = 0;
        uint32_t n = ch->dma->map(ch->dma_opaque, (uint32_t)MIN(left, UINT32_C(1) << 30),
                                  !r->write, &host, &gpa);
        if (!n) {
            /* A descriptor outside RAM or a short table: nothing is transferred. */
            ata_set_lba(d, d->lba);
            ata_error(d, ER_ABRT);
            ch->dma->done(ch->dma_opaque, false);
            ide_aio_free(r);
            return;
        }
        if (!host) {
            IdeBounce b = { gpa, n, g_malloc(n) };
            if (r->write)
                mem_read(vm_mem(ch->vm), gpa, b.buf, n);
            g_array_append_val(r->bounce, b);
            host = b.buf;
        }
        struct iovec v = { host, n };
        g_array_append_val(r->iov, v);
        left -= n;
    }
    d->aio_busy = true;
    d->status = ST_DRDY | ST_BSY;
    if (r->write)
        block_aio_writev(d->img, r->lba * ATA_SECTOR, (struct iovec *)(void *)r->iov->data,
                         (int)r->iov->len, ata_aio_done, r);
    else
        block_aio_readv(d->img, r->lba * ATA_SECTOR, (struct iovec *)(void *)r->iov->data,
                        (int)r->iov->len, ata_aio_done, r);
}

/* DMA (ATA-6 §9.10): the transfer runs when the bus master is started. */
static void ata_dma_run(IdeDevice *d)
{
    d->dma_pending = false;
    ata_dma_submit(d);
}

void ide_channel_dma_start(IdeChannel *ch)
{
    IdeDevice *d = ide_cur(ch);
    if (!d->dma_pending)
        return;
    if (d->kind == IDE_CDROM)
        atapi_dma_run(d);
    else
        ata_dma_run(d);
}

/* READ/WRITE SECTORS, MULTIPLE, DMA and VERIFY: checks the range once for all. */
static void ata_rw(IdeDevice *d, uint8_t cmd, bool lba48, bool write, bool dma,
                   uint32_t block)
{
    uint64_t lba;
    uint32_t count = ata_count(d, lba48);
    d->lba48 = lba48;
    if (!ata_get_lba(d, lba48, &lba) || lba + count > d->nsectors) {
        ata_error(d, ER_IDNF | ER_ABRT);
        return;
    }
    if (write && block_is_read_only(d->img)) {
        ata_error(d, ER_ABRT);
        return;
    }
    d->cmd = cmd;
    d->lba = lba;
    d->remaining = count;
    d->block = block;
    d->error = 0;
    if (dma) {
        if (!d->ch->dma) {
            ide_abort(d);
            return;
        }
        d->dma_write = write;
        d->dma_pending = true;
        d->status = ST_DRDY | ST_DSC | ST_DRQ;
        if (d->ch->dma->ready(d->ch->dma_opaque))
            ata_dma_run(d);
    } else if (write) {
        ata_write_next(d);
    } else {
        ata_read_block(d);
    }
}

/* IDENTIFY DEVICE ----------------------------------------------------------------------*/

/* ATA strings: two characters per word, the first in the high byte (ATA-6 §3.2.9). */
static void id_string(uint16_t *id, int word, int words, const char *s)
{
    size_t len = strlen(s);
    for (int i = 0; i < words * 2; i++) {
        uint8_t c = (size_t)i < len ? (uint8_t)s[i] : ' ';
        if (i & 1)
            id[word + i / 2] |= c;
        else
            id[word + i / 2] = (uint16_t)(c << 8);
    }
}

/* ATA-6 §8.15.8, table 18. */
static void ata_identify(IdeDevice *d, uint16_t *id)
{
    memset(id, 0, 512);
    uint64_t n = d->nsectors;
    uint32_t n28 = (uint32_t)MIN(n, UINT64_C(0x0fffffff));
    id[0] = 0x0040; /* fixed device */
    id[1] = d->cyls;
    id[3] = d->heads;
    id[6] = d->secs;
    id_string(id, 10, 10, d->serial);
    id_string(id, 23, 4, VIREO_IDE_FIRMWARE);
    id_string(id, 27, 20, d->model);
    id[47] = 0x8000 | IDE_MAX_MULTIPLE;
    id[49] = (1u << 11) | (1u << 9) | (1u << 8); /* IORDY, LBA, DMA */
    id[50] = 0x4000;
    id[51] = 0x0200; /* PIO mode 2 timing */
    id[53] = 0x0007; /* words 54-58, 64-70 and 88 are valid */
    uint32_t cur = (uint32_t)d->cur_heads * d->cur_secs;
    if (cur) {
        uint64_t cylinders = MIN(n / cur, UINT64_C(65535));
        id[54] = (uint16_t)cylinders;
        id[55] = d->cur_heads;
        id[56] = d->cur_secs;
        uint32_t cap = (uint32_t)(cylinders * cur);
        id[57] = cap & 0xffff;
        id[58] = cap >> 16;
    }
    id[59] = d->multiple ? 0x100 | d->multiple : 0;
    id[60] = n28 & 0xffff;
    id[61] = n28 >> 16;
    id[63] = 0x0007 | (d->mdma_mode <= 2 ? 0x100u << d->mdma_mode : 0);
    id[64] = 0x0003; /* PIO modes 3 and 4 */
    id[65] = id[66] = id[67] = id[68] = 120;
    id[80] = 0x007e; /* ATA-1 to ATA-6 */
    id[82] = (1u << 5);             /* write cache */
    id[83] = 0x4000 | (1u << 13) | (1u << 12) | (1u << 10); /* FLUSH EXT, FLUSH, LBA48 */
    id[84] = 0x4000;
    id[85] = d->write_cache ? (1u << 5) : 0;
    id[86] = (1u << 13) | (1u << 12) | (1u << 10);
    id[87] = 0x4000;
    id[88] = 0x003f | (d->udma_mode <= 5 ? 0x100u << d->udma_mode : 0);
    /* Hardware reset result (word 93): set by jumper, the 80-conductor cable detected. */
    id[93] = 0x4000 | 0x2000 | (d->unit ? 0x0300 : 0x0003);
    id[100] = n & 0xffff;
    id[101] = (n >> 16) & 0xffff;
    id[102] = (n >> 32) & 0xffff;
    id[103] = (n >> 48) & 0xffff;
}

/* ATA-6 §8.15.8 word 255: signature A5h and a checksum making the 512 bytes sum to 0. */
static void identify_checksum(uint16_t *id)
{
    uint8_t sum = 0xa5;
    for (int i = 0; i < 255; i++)
        sum += (uint8_t)(id[i] & 0xff) + (uint8_t)(id[i] >> 8);
    id[255] = (uint16_t)(0xa5 | (uint8_t)(-sum) << 8);
}

/* The buffer holds IDENTIFY data as little-endian words. */
static void identify_to_buf(IdeDevice *d, const uint16_t *id)
{
    for (int i = 0; i < 256; i++) {
        d->buf[2 * i] = id[i] & 0xff;
        d->buf[2 * i + 1] = id[i] >> 8;
    }
}

static void ide_identify(IdeDevice *d, bool packet)
{
    uint16_t id[256];
    if (packet)
        atapi_identify(d, id);
    else
        ata_identify(d, id);
    identify_checksum(id);
    identify_to_buf(d, id);
    d->status = ST_DRDY | ST_DSC;
    d->error = 0;
    ide_pio_start(d, 0, 512, IDE_END_NONE);
    ide_set_irq(d->ch);
}

/* SET FEATURES (ATA-6 §8.37). */
static void ata_set_features(IdeDevice *d)
{
    IdeChannel *ch = d->ch;
    switch (ch->feature) {
    case 0x02: /* enable write cache */
        d->write_cache = true;
        break;
    case 0x82:
        d->write_cache = false;
        break;
    case 0x03: { /* set transfer mode from the sector count (table 44) */
        uint8_t mode = ch->nsector & 7;
        switch (ch->nsector >> 3) {
        case 0: /* PIO default */
        case 1: /* PIO flow control mode n */
            if ((ch->nsector >> 3) == 1 && mode > 4)
                goto abort;
            break;
        case 4: /* multiword DMA */
            if (mode > 2)
                goto abort;
            d->mdma_mode = mode;
            d->udma_mode = 0xff;
            break;
        case 8: /* Ultra DMA */
            if (mode > 5)
                goto abort;
            d->udma_mode = mode;
            d->mdma_mode = 0xff;
            break;
        default:
            goto abort;
        }
        break;
    }
    case 0x55: case 0xaa: /* read look-ahead off/on */
    case 0x66: case 0xcc: /* keep or revert to power-on defaults */
    case 0x31: case 0x95: /* media status notification (CD-ROMs) */
        break;
    default:
        goto abort;
    }
    ata_ok(d);
    return;
abort:
    ide_abort(d);
}

static void ide_flush(IdeDevice *d)
{
    GError *err = NULL;
    if (d->img && !block_flush(d->img, &err)) {
        VLOG(LOG_DISK, "IDE: flush: %s", err->message);
        g_error_free(err);
        ata_error(d, ER_ABRT);
        return;
    }
    ata_ok(d);
}

/* EXECUTE DEVICE DIAGNOSTIC (ATA-6 §8.11): both devices run their diagnostics and
 * leave their signatures; device 0 reports 01h (device 1 passed or is absent). */
static void ide_diagnostic(IdeChannel *ch)
{
    uint8_t sel = ch->select;
    for (int i = 0; i < 2; i++) {
        IdeDevice *d = &ch->dev[i];
        if (d->kind == IDE_NONE)
            continue;
        ide_pio_stop(d);
        d->dma_pending = false;
        d->error = 0x01;
        d->status = d->kind == IDE_DISK ? ST_DRDY | ST_DSC : 0;
    }
    /* The protocol ends with device 0 selected, its signature in the registers. */
    ch->select = (uint8_t)((sel & 0xe0) & ~DH_DEV);
    IdeDevice *d0 = ch->dev[0].kind != IDE_NONE ? &ch->dev[0] : &ch->dev[1];
    ide_set_signature(d0);
    ide_set_irq(ch);
}

static void ide_read_native_max(IdeDevice *d, bool lba48)
{
    IdeChannel *ch = d->ch;
    uint64_t max = d->nsectors ? d->nsectors - 1 : 0;
    if (!lba48 && !(ch->select & DH_LBA)) {
        ide_abort(d);
        return;
    }
    d->lba48 = lba48;
    if (!lba48)
        max = MIN(max, UINT64_C(0x0fffffff));
    ata_set_lba(d, max);
    ata_ok(d);
}

/* Commands a packet device accepts besides PACKET (ATA-6 §8, "packet command feature
 * set" column); the rest abort with the signature in place (§8.15.5). */
static void atapi_exec(IdeDevice *d, uint8_t cmd)
{
    switch (cmd) {
    case 0xa0:
        atapi_packet_begin(d);
        break;
    case 0xa1:
        ide_identify(d, true);
        break;
    case 0x08: /* DEVICE RESET (ATA-6 §8.7) */
        ide_device_reset(d);
        ide_set_signature(d);
        d->status = 0;
        break;
    case 0x90:
        ide_diagnostic(d->ch);
        break;
    case 0xef:
        ata_set_features(d);
        break;
    case 0xe5: case 0x98: /* CHECK POWER MODE */
        d->ch->nsector = 0xff;
        ata_ok(d);
        break;
    case 0xe0: case 0xe1: case 0x94: case 0x95: case 0xe6: case 0x99: case 0xe7:
        ata_ok(d);
        break;
    case 0xec: /* IDENTIFY DEVICE */
    default:
        ide_set_signature(d);
        ide_abort(d);
        break;
    }
}

static void ata_exec(IdeDevice *d, uint8_t cmd)
{
    IdeChannel *ch = d->ch;
    unsigned mult = d->multiple;
    switch (cmd) {
    case 0x20: case 0x21: /* READ SECTORS (with and without retries) */
        ata_rw(d, cmd, false, false, false, 1);
        break;
    case 0x24: /* READ SECTORS EXT */
        ata_rw(d, cmd, true, false, false, 1);
        break;
    case 0x30: case 0x31: /* WRITE SECTORS */
        ata_rw(d, cmd, false, true, false, 1);
        break;
    case 0x34:
        ata_rw(d, cmd, true, true, false, 1);
        break;
    case 0xc4: case 0x29: /* READ MULTIPLE (EXT): aborts unless a block size is set */
        if (!mult)
            ide_abort(d);
        else
            ata_rw(d, cmd, cmd == 0x29, false, false, mult);
        break;
    case 0xc5: case 0x39: /* WRITE MULTIPLE (EXT) */
        if (!mult)
            ide_abort(d);
        else
            ata_rw(d, cmd, cmd == 0x39, true, false, mult);
        break;
    case 0xc8: case 0xc9: /* READ DMA */
        ata_rw(d, cmd, false, false, true, 0);
        break;
    case 0x25:
        ata_rw(d, cmd, true, false, true, 0);
        break;
    case 0xca: case 0xcb: /* WRITE DMA */
        ata_rw(d, cmd, false, true, true, 0);
        break;
    case 0x35:
        ata_rw(d, cmd, true, true, true, 0);
        break;
    case 0x40: case 0x41: case 0x42: { /* READ VERIFY SECTORS (EXT): a range check */
        uint64_t lba;
        bool lba48 = cmd == 0x42;
        d->lba48 = lba48;
        if (!ata_get_lba(d, lba48, &lba) || lba + ata_count(d, lba48) > d->nsectors)
            ata_error(d, ER_IDNF | ER_ABRT);
        else {
            ata_set_lba(d, lba + ata_count(d, lba48) - 1);
            ata_ok(d);
        }
        break;
    }
    case 0xc6: /* SET MULTIPLE MODE (ATA-6 §8.39): a power of two up to word 47 */
        if (ch->nsector > IDE_MAX_MULTIPLE || (ch->nsector & (ch->nsector - 1)))
            ide_abort(d);
        else {
            d->multiple = ch->nsector;
            ata_ok(d);
        }
        break;
    case 0xec:
        ide_identify(d, false);
        break;
    case 0xef:
        ata_set_features(d);
        break;
    case 0x91: /* INITIALIZE DEVICE PARAMETERS (ATA-6 §8.16) */
        if (!ch->nsector) {
            ide_abort(d);
            break;
        }
        d->cur_secs = ch->nsector;
        d->cur_heads = (ch->select & 0x0f) + 1;
        ata_ok(d);
        break;
    case 0xe7: case 0xea: /* FLUSH CACHE (EXT) */
        ide_flush(d);
        break;
    case 0x90:
        ide_diagnostic(ch);
        break;
    case 0xf8:
        ide_read_native_max(d, false);
        break;
    case 0x27:
        ide_read_native_max(d, true);
        break;
    case 0x70: /* SEEK: nothing moves, but the address must exist */
        ata_ok(d);
        break;
    case 0xe5: case 0x98: /* CHECK POWER MODE: active or idle */
        ch->nsector = 0xff;
        ata_ok(d);
        break;
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0xe6: case 0x99: /* standby, idle, sleep: no spindle to stop */
        ata_ok(d);
        break;
    default:
        if (cmd >= 0x10 && cmd <= 0x1f) { /* RECALIBRATE (obsolete, BIOSes send it) */
            ch->lcyl = ch->hcyl = 0;
            ata_ok(d);
            break;
        }
        VLOG(LOG_UNIMP, "IDE: unknown ATA command 0x%02x", cmd);
        ide_abort(d);
        break;
    }
}

/* Register access ---------------------------------------------------------------------*/

static void ide_run_end(IdeDevice *d, uint8_t end_fn)
{
    switch (end_fn) {
    case IDE_END_ATA_READ:
        ata_read_end(d);
        break;
    case IDE_END_ATA_WRITE:
        ata_write_end(d);
        break;
    case IDE_END_ATAPI_PIO:
        atapi_pio_end(d);
        break;
    case IDE_END_ATAPI_PACKET:
        atapi_packet_received(d);
        break;
    default:
        break;
    }
}

static uint32_t ide_data_read(IdeChannel *ch, unsigned size)
{
    IdeDevice *d = ide_cur(ch);
    if (!(d->status & ST_DRQ) || d->pos >= d->end)
        return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    uint32_t v = 0;
    for (unsigned i = 0; i < size && d->pos < d->end; i++)
        v |= (uint32_t)d->buf[d->pos++] << (8 * i);
    if (d->pos >= d->end) {
        uint8_t fn = d->end_fn;
        ide_pio_stop(d);
        ide_run_end(d, fn);
    }
    return v;
}

static void ide_data_write(IdeChannel *ch, uint32_t v, unsigned size)
{
    IdeDevice *d = ide_cur(ch);
    if (!(d->status & ST_DRQ) || d->pos >= d->end)
        return;
    for (unsigned i = 0; i < size && d->pos < d->end; i++)
        d->buf[d->pos++] = (uint8_t)(v >> (8 * i));
    if (d->pos >= d->end) {
        uint8_t fn = d->end_fn;
        /* The end function looks at d->end (bytes received). */
        d->status &= ~ST_DRQ;
        d->end_fn = IDE_END_NONE;
        ide_run_end(d, fn);
    }
}

static bool ide_any_device(const IdeChannel *ch)
{
    return ch->dev[0].kind != IDE_NONE || ch->dev[1].kind != IDE_NONE;
}

static uint8_t ide_status(IdeChannel *ch)
{
    IdeDevice *d = ide_cur(ch);
    /* ATA-6 §9.16.1: device 0 answers for an absent device 1 with status 00h. */
    if (d->kind == IDE_NONE)
        return 0;
    if (ch->devctl & DC_SRST)
        return ST_BSY;
    return d->status;
}

static uint8_t ide_reg_read(IdeChannel *ch, unsigned reg)
{
    bool hob = ch->devctl & DC_HOB;
    if (!ide_any_device(ch))
        return 0; /* no device drives the bus; QEMU-compatible zeros rather than a float */
    switch (reg) {
    case REG_ERROR_FEATURE:
        return ide_cur(ch)->kind == IDE_NONE ? 0 : ide_cur(ch)->error;
    case REG_NSECTOR:
        return hob ? ch->hob_nsector : ch->nsector;
    case REG_SECTOR:
        return hob ? ch->hob_sector : ch->sector;
    case REG_LCYL:
        return hob ? ch->hob_lcyl : ch->lcyl;
    case REG_HCYL:
        return hob ? ch->hob_hcyl : ch->hcyl;
    case REG_SELECT:
        return ch->select;
    case REG_STATUS_COMMAND: {
        uint8_t st = ide_status(ch);
        /* Reading Status acknowledges the interrupt (ATA-6 §7.15.6). */
        if (ide_cur(ch)->kind != IDE_NONE)
            ide_clear_irq(ch);
        return st;
    }
    }
    return 0xff;
}

static void ide_command(IdeChannel *ch, uint8_t cmd)
{
    IdeDevice *d = ide_cur(ch);
    /* Writes to an absent device, or while reset is asserted, go nowhere. */
    if (d->kind == IDE_NONE || (ch->devctl & DC_SRST))
        return;
    /* ATA-6 §7.15.6: the host writes no command while BSY is set (a DMA in flight). */
    if (d->aio_busy)
        return;
    VLOG(LOG_DISK, "IDE: unit %d command 0x%02x", d->unit, cmd);
    /* A new command ends whatever transfer was left unfinished. */
    ide_pio_stop(d);
    d->dma_pending = false;
    ide_clear_irq(ch);
    if (d->kind == IDE_CDROM)
        atapi_exec(d, cmd);
    else
        ata_exec(d, cmd);
}

static void ide_reg_write(IdeChannel *ch, unsigned reg, uint8_t v)
{
    /* Any command block write clears HOB (ATA-6 §7.8). */
    if (reg != REG_DATA)
        ch->devctl &= ~DC_HOB;
    switch (reg) {
    case REG_ERROR_FEATURE:
        ch->hob_feature = ch->feature;
        ch->feature = v;
        break;
    case REG_NSECTOR:
        ch->hob_nsector = ch->nsector;
        ch->nsector = v;
        break;
    case REG_SECTOR:
        ch->hob_sector = ch->sector;
        ch->sector = v;
        break;
    case REG_LCYL:
        ch->hob_lcyl = ch->lcyl;
        ch->lcyl = v;
        break;
    case REG_HCYL:
        ch->hob_hcyl = ch->hcyl;
        ch->hcyl = v;
        break;
    case REG_SELECT:
        /* Bits 7 and 5 are obsolete and read back as written (ATA-6 §7.10). */
        ch->select = v;
        break;
    case REG_STATUS_COMMAND:
        ide_command(ch, v);
        break;
    }
}

static uint32_t ide_cmd_read(void *opaque, uint32_t off, unsigned size)
{
    IdeChannel *ch = opaque;
    if (off == REG_DATA)
        return ide_data_read(ch, size);
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)(off + i < 8 ? ide_reg_read(ch, off + i) : 0xff) << (8 * i);
    return v;
}

static void ide_cmd_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    IdeChannel *ch = opaque;
    if (off == REG_DATA) {
        ide_data_write(ch, value, size);
        return;
    }
    for (unsigned i = 0; i < size && off + i < 8; i++)
        ide_reg_write(ch, off + i, (uint8_t)(value >> (8 * i)));
}

static const PortOps ide_cmd_ops = {
    .read = ide_cmd_read, .write = ide_cmd_write, .min_size = 1, .max_size = 4,
};

/* Alternate status: the status without acknowledging the interrupt (ATA-6 §7.3). */
static uint32_t ide_ctl_read(void *opaque, uint32_t off, unsigned size)
{
    IdeChannel *ch = opaque;
    return ide_any_device(ch) ? ide_status(ch) : 0;
}

static void ide_ctl_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    IdeChannel *ch = opaque;
    uint8_t old = ch->devctl;
    ch->devctl = (uint8_t)value;
    /* SRST (ATA-6 §9.3): both devices are held in reset while the bit is one and come
     * out of it with their signatures when it drops. */
    if ((old & DC_SRST) && !(value & DC_SRST))
        ide_channel_reset_devices(ch);
    else if (!(old & DC_SRST) && (value & DC_SRST))
        ide_clear_irq(ch);
    ide_update_irq(ch);
}

static const PortOps ide_ctl_ops = {
    .read = ide_ctl_read, .write = ide_ctl_write, .min_size = 1, .max_size = 1,
};

/* Set-up -------------------------------------------------------------------------------*/

void ide_channel_reset(IdeChannel *ch)
{
    ch->devctl = 0;
    ide_channel_reset_devices(ch);
}

static void ide_channel_reset_handler(void *opaque)
{
    ide_channel_reset(opaque);
}

void ide_channel_fini(IdeChannel *ch)
{
    /* Requests still in flight complete while block_close waits for them; a new
     * generation makes their completions drop the result instead of raising an IRQ
     * through board wiring that may already be gone. Called without the lock (the VM
     * is being freed), which the completions take. */
    vm_lock(ch->vm);
    for (int i = 0; i < 2; i++) {
        ch->dev[i].aio_gen++;
        ch->dev[i].aio_busy = false;
    }
    vm_unlock(ch->vm);
    for (int i = 0; i < 2; i++) {
        if (ch->dev[i].img)
            block_close(ch->dev[i].img, NULL);
        ch->dev[i].img = NULL;
        g_free(ch->dev[i].buf);
        ch->dev[i].buf = NULL;
    }
}

static void ide_channel_free(void *opaque)
{
    ide_channel_fini(opaque);
    g_free(opaque);
}

void ide_channel_init(IdeChannel *ch, Vm *vm, uint16_t cmd_base, uint16_t ctl_base, const IrqLine *irq)
{
    ch->vm = vm;
    ch->index = cmd_base == 0x1f0 ? 0 : cmd_base == 0x170 ? 1 : 2;
    if (irq)
        ch->irq = *irq;
    for (int i = 0; i < 2; i++) {
        ch->dev[i].ch = ch;
        ch->dev[i].unit = i;
        ch->dev[i].buf = g_malloc0(IDE_BUF_SIZE);
        ch->dev[i].mdma_mode = ch->dev[i].udma_mode = 0xff;
    }
    ch->cmd_region = io_add(vm_io(vm), "ide", cmd_base, 8, &ide_cmd_ops, ch);
    ch->ctl_region = io_add(vm_io(vm), "ide-ctl", ctl_base, 1, &ide_ctl_ops, ch);
}

IdeChannel *ide_channel_new(Vm *vm, uint16_t cmd_base, uint16_t ctl_base, const IrqLine *irq)
{
    IdeChannel *ch = g_new0(IdeChannel, 1);
    ide_channel_init(ch, vm, cmd_base, ctl_base, irq);
    vm_add_reset_handler(vm, ide_channel_reset_handler, ch);
    vm_add_cleanup(vm, ide_channel_free, ch);
    ide_channel_reset(ch);
    return ch;
}

void ide_channel_set_decode(IdeChannel *ch, bool on)
{
    io_region_set_enabled(ch->cmd_region, on);
    io_region_set_enabled(ch->ctl_region, on);
}

void ide_channel_set_dma(IdeChannel *ch, const IdeDmaOps *ops, void *opaque)
{
    ch->dma = ops;
    ch->dma_opaque = opaque;
}

/* The default translation of QEMU and the BIOSes: 16 heads, 63 sectors, at most 16383
 * cylinders (ATA-6 §6.1.3 limits IDENTIFY word 1 to 16383 for large disks). */
static void ide_pick_geometry(IdeDevice *d)
{
    uint64_t cyl = d->nsectors / (16 * 63);
    d->heads = 16;
    d->secs = 63;
    d->cyls = (uint16_t)CLAMP(cyl, 1, 16383);
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
}

static void ide_make_ids(IdeDevice *d, int chan_hint)
{
    g_snprintf(d->serial, sizeof(d->serial), "VIREO%08X", (unsigned)(0x1de00 + chan_hint * 2 + d->unit));
    g_snprintf(d->model, sizeof(d->model), d->kind == IDE_CDROM ? "VIREO DVD-ROM" : "VIREO HARDDISK");
}

bool ide_channel_attach(IdeChannel *ch, int unit, BlockImage *img, bool cdrom, GError **err)
{
    g_return_val_if_fail(unit == 0 || unit == 1, false);
    IdeDevice *d = &ch->dev[unit];
    if (d->kind != IDE_NONE) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "IDE unit %d is already in use", unit);
        return false;
    }
    if (!cdrom) {
        if (!img) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "an IDE disk needs an image");
            return false;
        }
        if (block_size(img) < ATA_SECTOR) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                        "disk image %s: smaller than one 512-byte sector", block_filename(img));
            return false;
        }
        d->kind = IDE_DISK;
        d->nsectors = block_size(img) / ATA_SECTOR;
        ide_pick_geometry(d);
    } else {
        d->kind = IDE_CDROM;
        d->nsectors = img ? block_size(img) / CD_SECTOR : 0;
    }
    d->img = img;
    d->write_cache = true;
    ide_make_ids(d, ch->index);
    ide_channel_reset_devices(ch);
    return true;
}

bool ide_disk_geometry(IdeChannel *ch, int unit, uint16_t *cyls, uint16_t *heads, uint16_t *secs)
{
    if (unit < 0 || unit > 1 || ch->dev[unit].kind != IDE_DISK)
        return false;
    *cyls = ch->dev[unit].cyls;
    *heads = ch->dev[unit].heads;
    *secs = ch->dev[unit].secs;
    return true;
}

bool ide_unit_is_cdrom(IdeChannel *ch, int unit)
{
    return unit >= 0 && unit <= 1 && ch->dev[unit].kind == IDE_CDROM;
}

bool ide_cdrom_change(IdeChannel *ch, int unit, BlockImage *img, GError **err)
{
    if (unit < 0 || unit > 1 || ch->dev[unit].kind != IDE_CDROM) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "IDE unit %d is no CD-ROM drive", unit);
        return false;
    }
    atapi_change_medium(&ch->dev[unit], img);
    return true;
}

/* Device state ---------------------------------------------------------------------------*/

static const VmStateField ide_drive_fields[] = {
    VMSTATE_U8(IdeDevice, saved_kind),
    VMSTATE_BOOL(IdeDevice, saved_medium),
    VMSTATE_U64(IdeDevice, saved_nsectors),
    VMSTATE_U16(IdeDevice, cur_heads),
    VMSTATE_U16(IdeDevice, cur_secs),
    { .name = "multiple", .type = VMS_U32, .offset = offsetof(IdeDevice, multiple) },
    VMSTATE_U8(IdeDevice, mdma_mode),
    VMSTATE_U8(IdeDevice, udma_mode),
    VMSTATE_BOOL(IdeDevice, write_cache),
    VMSTATE_U8(IdeDevice, status),
    VMSTATE_U8(IdeDevice, error),
    VMSTATE_BUFFER_PTR(IdeDevice, buf, IDE_BUF_SIZE),
    VMSTATE_U32(IdeDevice, pos),
    VMSTATE_U32(IdeDevice, end),
    VMSTATE_U8_RANGE(IdeDevice, end_fn, 0, IDE_END_MAX),
    VMSTATE_U64(IdeDevice, lba),
    VMSTATE_U32(IdeDevice, remaining),
    VMSTATE_U32_RANGE(IdeDevice, block, 0, IDE_MAX_MULTIPLE),
    VMSTATE_BOOL(IdeDevice, lba48),
    VMSTATE_U8(IdeDevice, cmd),
    VMSTATE_BOOL(IdeDevice, dma_pending),
    VMSTATE_BOOL(IdeDevice, dma_write),
    VMSTATE_U8_ARRAY(IdeDevice, cdb, 12),
    VMSTATE_U8_RANGE(IdeDevice, sense_key, 0, 0x0f),
    VMSTATE_U8(IdeDevice, asc),
    VMSTATE_U8(IdeDevice, ascq),
    VMSTATE_BOOL(IdeDevice, unit_attention),
    VMSTATE_BOOL(IdeDevice, tray_open),
    VMSTATE_BOOL(IdeDevice, locked),
    VMSTATE_U8(IdeDevice, media_event),
    VMSTATE_U32(IdeDevice, cd_lba),
    VMSTATE_U32(IdeDevice, cd_remaining),
    VMSTATE_U32(IdeDevice, byte_limit),
    VMSTATE_U32(IdeDevice, xfer_pos),
    VMSTATE_U32(IdeDevice, xfer_end),
    VMSTATE_END,
};
G_STATIC_ASSERT(sizeof(((IdeDevice *)0)->multiple) == sizeof(uint32_t));

static const VmStateDesc ide_drive_vmsd = {
    .name = "ide-drive",
    .version = 1,
    .fields = ide_drive_fields,
};

static const VmStateField ide_channel_fields[] = {
    VMSTATE_STRUCT_ARRAY(IdeChannel, dev, 2, IdeDevice, &ide_drive_vmsd),
    VMSTATE_U8(IdeChannel, feature),
    VMSTATE_U8(IdeChannel, nsector),
    VMSTATE_U8(IdeChannel, sector),
    VMSTATE_U8(IdeChannel, lcyl),
    VMSTATE_U8(IdeChannel, hcyl),
    VMSTATE_U8(IdeChannel, hob_feature),
    VMSTATE_U8(IdeChannel, hob_nsector),
    VMSTATE_U8(IdeChannel, hob_sector),
    VMSTATE_U8(IdeChannel, hob_lcyl),
    VMSTATE_U8(IdeChannel, hob_hcyl),
    VMSTATE_U8(IdeChannel, select),
    VMSTATE_U8(IdeChannel, devctl),
    VMSTATE_BOOL(IdeChannel, irq_pending),
    VMSTATE_END,
};

const VmStateDesc ide_channel_vmsd = {
    .name = "ide-channel",
    .version = 1,
    .fields = ide_channel_fields,
};

void ide_channel_pre_save(IdeChannel *ch)
{
    for (int i = 0; i < 2; i++) {
        IdeDevice *d = &ch->dev[i];
        /* ide_channel_drain ran first (device_save_state drains): nothing in flight. */
        g_warn_if_fail(!d->aio_busy);
        d->saved_kind = (uint8_t)d->kind;
        d->saved_medium = d->img != NULL;
        d->saved_nsectors = d->nsectors;
    }
}

static bool drive_fail(GError **err, const IdeDevice *d, const char *what)
{
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "IDE channel %d unit %d: %s", d->ch->index,
                d->unit, what);
    return false;
}

/* The fields not described (kind, img, nsectors) still hold the live drive's values in
 * the scratch copy, so the saved ones are compared against them. Every bound below is
 * one a later register access or continuation relies on to stay inside buf and the
 * image. */
static bool ide_drive_check(const IdeDevice *d, GError **err)
{
    if (d->saved_kind != d->kind)
        return drive_fail(err, d, "the stream has another kind of drive (or none) here");
    if (d->kind == IDE_NONE)
        return true;
    if (d->saved_medium != (d->img != NULL) || d->saved_nsectors != d->nsectors)
        return drive_fail(err, d, "the stream was saved with another image or medium");
    if (d->pos > d->end || d->end > IDE_BUF_SIZE)
        return drive_fail(err, d, "PIO position outside the sector buffer");
    if (d->xfer_pos > d->xfer_end || d->xfer_end > IDE_BUF_SIZE)
        return drive_fail(err, d, "ATAPI reply outside the sector buffer");
    if (d->multiple > IDE_MAX_MULTIPLE || (d->multiple & (d->multiple - 1)))
        return drive_fail(err, d, "multiple count is no power of two up to 16");
    if (d->cur_heads > 16 || d->cur_secs > 255)
        return drive_fail(err, d, "translation geometry out of range");
    if ((d->mdma_mode > 2 && d->mdma_mode != 0xff) || (d->udma_mode > 5 && d->udma_mode != 0xff))
        return drive_fail(err, d, "DMA mode out of range");
    bool ata_end = d->end_fn == IDE_END_ATA_READ || d->end_fn == IDE_END_ATA_WRITE;
    bool atapi_end = d->end_fn == IDE_END_ATAPI_PIO || d->end_fn == IDE_END_ATAPI_PACKET;
    if (d->kind == IDE_DISK) {
        if (atapi_end)
            return drive_fail(err, d, "an ATAPI transfer on a disk");
        if (d->remaining > 65536 || d->lba > d->nsectors || d->remaining > d->nsectors - d->lba)
            return drive_fail(err, d, "transfer outside the disk");
        /* A write block is written as end / 512 sectors from lba. */
        if (d->end_fn == IDE_END_ATA_WRITE && d->end > (uint64_t)d->remaining * ATA_SECTOR)
            return drive_fail(err, d, "write block longer than the sectors left");
        if (d->cd_remaining || d->xfer_end)
            return drive_fail(err, d, "ATAPI transfer state on a disk");
    } else {
        if (ata_end)
            return drive_fail(err, d, "an ATA transfer on a CD-ROM");
        if (d->cd_remaining && (!d->img || d->cd_lba > d->nsectors || d->cd_remaining > d->nsectors - d->cd_lba))
            return drive_fail(err, d, "read outside the medium");
        if (d->byte_limit && (d->byte_limit < 2 || d->byte_limit > 0xfffe || (d->byte_limit & 1)))
            return drive_fail(err, d, "byte count limit out of range");
        if (d->remaining)
            return drive_fail(err, d, "ATA transfer state on a CD-ROM");
    }
    return true;
}

bool ide_channel_check(const IdeChannel *ch, GError **err)
{
    return ide_drive_check(&ch->dev[0], err) && ide_drive_check(&ch->dev[1], err);
}

/* A request completion of the old state must not land on the loaded one: the
 * generation moves on (the loader drained already, this is belt and braces). */
void ide_channel_post_load(IdeChannel *ch)
{
    for (int i = 0; i < 2; i++) {
        ch->dev[i].aio_busy = false;
        ch->dev[i].aio_gen++;
    }
}

bool ide_channel_irq_level(const IdeChannel *ch)
{
    return ch->irq_pending && !(ch->devctl & DC_NIEN);
}

void ide_channel_drain(IdeChannel *ch)
{
    for (int i = 0; i < 2; i++) {
        IdeDevice *d = &ch->dev[i];
        if (!d->aio_busy || !d->img)
            continue;
        /* ata_aio_done takes the lock: wait without it. The vCPUs are paused, so only
         * the completion changes the channel meanwhile. */
        vm_unlock(ch->vm);
        block_drain(d->img);
        vm_lock(ch->vm);
    }
}
