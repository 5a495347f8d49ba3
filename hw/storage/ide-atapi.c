/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ATAPI CD-ROM: the PACKET command protocol of ATA/ATAPI-6 §9.9 (PIO, with the
 * byte count limit) and §9.11 (DMA), and the MMC-3 (T10 1363D) commands guests use to
 * find and read a data CD: 2048-byte sectors, one data track, one session. */
#include "hw/storage/ide-internal.h"

#include <string.h>

/* Sense keys and additional sense codes (SPC-3 §4.5.6, MMC-3 annex F). */
#define SK_NO_SENSE 0x0
#define SK_NOT_READY 0x2
#define SK_MEDIUM_ERROR 0x3
#define SK_ILLEGAL_REQUEST 0x5
#define SK_UNIT_ATTENTION 0x6

#define ASC_READ_ERROR 0x11
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_OUT_OF_RANGE 0x21
#define ASC_INVALID_FIELD 0x24
#define ASC_MEDIUM_CHANGED 0x28
#define ASC_SAVING_UNSUPPORTED 0x39
#define ASC_NO_MEDIUM 0x3a
#define ASC_REMOVAL_PREVENTED 0x53

/* The interrupt reason in the sector count register (ATA-6 §9.9, table 28). */
#define IR_COD 0x01
#define IR_IO 0x02

/* MMC-3 profile 0008h: CD-ROM. */
#define PROFILE_CDROM 0x0008

static bool atapi_medium(const IdeDevice *d)
{
    return d->img && !d->tray_open;
}

static void put_be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, v >> 16);
    put_be16(p + 2, v & 0xffff);
}

static uint32_t get_be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get_be32(const uint8_t *p)
{
    return get_be16(p) << 16 | get_be16(p + 2);
}

/* Status phase: command complete (I/O and C/D set, DRQ clear), with an interrupt. */
static void atapi_ok(IdeDevice *d)
{
    d->ch->nsector = IR_IO | IR_COD;
    d->status = ST_DRDY | ST_DSC;
    d->error = 0;
    d->sense_key = SK_NO_SENSE;
    d->asc = d->ascq = 0;
    d->end = d->pos = 0;
    d->end_fn = IDE_END_NONE;
    ide_set_irq(d->ch);
}

/* CHECK CONDITION: the sense key goes to the error register's upper nibble (ATA-6
 * §9.9 and the PACKET command's error outputs). */
static void atapi_fail(IdeDevice *d, uint8_t key, uint8_t asc, uint8_t ascq)
{
    d->sense_key = key;
    d->asc = asc;
    d->ascq = ascq;
    d->cd_remaining = 0;
    d->dma_pending = false;
    d->ch->nsector = IR_IO | IR_COD;
    d->status = ST_DRDY | ST_ERR;
    d->error = (uint8_t)(key << 4) | (key == SK_ILLEGAL_REQUEST ? ER_ABRT : 0);
    d->end = d->pos = 0;
    d->end_fn = IDE_END_NONE;
    ide_set_irq(d->ch);
}

/* Data-in: bytes buf[xfer_pos, xfer_end) are ready and cd_remaining sectors follow
 * from the image; each DRQ block carries at most the byte count limit (ATA-6 §9.9). */
static bool atapi_refill(IdeDevice *d, uint32_t *start, uint32_t *end)
{
    uint32_t n = MIN(d->cd_remaining, (uint32_t)(IDE_BUF_SIZE / CD_SECTOR));
    GError *err = NULL;
    if (!block_pread(d->img, (uint64_t)d->cd_lba * CD_SECTOR, d->buf, (size_t)n * CD_SECTOR, &err)) {
        VLOG(LOG_DISK, "ATAPI: read at %u: %s", d->cd_lba, err->message);
        g_error_free(err);
        atapi_fail(d, SK_MEDIUM_ERROR, ASC_READ_ERROR, 0);
        return false;
    }
    d->cd_lba += n;
    d->cd_remaining -= n;
    *start = 0;
    *end = n * CD_SECTOR;
    return true;
}

static void atapi_pio_next(IdeDevice *d);

void atapi_pio_end(IdeDevice *d)
{
    atapi_pio_next(d);
}

static void atapi_pio_next(IdeDevice *d)
{
    uint32_t start = d->xfer_pos, end = d->xfer_end;
    if (start >= end) {
        if (!d->cd_remaining) {
            atapi_ok(d);
            return;
        }
        if (!atapi_refill(d, &start, &end))
            return;
    }
    uint32_t chunk = MIN(end - start, d->byte_limit);
    IdeChannel *ch = d->ch;
    ch->lcyl = chunk & 0xff;
    ch->hcyl = (chunk >> 8) & 0xff;
    ch->nsector = IR_IO;
    d->status = ST_DRDY | ST_DSC;
    d->xfer_pos = start + chunk;
    d->xfer_end = end;
    ide_pio_start(d, start, chunk, IDE_END_ATAPI_PIO);
    ide_set_irq(ch);
}

/* DMA data-in: everything in one go once the bus master runs. */
void atapi_dma_run(IdeDevice *d)
{
    IdeChannel *ch = d->ch;
    d->dma_pending = false;
    for (;;) {
        if (d->xfer_pos >= d->xfer_end) {
            if (!d->cd_remaining)
                break;
            if (!atapi_refill(d, &d->xfer_pos, &d->xfer_end)) {
                ch->dma->done(ch->dma_opaque, false);
                return;
            }
        }
        uint32_t len = d->xfer_end - d->xfer_pos;
        if (!ch->dma->transfer(ch->dma_opaque, d->buf + d->xfer_pos, len, true)) {
            d->cd_remaining = 0;
            ide_abort(d);
            ch->nsector = IR_IO | IR_COD;
            ch->dma->done(ch->dma_opaque, false);
            return;
        }
        d->xfer_pos = d->xfer_end;
    }
    ch->dma->done(ch->dma_opaque, true);
    atapi_ok(d);
}

/* Starts the data phase of a reply of len bytes already in buf (or of a read whose
 * sectors come from the image when len is 0 and cd_remaining is set). */
static void atapi_send(IdeDevice *d, uint32_t len)
{
    d->xfer_pos = 0;
    d->xfer_end = len;
    if (!len && !d->cd_remaining) {
        atapi_ok(d);
        return;
    }
    if (d->ch->feature & 1) { /* DMA bit of the PACKET command's features */
        if (!d->ch->dma) {
            atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
            return;
        }
        d->dma_pending = true;
        d->status = ST_DRDY | ST_DSC | ST_DRQ;
        d->ch->nsector = IR_IO;
        if (d->ch->dma->ready(d->ch->dma_opaque))
            atapi_dma_run(d);
        return;
    }
    atapi_pio_next(d);
}

/* Commands ------------------------------------------------------------------------------*/

static void lba_to_msf(uint8_t *p, uint32_t lba)
{
    lba += 150; /* the 2-second pregap before logical block 0 (MMC-3 §4.2.3.2) */
    p[0] = (uint8_t)(lba / (75 * 60));
    p[1] = (uint8_t)((lba / 75) % 60);
    p[2] = (uint8_t)(lba % 75);
}

static void put_addr(uint8_t *p, uint32_t lba, bool msf)
{
    if (msf) {
        p[0] = 0;
        lba_to_msf(p + 1, lba);
    } else {
        put_be32(p, lba);
    }
}

/* READ TOC/PMA/ATIP (MMC-3 §6.26) for one data track: format 0 (TOC), 1 (session
 * information), 2 (raw TOC with points A0-A2). */
static void atapi_read_toc(IdeDevice *d, const uint8_t *cdb)
{
    bool msf = cdb[1] & 2;
    unsigned format = cdb[2] & 0x0f;
    if (!format)
        format = cdb[9] >> 6; /* the older SFF-8020 place of the format field */
    unsigned track = cdb[6];
    uint32_t alloc = get_be16(cdb + 7);
    uint8_t *b = d->buf;
    uint32_t total = (uint32_t)d->nsectors;
    uint32_t len;
    memset(b, 0, 64);
    switch (format) {
    case 0:
        if (track > 1 && track != 0xaa) {
            atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
            return;
        }
        b[2] = 1;
        b[3] = 1;
        len = 4;
        if (track <= 1) {
            b[len + 1] = 0x14; /* ADR 1, control: data track */
            b[len + 2] = 1;
            put_addr(b + len + 4, 0, msf);
            len += 8;
        }
        b[len + 1] = 0x14;
        b[len + 2] = 0xaa; /* lead-out */
        put_addr(b + len + 4, total, msf);
        len += 8;
        break;
    case 1:
        b[2] = 1;
        b[3] = 1;
        b[5] = 0x14;
        b[6] = 1;
        put_addr(b + 8, 0, msf);
        len = 12;
        break;
    case 2: {
        b[2] = 1;
        b[3] = 1;
        len = 4;
        static const uint8_t points[] = { 0xa0, 0xa1, 0xa2, 0x01 };
        for (size_t i = 0; i < G_N_ELEMENTS(points); i++) {
            uint8_t *p = b + len;
            p[0] = 1;     /* session */
            p[1] = 0x14;
            p[3] = points[i];
            if (points[i] == 0xa0) {
                p[8] = 1;    /* first track */
                p[9] = 0x00; /* disc type: CD-DA or CD-ROM */
            } else if (points[i] == 0xa1) {
                p[8] = 1;    /* last track */
            } else if (points[i] == 0xa2) {
                lba_to_msf(p + 8, total);
            } else {
                lba_to_msf(p + 8, 0);
            }
            len += 11;
        }
        break;
    }
    default:
        atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
        return;
    }
    put_be16(b, len - 2);
    atapi_send(d, MIN(len, alloc));
}

/* MODE SENSE(10) (SPC-3 §6.10): the read-only error recovery page and the MM
 * capabilities page (MMC-3 §6.3.11). */
static uint32_t mode_page(IdeDevice *d, uint8_t *p, unsigned page, bool changeable)
{
    if (page == 0x01) {
        memset(p, 0, 12);
        p[0] = 0x01;
        p[1] = 10;
        if (!changeable)
            p[3] = 5; /* read retry count */
        return 12;
    }
    if (page == 0x2a) {
        memset(p, 0, 22);
        p[0] = 0x2a;
        p[1] = 20;
        if (changeable)
            return 22;
        p[2] = 0x00;  /* reads CD-ROM media only */
        p[4] = 0x40;  /* multi-session */
        /* Tray loading mechanism, eject, lock and its state. */
        p[6] = (1u << 5) | 0x08 | 0x01 | (d->locked ? 0x02 : 0);
        put_be16(p + 8, 706 * 4);  /* maximum read speed, kB/s */
        put_be16(p + 12, 512);     /* buffer, KiB */
        put_be16(p + 14, 706 * 4); /* current read speed */
        return 22;
    }
    return 0;
}

static void atapi_mode_sense(IdeDevice *d, const uint8_t *cdb)
{
    unsigned pc = cdb[2] >> 6, page = cdb[2] & 0x3f;
    uint32_t alloc = get_be16(cdb + 7);
    uint8_t *b = d->buf;
    if (pc == 3) {
        atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_SAVING_UNSUPPORTED, 0);
        return;
    }
    memset(b, 0, 8);
    b[2] = atapi_medium(d) ? 0x01 : 0x70; /* medium type: 120 mm data CD, or no disc */
    uint32_t len = 8;
    if (page == 0x3f) {
        len += mode_page(d, b + len, 0x01, pc == 1);
        len += mode_page(d, b + len, 0x2a, pc == 1);
    } else {
        uint32_t n = mode_page(d, b + len, page, pc == 1);
        if (!n) {
            atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
            return;
        }
        len += n;
    }
    put_be16(b, len - 2);
    atapi_send(d, MIN(len, alloc));
}

/* GET CONFIGURATION (MMC-3 §6.6): the profile list, core and removable medium
 * features. */
static void atapi_get_configuration(IdeDevice *d, const uint8_t *cdb)
{
    unsigned rt = cdb[1] & 3;
    uint32_t start = get_be16(cdb + 2);
    uint32_t alloc = get_be16(cdb + 7);
    uint8_t *b = d->buf;
    uint32_t len = 8;
    memset(b, 0, 64);
    put_be16(b + 6, atapi_medium(d) ? PROFILE_CDROM : 0);
    if (rt == 3) {
        atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
        return;
    }
    /* 0000h profile list: one profile, CD-ROM, current with a medium. */
    if ((rt != 2 && start == 0) || (rt == 2 && start == 0)) {
        uint8_t *f = b + len;
        put_be16(f, 0x0000);
        f[2] = 0x03; /* persistent, current */
        f[3] = 4;
        put_be16(f + 4, PROFILE_CDROM);
        f[6] = atapi_medium(d) ? 1 : 0;
        len += 8;
    }
    /* 0001h core: ATAPI physical interface. */
    if ((rt != 2 && start <= 1) || (rt == 2 && start == 1)) {
        uint8_t *f = b + len;
        put_be16(f, 0x0001);
        f[2] = 0x07; /* version 1, persistent, current */
        f[3] = 8;
        put_be32(f + 4, 2); /* ATAPI */
        len += 12;
    }
    /* 0003h removable medium: tray, eject, lock. */
    if ((rt != 2 && start <= 3) || (rt == 2 && start == 3)) {
        uint8_t *f = b + len;
        put_be16(f, 0x0003);
        f[2] = 0x03;
        f[3] = 4;
        f[4] = (1u << 5) | 0x08 | 0x01 | (d->locked ? 0x04 : 0);
        len += 8;
    }
    put_be32(b, len - 4);
    atapi_send(d, MIN(len, alloc));
}

/* GET EVENT STATUS NOTIFICATION (MMC-3 §6.7), polled only: the media class. */
static void atapi_get_event_status(IdeDevice *d, const uint8_t *cdb)
{
    uint32_t alloc = get_be16(cdb + 7);
    uint8_t *b = d->buf;
    memset(b, 0, 8);
    if (!(cdb[1] & 1)) { /* asynchronous notification is not supported */
        atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
        return;
    }
    b[3] = 1u << 4; /* supported classes: media */
    uint32_t len;
    if (cdb[4] & (1u << 4)) {
        put_be16(b, 6);
        b[2] = 4; /* media class */
        b[4] = d->media_event;
        b[5] = (d->tray_open ? 1 : 0) | (atapi_medium(d) ? 2 : 0);
        d->media_event = 0;
        len = 8;
    } else {
        put_be16(b, 2);
        b[2] = 0x80; /* no event available */
        len = 4;
    }
    atapi_send(d, MIN(len, alloc));
}

static void atapi_read(IdeDevice *d, uint32_t lba, uint32_t count)
{
    if ((uint64_t)lba + count > d->nsectors) {
        atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
        return;
    }
    d->cd_lba = lba;
    d->cd_remaining = count;
    atapi_send(d, 0);
}

/* READ DISC INFORMATION (MMC-3 §6.22): one complete session with one track. */
static void atapi_read_disc_info(IdeDevice *d, const uint8_t *cdb)
{
    uint8_t *b = d->buf;
    if (cdb[1] & 7) { /* only the standard disc information block */
        atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
        return;
    }
    memset(b, 0, 34);
    put_be16(b, 32);
    b[2] = 0x0e; /* last session complete, disc complete, not erasable */
    b[3] = 1;    /* first track */
    b[4] = 1;    /* sessions */
    b[5] = 1;    /* first track of the last session */
    b[6] = 1;    /* last track of the last session */
    b[8] = 0x00; /* CD-DA or CD-ROM */
    memset(b + 16, 0xff, 8); /* no next session: lead-in and lead-out unknown */
    atapi_send(d, MIN(34u, get_be16(cdb + 7)));
}

/* MECHANISM STATUS (MMC-3 §6.10): no changer, idle, the door as the tray is. */
static void atapi_mechanism_status(IdeDevice *d, const uint8_t *cdb)
{
    uint8_t *b = d->buf;
    memset(b, 0, 8);
    b[1] = d->tray_open ? 0x10 : 0;
    atapi_send(d, MIN(8u, get_be16(cdb + 8)));
}

/* READ CD (MMC-3 §6.19) for user data only: a data CD's Mode 1 sectors as READ(10). */
static void atapi_read_cd(IdeDevice *d, const uint8_t *cdb)
{
    unsigned type = (cdb[1] >> 2) & 7;
    uint32_t count = (uint32_t)cdb[6] << 16 | get_be16(cdb + 7);
    if (type != 0 && type != 2) { /* CD-DA or Mode 2 sectors: there are none */
        atapi_fail(d, SK_ILLEGAL_REQUEST, 0x64, 0); /* illegal mode for this track */
        return;
    }
    if (cdb[9] == 0) { /* no fields selected: nothing moves */
        atapi_ok(d);
        return;
    }
    if (cdb[9] != 0x10) { /* sync, headers, EDC/ECC or C2 bits: not kept in an ISO */
        atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
        return;
    }
    atapi_read(d, get_be32(cdb + 2), count);
}

/* START STOP UNIT (SBC/MMC-3 §6.39): LoEj with Start clear opens the tray (unless
 * PREVENT ALLOW MEDIUM REMOVAL locked it), with Start set closes it. */
static void atapi_start_stop(IdeDevice *d, const uint8_t *cdb)
{
    bool loej = cdb[4] & 2, start = cdb[4] & 1;
    if (loej && !start) {
        if (d->locked) {
            atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED, 0x02);
            return;
        }
        if (!d->tray_open && d->img)
            d->media_event = 3; /* media removal */
        d->tray_open = true;
    } else if (loej && start && d->tray_open) {
        d->tray_open = false;
        if (d->img) {
            d->unit_attention = true;
            d->media_event = 2; /* new media */
        }
    }
    atapi_ok(d);
}

static void atapi_request_sense(IdeDevice *d, const uint8_t *cdb)
{
    uint8_t *b = d->buf;
    memset(b, 0, 18);
    if (d->sense_key == SK_NO_SENSE && d->unit_attention) {
        d->unit_attention = false;
        d->sense_key = SK_UNIT_ATTENTION;
        d->asc = ASC_MEDIUM_CHANGED;
        d->ascq = 0;
    }
    b[0] = 0x70; /* current error, fixed format (SPC-3 §4.5.3) */
    b[2] = d->sense_key;
    b[7] = 10;
    b[12] = d->asc;
    b[13] = d->ascq;
    /* The sense data is consumed; atapi_send clears it when the reply completes. */
    atapi_send(d, MIN(18u, cdb[4]));
}

static void atapi_inquiry(IdeDevice *d, const uint8_t *cdb)
{
    uint8_t *b = d->buf;
    if (cdb[1] & 1) { /* vital product data pages: none */
        atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
        return;
    }
    memset(b, 0, 36);
    b[0] = 0x05; /* CD/DVD device */
    b[1] = 0x80; /* removable */
    b[2] = 0x00;
    b[3] = 0x21; /* ATAPI version 2, response data format 1 */
    b[4] = 31;
    memcpy(b + 8, "VIREO   ", 8);
    memcpy(b + 16, "VIREO DVD-ROM   ", 16);
    memcpy(b + 32, VIREO_IDE_FIRMWARE "    ", 4);
    atapi_send(d, MIN(36u, get_be16(cdb + 3)));
}

/* Which commands need a medium, and which a pending unit attention does not stop
 * (MMC-3 §4.1.6.1: INQUIRY, REQUEST SENSE, GET CONFIGURATION, GET EVENT STATUS). */
static void atapi_command(IdeDevice *d)
{
    const uint8_t *cdb = d->cdb;
    uint8_t op = cdb[0];
    VLOG(LOG_DISK, "ATAPI: unit %d packet 0x%02x", d->unit, op);
    bool ua_exempt = op == 0x12 || op == 0x03 || op == 0x46 || op == 0x4a;
    if (d->unit_attention && !ua_exempt) {
        d->unit_attention = false;
        atapi_fail(d, SK_UNIT_ATTENTION, ASC_MEDIUM_CHANGED, 0);
        return;
    }
    bool needs_medium = op == 0x00 || op == 0x25 || op == 0x28 || op == 0xa8 ||
                        op == 0x43 || op == 0x2b || op == 0x51 || op == 0xbe;
    if (needs_medium && !atapi_medium(d)) {
        atapi_fail(d, SK_NOT_READY, ASC_NO_MEDIUM, d->tray_open ? 0x02 : 0x01);
        return;
    }
    /* The sense of the last command is reported once. */
    if (op != 0x03) {
        d->sense_key = SK_NO_SENSE;
        d->asc = d->ascq = 0;
    }
    switch (op) {
    case 0x00: /* TEST UNIT READY */
    case 0x2b: /* SEEK(10) */
        atapi_ok(d);
        break;
    case 0x03:
        atapi_request_sense(d, cdb);
        break;
    case 0x12:
        atapi_inquiry(d, cdb);
        break;
    case 0x1b:
        atapi_start_stop(d, cdb);
        break;
    case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
        d->locked = cdb[4] & 1;
        atapi_ok(d);
        break;
    case 0x25: /* READ CAPACITY: last block and block size */
        put_be32(d->buf, d->nsectors ? (uint32_t)d->nsectors - 1 : 0);
        put_be32(d->buf + 4, CD_SECTOR);
        atapi_send(d, 8);
        break;
    case 0x28: /* READ(10) */
        atapi_read(d, get_be32(cdb + 2), get_be16(cdb + 7));
        break;
    case 0xa8: /* READ(12) */
        atapi_read(d, get_be32(cdb + 2), get_be32(cdb + 6));
        break;
    case 0x43:
        atapi_read_toc(d, cdb);
        break;
    case 0x46:
        atapi_get_configuration(d, cdb);
        break;
    case 0x4a:
        atapi_get_event_status(d, cdb);
        break;
    case 0x5a:
        atapi_mode_sense(d, cdb);
        break;
    case 0x51:
        atapi_read_disc_info(d, cdb);
        break;
    case 0xbd:
        atapi_mechanism_status(d, cdb);
        break;
    case 0xbe:
        atapi_read_cd(d, cdb);
        break;
    case 0xbb: /* SET CD SPEED: the speed is whatever the host gives */
        atapi_ok(d);
        break;
    default:
        VLOG(LOG_UNIMP, "ATAPI: unsupported packet command 0x%02x", op);
        atapi_fail(d, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
        break;
    }
}

void atapi_packet_received(IdeDevice *d)
{
    memcpy(d->cdb, d->buf, sizeof(d->cdb));
    atapi_command(d);
}

/* PACKET (ATA-6 §8.21): DRQ with C/D set asks for the 12 command bytes; no interrupt
 * (IDENTIFY PACKET DEVICE word 0 announces a 50 µs DRQ). */
void atapi_packet_begin(IdeDevice *d)
{
    IdeChannel *ch = d->ch;
    uint32_t limit = ch->lcyl | (uint32_t)ch->hcyl << 8;
    /* A limit of 0 is not allowed; FFFFh means 65534 (§8.21.4): keep it even. */
    if (limit == 0 || limit == 0xffff)
        limit = 0xfffe;
    /* An odd limit is rounded down, but never to nothing: each DRQ block moves data. */
    d->byte_limit = MAX(limit & ~1u, 2u);
    d->cd_remaining = 0;
    d->xfer_pos = d->xfer_end = 0;
    ch->nsector = IR_COD;
    d->status = ST_DRDY | ST_DSC;
    d->error = 0;
    ide_pio_start(d, 0, sizeof(d->cdb), IDE_END_ATAPI_PACKET);
}

/* IDENTIFY PACKET DEVICE (ATA-6 §8.16, table 20). */
void atapi_identify(IdeDevice *d, uint16_t *id)
{
    memset(id, 0, 512);
    /* ATAPI, CD-ROM (05h), removable, 50 µs DRQ, 12-byte packets. */
    id[0] = (2u << 14) | (5u << 8) | (1u << 7) | (2u << 5);
    for (int i = 0; i < 10; i++)
        id[10 + i] = 0;
    for (int i = 0; i < 20; i += 2) {
        const char *s = d->serial;
        size_t n = strlen(s);
        id[10 + i / 2] = (uint16_t)(((size_t)i < n ? (uint8_t)s[i] : ' ') << 8 |
                                    ((size_t)i + 1 < n ? (uint8_t)s[i + 1] : ' '));
    }
    for (int i = 0; i < 8; i += 2) {
        const char *s = VIREO_IDE_FIRMWARE;
        size_t n = strlen(s);
        id[23 + i / 2] = (uint16_t)(((size_t)i < n ? (uint8_t)s[i] : ' ') << 8 |
                                    ((size_t)i + 1 < n ? (uint8_t)s[i + 1] : ' '));
    }
    for (int i = 0; i < 40; i += 2) {
        const char *s = d->model;
        size_t n = strlen(s);
        id[27 + i / 2] = (uint16_t)(((size_t)i < n ? (uint8_t)s[i] : ' ') << 8 |
                                    ((size_t)i + 1 < n ? (uint8_t)s[i + 1] : ' '));
    }
    id[49] = (1u << 11) | (1u << 9) | (1u << 8); /* IORDY, LBA, DMA */
    id[53] = 0x0006; /* words 64-70 and 88 valid */
    id[63] = 0x0007 | (d->mdma_mode <= 2 ? 0x100u << d->mdma_mode : 0);
    id[64] = 0x0003;
    id[65] = id[66] = id[67] = id[68] = 120;
    id[80] = 0x007e;
    id[82] = (1u << 9) | (1u << 4); /* DEVICE RESET, PACKET */
    id[83] = 0x4000;
    id[84] = 0x4000;
    id[85] = id[82];
    id[87] = 0x4000;
    id[88] = 0x003f | (d->udma_mode <= 5 ? 0x100u << d->udma_mode : 0);
    id[93] = 0x4000 | 0x2000 | (d->unit ? 0x0300 : 0x0003);
}

void atapi_reset(IdeDevice *d)
{
    d->sense_key = SK_NO_SENSE;
    d->asc = d->ascq = 0;
    d->locked = false;
    d->cd_remaining = 0;
    d->xfer_pos = d->xfer_end = 0;
}

/* Medium change from the host: the tray closes on the new medium and the guest hears of
 * it through a unit attention and a media event. */
void atapi_change_medium(IdeDevice *d, BlockImage *img)
{
    if (d->img)
        block_close(d->img, NULL);
    d->img = img;
    d->nsectors = img ? block_size(img) / CD_SECTOR : 0;
    d->tray_open = false;
    d->unit_attention = true;
    d->media_event = img ? 2 : 3;
}
