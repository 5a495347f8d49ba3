/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Intel 82078 floppy disk controller in PC-AT mode, after the 82078 datasheet
 * (order 290474) and the 82077AA one it extends. Commands execute at once: the data
 * moves over ISA DMA (or through the FIFO in non-DMA mode) when the last parameter byte
 * arrives and the interrupt follows, so there is no rotational or step timing. Images
 * are flat sector arrays; their size decides the geometry (cylinders x heads x
 * sectors of 512 bytes) and the data rate the medium answers at. */
#include "hw/storage/fdc.h"
#include "hw/storage/drive.h"

#include <glib/gstdio.h>
#include <string.h>

#define SECTOR_SIZE 512
#define SECTOR_CODE 2 /* N = 2: 128 << 2 bytes */
#define MAX_SPT 36
#define DATA_MAX (2 * MAX_SPT * SECTOR_SIZE) /* one cylinder, for non-DMA transfers */

/* Register offsets from the base (82078 datasheet, "Register Description", PC-AT mode). */
enum {
    REG_SRA = 0, REG_SRB = 1, REG_DOR = 2, REG_TDR = 3,
    REG_MSR_DSR = 4, REG_FIFO = 5, REG_DIR_CCR = 7,
};

#define DOR_DRIVE_MASK 0x03
#define DOR_NRESET 0x04
#define DOR_DMA_GATE 0x08 /* AT mode: enables the INT and DRQ outputs */

#define DSR_SW_RESET 0x80
#define DSR_RATE_MASK 0x03

#define MSR_RQM 0x80
#define MSR_DIO 0x40
#define MSR_NDM 0x20
#define MSR_CB 0x10

#define DIR_DSKCHG 0x80

/* Status register bits (82078 datasheet, "Status Register Encoding"). */
#define ST0_IC_ABNORMAL 0x40
#define ST0_IC_INVALID 0x80
#define ST0_IC_POLL 0xc0
#define ST0_SE 0x20
#define ST0_EC 0x10
#define ST1_EN 0x80
#define ST1_DE 0x20
#define ST1_OR 0x10
#define ST1_ND 0x04
#define ST1_NW 0x02
#define ST1_MA 0x01
#define ST2_WC 0x10
#define ST2_BC 0x02
#define ST3_WP 0x40
#define ST3_RDY 0x20
#define ST3_T0 0x10
#define ST3_TS 0x08

/* Command opcodes, low five bits (82078 datasheet, "Command Set Descriptions"). */
enum {
    CMD_READ_TRACK = 0x02, CMD_SPECIFY = 0x03, CMD_SENSE_DRIVE = 0x04, CMD_WRITE = 0x05,
    CMD_READ = 0x06, CMD_RECALIBRATE = 0x07, CMD_SENSE_INT = 0x08, CMD_WRITE_DEL = 0x09,
    CMD_READ_ID = 0x0a, CMD_READ_DEL = 0x0c, CMD_FORMAT = 0x0d, CMD_DUMPREG = 0x0e,
    CMD_SEEK = 0x0f, CMD_VERSION = 0x10, CMD_PERPENDICULAR = 0x12, CMD_CONFIGURE = 0x13,
    CMD_LOCK = 0x14, CMD_PART_ID = 0x18,
};
#define CMD_MT 0x80
#define CMD_MFM 0x40

/* Data rate select values in DSR/CCR bits 1:0. */
enum { RATE_500K = 0, RATE_300K = 1, RATE_250K = 2, RATE_1M = 3 };

typedef struct FdGeometry {
    const char *name;
    uint8_t cyls, heads, spt;
    uint8_t rate;      /* the rate the medium is recorded at */
    uint8_t cmos_type; /* the drive that takes it */
} FdGeometry;

/* Standard PC formats by size. 5.25" media go in a 1.2M drive, as QEMU does; the
 * BIOS finds their rate by trying each (media sense). */
static const FdGeometry geometries[] = {
    { "160K", 40, 1, 8, RATE_250K, 2 },
    { "180K", 40, 1, 9, RATE_300K, 2 },
    { "320K", 40, 2, 8, RATE_250K, 2 },
    { "360K", 40, 2, 9, RATE_300K, 2 },
    { "720K", 80, 2, 9, RATE_250K, 4 },
    { "1.2M", 80, 2, 15, RATE_500K, 2 },
    { "1.44M", 80, 2, 18, RATE_500K, 4 },
    { "1.68M (DMF)", 80, 2, 21, RATE_500K, 4 },
    { "2.88M", 80, 2, 36, RATE_1M, 5 },
};

#define GEOM_1440K 6

/* What a state stream records of a drive and its medium, filled in before a save: a
 * load must find the same drive and the same image in it (the image's contents are
 * not in the stream). The digest is SHA-256 of the image's file name; name keeps the
 * name's last bytes for messages. */
typedef struct FdMediumId {
    bool present;
    uint8_t cmos_type;
    bool has_medium;
    bool readonly;
    uint64_t size;
    uint8_t digest[32];
    uint8_t name[64];        /* NUL-padded */
} FdMediumId;

typedef struct FdDrive {
    /* The drive and its medium: board configuration and the host's image. */
    bool present;
    uint8_t cmos_type;
    BlockImage *img;         /* NULL: no disk */
    const FdGeometry *geom;
    uint64_t img_size;
    bool readonly;
    FdMediumId saved;
    /* Guest-visible drive state. */
    bool dskchg;             /* the drive's DSKCHG line */
    uint8_t pcn;             /* present cylinder number = where the head is */
    uint8_t head;
    uint8_t last_sector;     /* for READ ID: the sector that passed last */
} FdDrive;

enum { PH_COMMAND, PH_EXEC_READ, PH_EXEC_WRITE, PH_RESULT };

struct FdcState {
    Device dev;
    Vm *vm;
    IrqLine irq;             /* wired by the board */
    uint32_t iobase, dma_channel; /* properties */
    IsaDma *dma;
    FdDrive drive[FDC_MAX_DRIVES];

    uint8_t dor, tdr, dsr;
    uint8_t phase;
    uint8_t cmd[16];
    uint32_t cmd_len, cmd_pos;
    uint8_t res[16];
    uint32_t res_len, res_pos;

    /* Interrupt: the internal request, visible on the pin only with DOR DMA gate. */
    bool int_pending;
    bool irq_level;          /* derived: int_pending gated by DOR */
    /* Pending SENSE INTERRUPT STATUS answers: after reset one per drive (polling) until
     * a command raises an interrupt of its own, otherwise the one from the last seek or
     * recalibrate. */
    uint32_t reset_sense;
    bool seek_status_valid;
    uint8_t seek_st0;
    uint8_t seek_busy; /* MSR bits 3:0: drives whose seek awaits its sense */

    /* SPECIFY, CONFIGURE, PERPENDICULAR MODE, LOCK state (DUMPREG shows it). */
    uint8_t srt_hut, hlt_nd;
    uint8_t config, pretrk;
    uint8_t perp;
    bool lock;
    uint8_t last_eot;

    /* Non-DMA execution phase: the whole transfer buffered here. */
    uint8_t data[DATA_MAX];
    uint32_t data_len, data_pos;
    uint8_t xfer_opcode;
    uint8_t pio_st1, pio_st2; /* an error that ended the read-ahead early */
};

#define CONFIG_EIS 0x40
#define CONFIG_EFIFO 0x20
#define CONFIG_POLL 0x10
#define CONFIG_DEFAULT (CONFIG_EFIFO) /* CONFIGURE defaults: FIFO off, polling on, threshold 1 */

static const FdGeometry *geometry_for_size(uint64_t size)
{
    for (size_t i = 0; i < G_N_ELEMENTS(geometries); i++) {
        const FdGeometry *g = &geometries[i];
        if ((uint64_t)g->cyls * g->heads * g->spt * SECTOR_SIZE == size)
            return g;
    }
    /* Any other image up to 1.44M (a bare boot-sector game) is a 1.44M disk, as in
     * QEMU; sectors past its end read as zeros. */
    if (size > 0 && size % SECTOR_SIZE == 0 && size < 1474560)
        return &geometries[GEOM_1440K];
    return NULL;
}

const char *fdc_format_name(uint64_t size)
{
    const FdGeometry *g = geometry_for_size(size);
    return g ? g->name : NULL;
}

static void fdc_update_irq(FdcState *s)
{
    bool level = s->int_pending && (s->dor & DOR_DMA_GATE);
    if (level != s->irq_level) {
        s->irq_level = level;
        irq_set(&s->irq, level);
    }
}

/* A command's interrupt (a seek's end, a result phase, a non-DMA transfer) takes the
 * place of the reset's: the polling statuses not sensed yet are dropped, and SENSE
 * INTERRUPT STATUS reports this command. The 82077AA datasheet ("Drive Polling") has
 * the host sense the four ready changes after a reset; a driver that recalibrates
 * first (BSD's fd probe) expects the recalibrate's 20h | drive, as QEMU and Bochs give. */
static void fdc_raise(FdcState *s)
{
    s->reset_sense = 0;
    s->int_pending = true;
    fdc_update_irq(s);
}

static void fdc_lower(FdcState *s)
{
    s->int_pending = false;
    fdc_update_irq(s);
}

static bool fdc_dma_mode(const FdcState *s)
{
    return !(s->hlt_nd & 1);
}

static void fdc_to_command(FdcState *s)
{
    s->phase = PH_COMMAND;
    s->cmd_pos = 0;
    s->cmd_len = 0;
}

static void fdc_result(FdcState *s, const uint8_t *bytes, unsigned n, bool interrupt)
{
    memcpy(s->res, bytes, n);
    VLOG(LOG_DISK, "fdc: result %02x %02x %02x (%u bytes), rate %u", bytes[0], n > 1 ? bytes[1] : 0,
         n > 2 ? bytes[2] : 0, n, s->dsr & DSR_RATE_MASK);
    s->res_len = n;
    s->res_pos = 0;
    s->phase = PH_RESULT;
    if (interrupt)
        fdc_raise(s);
}

/* Controller reset (DOR bit 2 low, or DSR bit 7). 82078 datasheet, "Reset": registers except
 * SPECIFY's and, when LOCK is set, CONFIGURE's return to their defaults; afterwards the
 * drive polling reports a ready change for each of the four drives. */
static void fdc_soft_reset(FdcState *s)
{
    fdc_to_command(s);
    s->res_len = s->res_pos = 0;
    s->dsr = RATE_250K;
    s->perp &= 0x3c; /* GAP and WGATE clear, D0-D3 kept */
    if (!s->lock) {
        s->config = CONFIG_DEFAULT;
        s->pretrk = 0;
    }
    s->seek_status_valid = false;
    s->seek_busy = 0;
    s->reset_sense = 0;
    fdc_lower(s);
}

/* The end of a reset: with polling, the drives' simulated ready lines change from "not
 * ready", one status each to sense (82077AA datasheet, "Drive Polling"). */
static void fdc_reset_done(FdcState *s)
{
    fdc_raise(s);
    s->reset_sense = 4;
}

static void fdc_hw_reset(Device *dev)
{
    FdcState *s = (FdcState *)dev;
    s->dor = 0;
    s->tdr = 0;
    s->lock = false;
    s->srt_hut = s->hlt_nd = 0;
    s->perp = 0;
    s->last_eot = 0;
    fdc_soft_reset(s);
}

static FdDrive *fdc_drive(FdcState *s, unsigned ds)
{
    return ds < FDC_MAX_DRIVES && s->drive[ds].present ? &s->drive[ds] : NULL;
}

/* Moves the head; a step with a disk in the drive clears DSKCHG (the drive's own line
 * resets on a step pulse; 82078 datasheet, DIR "DSKCHG"). */
static void fdc_move_head(FdDrive *d, unsigned cyl)
{
    if (cyl != d->pcn && d->img)
        d->dskchg = false;
    d->pcn = (uint8_t)cyl;
}

/* Where sector (c, h, r, n) is on the medium under drive d, head `head`, at the current
 * data rate: an image offset, or ST1/ST2 error bits. */
static bool fdc_locate(FdcState *s, FdDrive *d, unsigned head, uint8_t c, uint8_t h, uint8_t r,
                       uint8_t n, uint64_t *offset, uint8_t *st1, uint8_t *st2)
{
    const FdGeometry *g = d->geom;
    *st1 = *st2 = 0;
    /* No medium, a rate it was not recorded at, a missing side or a cylinder past
     * the last: the controller finds no ID field at all. */
    if (!d->img || (s->dsr & DSR_RATE_MASK) != g->rate || head >= g->heads || d->pcn >= g->cyls) {
        *st1 = ST1_MA;
        return false;
    }
    if (c != d->pcn) {
        *st1 = ST1_ND;
        *st2 = c == 0xff ? ST2_BC : ST2_WC;
        return false;
    }
    if (h != head || n != SECTOR_CODE || r < 1 || r > g->spt) {
        *st1 = ST1_ND;
        return false;
    }
    *offset = (((uint64_t)d->pcn * g->heads + head) * g->spt + (r - 1u)) * SECTOR_SIZE;
    d->last_sector = r;
    return true;
}

static bool fdc_read_sector(FdDrive *d, uint64_t off, uint8_t *buf)
{
    memset(buf, 0, SECTOR_SIZE);
    if (off >= d->img_size)
        return true; /* past the end of a short image */
    size_t len = (size_t)MIN((uint64_t)SECTOR_SIZE, d->img_size - off);
    g_autoptr(GError) err = NULL;
    if (!block_pread(d->img, off, buf, len, &err)) {
        VLOG(LOG_DISK, "fdc: read at %" PRIu64 ": %s", off, err->message);
        return false;
    }
    return true;
}

static bool fdc_write_sector(FdDrive *d, uint64_t off, const uint8_t *buf)
{
    if (off + SECTOR_SIZE > d->img_size)
        return false;
    g_autoptr(GError) err = NULL;
    if (!block_pwrite(d->img, off, buf, SECTOR_SIZE, &err)) {
        VLOG(LOG_DISK, "fdc: write at %" PRIu64 ": %s", off, err->message);
        return false;
    }
    return true;
}

/* The ID a result phase reports after the last sector transferred (82078 datasheet,
 * the table of C, H, R, N in the result phase after a read or write). */
static void fdc_next_id(bool mt, uint8_t eot, uint8_t *c, uint8_t *h, uint8_t *r)
{
    if (*r != eot) {
        (*r)++;
        return;
    }
    *r = 1;
    if (mt) {
        if (*h & 1)
            (*c)++;
        *h ^= 1;
    } else {
        (*c)++;
    }
}

static void fdc_rw_result(FdcState *s, uint8_t st0, uint8_t st1, uint8_t st2, uint8_t c,
                          uint8_t h, uint8_t r, uint8_t n)
{
    uint8_t res[7] = { st0, st1, st2, c, h, r, n };
    fdc_result(s, res, 7, true);
}

/* READ DATA / WRITE DATA with DMA: sector by sector from R until terminal count or
 * the end of the track (both sides with MT). */
static void fdc_cmd_rw(FdcState *s, bool write)
{
    uint8_t op = s->cmd[0];
    bool mt = op & CMD_MT;
    unsigned ds = s->cmd[1] & 3, head = (s->cmd[1] >> 2) & 1;
    uint8_t c = s->cmd[2], h = s->cmd[3], r = s->cmd[4], n = s->cmd[5], eot = s->cmd[6];
    s->last_eot = eot;
    FdDrive *d = fdc_drive(s, ds);
    uint8_t st0 = (uint8_t)(head << 2 | ds);
    if (!d) {
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL | ST0_EC, ST1_MA, 0, c, h, r, n);
        return;
    }
    d->head = (uint8_t)head;
    if (s->config & CONFIG_EIS && c != d->pcn)
        fdc_move_head(d, c); /* implied seek */
    if (write && d->img && d->readonly) {
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_NW, 0, c, h, r, n);
        return;
    }
    if (!fdc_dma_mode(s)) {
        /* Non-DMA: read ahead to the end of the track(s) into the FIFO buffer, or take
         * the host's bytes first and write them when the last one arrives. */
        s->xfer_opcode = op;
        s->data_pos = 0;
        s->data_len = 0;
        if (write) {
            unsigned sectors = eot >= r ? eot - r + 1u : 1u;
            if (mt && !head)
                sectors += eot;
            s->data_len = MIN(sectors * SECTOR_SIZE, (unsigned)DATA_MAX);
            s->phase = PH_EXEC_WRITE;
            fdc_raise(s);
            return;
        }
        uint8_t st1 = 0, st2 = 0;
        for (;;) {
            uint64_t off;
            if (!fdc_locate(s, d, head, c, h, r, n, &off, &st1, &st2))
                break;
            if (s->data_len + SECTOR_SIZE > DATA_MAX)
                break;
            if (!fdc_read_sector(d, off, s->data + s->data_len)) {
                st1 = ST1_DE;
                break;
            }
            s->data_len += SECTOR_SIZE;
            if (r == eot && mt && head == 0 && d->geom->heads == 2) {
                head = 1;
                d->head = 1;
                h ^= 1;
                r = 1;
                continue;
            }
            if (r == eot)
                break;
            r++;
        }
        if (!s->data_len) {
            fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, st1, st2, c, h, r, n);
            return;
        }
        /* Where the buffered run ends (the failing sector after an error), for the
         * result phase once the host has read the data. */
        s->pio_st1 = st1;
        s->pio_st2 = st2;
        s->cmd[3] = h;
        s->cmd[4] = r;
        s->cmd[1] = (uint8_t)((s->cmd[1] & ~4) | head << 2);
        s->phase = PH_EXEC_READ;
        fdc_raise(s);
        return;
    }
    if (!i8237_channel_ready(s->dma, s->dma_channel)) {
        /* Nobody answers DRQ: the first byte overruns (ST1 OR, "overrun/underrun"). */
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_OR, 0, c, h, r, n);
        return;
    }
    uint8_t buf[SECTOR_SIZE];
    for (;;) {
        uint64_t off;
        uint8_t st1, st2;
        st0 = (uint8_t)(head << 2 | ds);
        if (!fdc_locate(s, d, head, c, h, r, n, &off, &st1, &st2)) {
            fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, st1, st2, c, h, r, n);
            return;
        }
        bool tc;
        if (write) {
            memset(buf, 0, sizeof(buf));
            i8237_transfer(s->dma, s->dma_channel, buf, SECTOR_SIZE, &tc);
            /* Terminal count inside a sector: the rest is written as zeros. */
            if (!fdc_write_sector(d, off, buf)) {
                fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_DE, 0, c, h, r, n);
                return;
            }
        } else {
            if (!fdc_read_sector(d, off, buf)) {
                fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_DE, 0, c, h, r, n);
                return;
            }
            i8237_transfer(s->dma, s->dma_channel, buf, SECTOR_SIZE, &tc);
        }
        if (tc) {
            fdc_next_id(mt, eot, &c, &h, &r);
            fdc_rw_result(s, st0, 0, 0, c, h, r, n);
            return;
        }
        if (r == eot && mt && head == 0 && d->geom->heads == 2) {
            head = 1;
            d->head = 1;
            h ^= 1;
            r = 1;
            continue;
        }
        if (r == eot) {
            /* The track ended before terminal count: 82078 "EN" end of cylinder. */
            fdc_next_id(mt, eot, &c, &h, &r);
            fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_EN, 0, c, h, r, n);
            return;
        }
        if (!i8237_channel_ready(s->dma, s->dma_channel)) {
            fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_OR, 0, c, h, r, n);
            return;
        }
        r++;
    }
}

/* End of a non-DMA execution phase: the host moved every byte. */
static void fdc_pio_done(FdcState *s)
{
    bool mt = s->xfer_opcode & CMD_MT;
    unsigned ds = s->cmd[1] & 3, head = (s->cmd[1] >> 2) & 1;
    uint8_t c = s->cmd[2], h = s->cmd[3], r = s->cmd[4], n = s->cmd[5], eot = s->cmd[6];
    FdDrive *d = fdc_drive(s, ds);
    uint8_t st0 = (uint8_t)(head << 2 | ds);
    if ((s->xfer_opcode & 0x1f) == CMD_FORMAT) {
        /* Four ID bytes per sector, as over DMA. */
        uint8_t st1 = 0, st2 = 0, buf[SECTOR_SIZE];
        memset(buf, s->cmd[5], sizeof(buf));
        for (unsigned i = 0; i + 4 <= s->data_len; i += 4) {
            uint64_t off;
            c = s->data[i], h = s->data[i + 1], r = s->data[i + 2], n = s->data[i + 3];
            if (!fdc_locate(s, d, head, c, h, r, n, &off, &st1, &st2) || !fdc_write_sector(d, off, buf)) {
                st0 |= ST0_IC_ABNORMAL;
                st1 |= st1 ? 0 : ST1_DE;
                break;
            }
        }
        fdc_rw_result(s, st0 | (st1 ? ST0_IC_ABNORMAL : 0), st1, st2, c, h, r, n);
        return;
    }
    if (s->phase == PH_EXEC_READ && (s->pio_st1 || s->pio_st2)) {
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, s->pio_st1, s->pio_st2, c, h, r, n);
        return;
    }
    if (s->phase == PH_EXEC_WRITE) {
        /* The disk was swapped for a write-protected one while the bytes came in: the
         * write gate stays shut, as at the start of a command (82077AA, ST1 bit 1 NW). */
        if (d->img && d->readonly) {
            fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_NW, 0, c, h, r, n);
            return;
        }
        for (unsigned pos = 0; pos < s->data_len; pos += SECTOR_SIZE) {
            uint64_t off;
            uint8_t st1, st2;
            st0 = (uint8_t)(head << 2 | ds);
            if (!fdc_locate(s, d, head, c, h, r, n, &off, &st1, &st2)) {
                fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, st1, st2, c, h, r, n);
                return;
            }
            if (!fdc_write_sector(d, off, s->data + pos)) {
                fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_DE, 0, c, h, r, n);
                return;
            }
            if (r == eot && mt && head == 0 && d->geom->heads == 2) {
                head = 1;
                h ^= 1;
                r = 1;
            } else if (r != eot) {
                r++;
            }
        }
    }
    /* Without terminal count a non-DMA transfer always runs to EOT: the datasheet
     * ("Read Data") reports it as abnormal termination with EN. */
    fdc_next_id(mt, eot, &c, &h, &r);
    fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_EN, 0, c, h, r, n);
}

static void fdc_cmd_read_id(FdcState *s)
{
    unsigned ds = s->cmd[1] & 3, head = (s->cmd[1] >> 2) & 1;
    FdDrive *d = fdc_drive(s, ds);
    uint8_t st0 = (uint8_t)(head << 2 | ds);
    if (!d) {
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL | ST0_EC, ST1_MA, 0, 0, 0, 0, 0);
        return;
    }
    d->head = (uint8_t)head;
    const FdGeometry *g = d->geom;
    if (!d->img || (s->dsr & DSR_RATE_MASK) != g->rate || head >= g->heads || d->pcn >= g->cyls) {
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_MA, 0, d->pcn, (uint8_t)head, 0, SECTOR_CODE);
        return;
    }
    /* The next ID field under the head: the disk turns on between commands. */
    d->last_sector = (uint8_t)(d->last_sector % g->spt + 1);
    fdc_rw_result(s, st0, 0, 0, d->pcn, (uint8_t)head, d->last_sector, SECTOR_CODE);
}

static void fdc_cmd_format(FdcState *s)
{
    unsigned ds = s->cmd[1] & 3, head = (s->cmd[1] >> 2) & 1;
    uint8_t n = s->cmd[2], sc = s->cmd[3], fill = s->cmd[5];
    FdDrive *d = fdc_drive(s, ds);
    uint8_t st0 = (uint8_t)(head << 2 | ds);
    if (!d) {
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL | ST0_EC, ST1_MA, 0, 0, 0, 0, n);
        return;
    }
    d->head = (uint8_t)head;
    if (!d->img || (s->dsr & DSR_RATE_MASK) != d->geom->rate || head >= d->geom->heads) {
        /* No index pulse or a surface the drive does not have: nothing gets written. */
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_MA, 0, d->pcn, (uint8_t)head, 0, n);
        return;
    }
    if (d->readonly) {
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_NW, 0, d->pcn, (uint8_t)head, 0, n);
        return;
    }
    if (!fdc_dma_mode(s)) {
        s->xfer_opcode = s->cmd[0]; /* fdc_pio_done finds the fill byte in cmd[5] */
        s->data_pos = 0;
        s->data_len = MIN(4u * sc, (unsigned)DATA_MAX);
        s->phase = PH_EXEC_WRITE;
        fdc_raise(s);
        return;
    }
    if (!i8237_channel_ready(s->dma, s->dma_channel)) {
        fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, ST1_OR, 0, d->pcn, (uint8_t)head, 0, n);
        return;
    }
    /* Each sector's ID (C, H, R, N) comes over DMA; the data field is the fill byte.
     * The image's layout is fixed, so an ID outside it cannot be written. */
    uint8_t sector[SECTOR_SIZE];
    memset(sector, fill, sizeof(sector));
    uint8_t id[4] = { d->pcn, (uint8_t)head, 0, n };
    for (unsigned i = 0; i < sc; i++) {
        bool tc;
        size_t got = i8237_transfer(s->dma, s->dma_channel, id, 4, &tc);
        uint64_t off;
        uint8_t st1, st2;
        if (got < 4 || !fdc_locate(s, d, head, id[0], id[1], id[2], id[3], &off, &st1, &st2) ||
            !fdc_write_sector(d, off, sector)) {
            if (got < 4)
                st1 = ST1_OR, st2 = 0;
            else if (!st1 && !st2)
                st1 = ST1_DE;
            fdc_rw_result(s, st0 | ST0_IC_ABNORMAL, st1, st2, id[0], id[1], id[2], id[3]);
            return;
        }
        if (tc)
            break;
    }
    fdc_rw_result(s, st0, 0, 0, id[0], id[1], id[2], id[3]);
}

static void fdc_cmd_seek(FdcState *s, bool recalibrate)
{
    unsigned ds = s->cmd[1] & 3, head = (s->cmd[1] >> 2) & 1;
    FdDrive *d = fdc_drive(s, ds);
    s->seek_st0 = (uint8_t)(ST0_SE | head << 2 | ds);
    if (!d) {
        /* No TRK0 signal after 79 steps (or no drive at all): equipment check. */
        s->seek_st0 |= ST0_IC_ABNORMAL | ST0_EC;
    } else {
        d->head = (uint8_t)head;
        unsigned target = recalibrate ? 0 : s->cmd[2];
        if (!recalibrate && s->cmd[0] & 0x80) {
            /* RELATIVE SEEK (82078 datasheet, "Relative Seek"): bit 6 chooses the direction, and the
             * present cylinder number stays within 0-255. */
            int to = d->pcn + (s->cmd[0] & 0x40 ? s->cmd[2] : -(int)s->cmd[2]);
            target = (unsigned)CLAMP(to, 0, 255);
        }
        fdc_move_head(d, target);
    }
    s->seek_status_valid = true;
    s->seek_busy |= (uint8_t)(1u << ds);
    fdc_to_command(s);
    fdc_raise(s);
}

static void fdc_cmd_sense_int(FdcState *s)
{
    uint8_t res[2];
    if (s->reset_sense) {
        unsigned ds = 4 - s->reset_sense--;
        res[0] = (uint8_t)(ST0_IC_POLL | ds);
        res[1] = ds < FDC_MAX_DRIVES ? s->drive[ds].pcn : 0;
    } else if (s->seek_status_valid) {
        unsigned ds = s->seek_st0 & 3;
        res[0] = s->seek_st0;
        res[1] = ds < FDC_MAX_DRIVES ? s->drive[ds].pcn : 0;
        s->seek_status_valid = false;
        s->seek_busy &= (uint8_t)~(1u << ds);
    } else {
        /* Nothing to report: the datasheet ("Sense Interrupt Status") treats it as an invalid command. */
        res[0] = ST0_IC_INVALID;
        fdc_result(s, res, 1, false);
        return;
    }
    fdc_lower(s);
    fdc_result(s, res, 2, false);
}

static void fdc_cmd_sense_drive(FdcState *s)
{
    unsigned ds = s->cmd[1] & 3, head = (s->cmd[1] >> 2) & 1;
    FdDrive *d = fdc_drive(s, ds);
    uint8_t st3 = (uint8_t)(head << 2 | ds);
    if (d) {
        d->head = (uint8_t)head;
        st3 |= ST3_RDY | ST3_TS;
        if (d->pcn == 0)
            st3 |= ST3_T0;
        if (!d->img || d->readonly)
            st3 |= ST3_WP; /* no disk: the write-protect sensor sees no notch */
    }
    fdc_result(s, &st3, 1, false);
}

static void fdc_cmd_dumpreg(FdcState *s)
{
    uint8_t res[10] = {
        s->drive[0].pcn, s->drive[1].pcn, 0, 0,
        s->srt_hut, s->hlt_nd, s->last_eot,
        (uint8_t)((s->lock ? 0x80 : 0) | (s->perp & 0x3f)),
        (uint8_t)(s->config & 0x7f), s->pretrk,
    };
    fdc_result(s, res, 10, false);
}

/* Parameter bytes after the opcode, or -1 for an invalid opcode. */
static int fdc_param_count(uint8_t op)
{
    switch (op & 0x1f) {
    case CMD_READ: case CMD_WRITE: case CMD_READ_DEL: case CMD_WRITE_DEL: case CMD_READ_TRACK:
        return 8;
    case CMD_FORMAT:
        return 5;
    case CMD_SEEK:
        return (op & 0x3f) == CMD_SEEK || (op & 0x80) ? 2 : -1;
    case CMD_SPECIFY:
        return 2;
    case CMD_SENSE_DRIVE: case CMD_RECALIBRATE: case CMD_READ_ID: case CMD_PERPENDICULAR:
        return 1;
    case CMD_CONFIGURE:
        return op == CMD_CONFIGURE ? 3 : -1;
    case CMD_SENSE_INT: case CMD_DUMPREG: case CMD_VERSION: case CMD_PART_ID:
        return (op & 0xe0) ? -1 : 0;
    case CMD_LOCK:
        return (op & 0x7f) == CMD_LOCK ? 0 : -1;
    default:
        return -1;
    }
}

static void fdc_execute(FdcState *s)
{
    uint8_t op = s->cmd[0];
    VLOG(LOG_DISK, "fdc: command 0x%02x", op);
    switch (op & 0x1f) {
    case CMD_READ:
    case CMD_READ_DEL:
    case CMD_READ_TRACK:
        /* Every sector carries a normal data mark, and a whole-track read starts at
         * the index with sector 1: both behave as READ DATA on this medium. */
        if ((op & 0x1f) == CMD_READ_TRACK)
            s->cmd[4] = 1;
        fdc_cmd_rw(s, false);
        break;
    case CMD_WRITE:
    case CMD_WRITE_DEL:
        fdc_cmd_rw(s, true);
        break;
    case CMD_READ_ID:
        fdc_cmd_read_id(s);
        break;
    case CMD_FORMAT:
        fdc_cmd_format(s);
        break;
    case CMD_RECALIBRATE:
        fdc_cmd_seek(s, true);
        break;
    case CMD_SEEK:
        fdc_cmd_seek(s, false);
        break;
    case CMD_SENSE_INT:
        fdc_cmd_sense_int(s);
        break;
    case CMD_SPECIFY:
        s->srt_hut = s->cmd[1];
        s->hlt_nd = s->cmd[2];
        fdc_to_command(s);
        break;
    case CMD_SENSE_DRIVE:
        fdc_cmd_sense_drive(s);
        break;
    case CMD_CONFIGURE:
        s->config = s->cmd[2] & 0x7f;
        s->pretrk = s->cmd[3];
        fdc_to_command(s);
        break;
    case CMD_VERSION: {
        uint8_t v = 0x90; /* 82077AA and later: enhanced controller */
        fdc_result(s, &v, 1, false);
        break;
    }
    case CMD_PART_ID: {
        uint8_t v = 0x41; /* PART ID: 82078 part code 010b, stepping 1 */
        fdc_result(s, &v, 1, false);
        break;
    }
    case CMD_DUMPREG:
        fdc_cmd_dumpreg(s);
        break;
    case CMD_PERPENDICULAR:
        /* OW (bit 7) gates whether D0-D3 change. */
        if (s->cmd[1] & 0x80)
            s->perp = s->cmd[1] & 0x3f;
        else
            s->perp = (uint8_t)((s->perp & 0x3c) | (s->cmd[1] & 0x03));
        fdc_to_command(s);
        break;
    case CMD_LOCK: {
        s->lock = op & 0x80;
        uint8_t v = (uint8_t)(s->lock ? 0x10 : 0);
        fdc_result(s, &v, 1, false);
        break;
    }
    }
}

static void fdc_fifo_write(FdcState *s, uint8_t v)
{
    switch (s->phase) {
    case PH_EXEC_WRITE:
        if (s->data_pos < s->data_len)
            s->data[s->data_pos++] = v;
        if (s->data_pos >= s->data_len) {
            fdc_lower(s);
            fdc_pio_done(s);
        }
        return;
    case PH_RESULT:
    case PH_EXEC_READ:
        return; /* the host should be reading: MSR DIO says so; the byte is lost */
    case PH_COMMAND:
        break;
    }
    if (s->cmd_pos == 0) {
        int n = fdc_param_count(v);
        s->cmd[0] = v;
        if (n < 0) {
            uint8_t st0 = ST0_IC_INVALID;
            fdc_result(s, &st0, 1, false);
            return;
        }
        s->cmd_len = 1u + (unsigned)n;
        s->cmd_pos = 1;
    } else {
        s->cmd[s->cmd_pos++] = v;
    }
    if (s->cmd_pos >= s->cmd_len)
        fdc_execute(s);
}

static uint8_t fdc_fifo_read(FdcState *s)
{
    switch (s->phase) {
    case PH_RESULT: {
        /* The interrupt that announced the result clears when reading starts. */
        fdc_lower(s);
        uint8_t v = s->res[s->res_pos++];
        if (s->res_pos >= s->res_len)
            fdc_to_command(s);
        return v;
    }
    case PH_EXEC_READ: {
        uint8_t v = s->data[s->data_pos++];
        if (s->data_pos >= s->data_len) {
            fdc_lower(s);
            fdc_pio_done(s);
        }
        return v;
    }
    default:
        return 0xff;
    }
}

static uint8_t fdc_msr(FdcState *s)
{
    if (!(s->dor & DOR_NRESET))
        return 0;
    switch (s->phase) {
    case PH_COMMAND:
        return (uint8_t)(MSR_RQM | (s->cmd_pos ? MSR_CB : 0) | s->seek_busy);
    case PH_EXEC_READ:
        return MSR_RQM | MSR_DIO | MSR_NDM | MSR_CB;
    case PH_EXEC_WRITE:
        return MSR_RQM | MSR_NDM | MSR_CB;
    case PH_RESULT:
        return MSR_RQM | MSR_DIO | MSR_CB;
    }
    return 0;
}

static uint32_t fdc_port_read(void *opaque, uint32_t offset, unsigned size)
{
    FdcState *s = opaque;
    (void)size;
    switch (offset) {
    case REG_DOR:
        return s->dor;
    case REG_TDR:
        return s->tdr & 3;
    case REG_MSR_DSR:
        return fdc_msr(s);
    case REG_FIFO:
        return (s->dor & DOR_NRESET) ? fdc_fifo_read(s) : 0xff;
    case REG_DIR_CCR: {
        /* AT mode drives only bit 7; the others belong to the hard disk adapter. */
        FdDrive *d = fdc_drive(s, s->dor & DOR_DRIVE_MASK);
        return d && d->dskchg ? DIR_DSKCHG : 0;
    }
    default:
        return 0xff; /* SRA/SRB exist only in PS/2 modes */
    }
}

static void fdc_port_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    FdcState *s = opaque;
    uint8_t v = (uint8_t)value;
    (void)size;
    switch (offset) {
    case REG_DOR: {
        uint8_t old = s->dor;
        s->dor = v;
        if (!(v & DOR_NRESET)) {
            fdc_soft_reset(s);
        } else if (!(old & DOR_NRESET)) {
            fdc_reset_done(s);
        }
        fdc_update_irq(s);
        break;
    }
    case REG_TDR:
        s->tdr = v & 3;
        break;
    case REG_MSR_DSR:
        if (v & DSR_SW_RESET) {
            /* Self-clearing reset (82078 datasheet, DSR "S/W RESET"). */
            fdc_soft_reset(s);
            s->dsr = v & 0x7f;
            fdc_reset_done(s);
        } else {
            s->dsr = v;
        }
        break;
    case REG_FIFO:
        if (s->dor & DOR_NRESET)
            fdc_fifo_write(s, v);
        break;
    case REG_DIR_CCR:
        s->dsr = (uint8_t)((s->dsr & ~DSR_RATE_MASK) | (v & DSR_RATE_MASK));
        break;
    }
}

static uint32_t fdc_dir_read(void *opaque, uint32_t offset, unsigned size)
{
    return fdc_port_read(opaque, REG_DIR_CCR, size);
}

static void fdc_ccr_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    fdc_port_write(opaque, REG_DIR_CCR, value, size);
}

static const PortOps fdc_ops = { .read = fdc_port_read, .write = fdc_port_write, .max_size = 1 };
static const PortOps fdc_dir_ops = { .read = fdc_dir_read, .write = fdc_ccr_write, .max_size = 1 };

static bool fdc_set_medium(FdDrive *d, BlockImage *img, bool readonly, GError **err)
{
    const FdGeometry *g = NULL;
    uint64_t size = 0;
    if (img) {
        size = block_size(img);
        g = geometry_for_size(size);
        if (!g) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                        "floppy image %s: %" PRIu64 " bytes is no floppy format (160K to 2.88M)",
                        block_filename(img), size);
            return false;
        }
    }
    if (d->img)
        block_close(d->img, NULL);
    d->img = img;
    d->img_size = size;
    if (g)
        d->geom = g;
    d->readonly = readonly || (img && block_is_read_only(img));
    d->dskchg = true;
    return true;
}

bool fdc_attach_drive(FdcState *s, unsigned unit, BlockImage *img, bool readonly, GError **err)
{
    if (unit >= FDC_MAX_DRIVES) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "floppy drive %u: only A: and B: exist", unit);
        return false;
    }
    FdDrive *d = &s->drive[unit];
    d->geom = &geometries[GEOM_1440K]; /* an empty drive is a 1.44M one */
    if (!fdc_set_medium(d, img, readonly, err))
        return false;
    d->present = true;
    d->cmos_type = d->geom->cmos_type;
    return true;
}

bool fdc_change_medium(FdcState *s, unsigned unit, BlockImage *img, bool readonly, GError **err)
{
    if (unit >= FDC_MAX_DRIVES || !s->drive[unit].present) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "there is no floppy drive %c:", 'A' + unit);
        return false;
    }
    FdDrive *d = &s->drive[unit];
    if (img) {
        const FdGeometry *g = geometry_for_size(block_size(img));
        /* A 3.5" drive takes no 5.25" disk and the other way round. */
        if (g && (g->cmos_type == 2) != (d->cmos_type == 2)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "floppy image %s: a %s disk does not fit drive %c:", block_filename(img),
                        g->name, 'A' + unit);
            return false;
        }
    }
    return fdc_set_medium(d, img, readonly, err);
}

uint8_t fdc_cmos_type(FdcState *s, unsigned unit)
{
    return unit < FDC_MAX_DRIVES && s->drive[unit].present ? s->drive[unit].cmos_type : 0;
}

/* ---- device and state ---- */

static void fdc_unrealize(Device *dev)
{
    FdcState *s = (FdcState *)dev;
    for (unsigned i = 0; i < FDC_MAX_DRIVES; i++)
        if (s->drive[i].img)
            block_close(s->drive[i].img, NULL);
}

static bool fdc_realize(Device *dev, GError **err)
{
    FdcState *s = (FdcState *)dev;
    s->vm = dev->vm;
    /* base+6 is the hard disk's alternate status port; leave it to the IDE model. */
    io_add(vm_io(s->vm), "fdc", (uint16_t)s->iobase, 6, &fdc_ops, s);
    io_add(vm_io(s->vm), "fdc-dir", (uint16_t)(s->iobase + 7), 1, &fdc_dir_ops, s);
    return true;
}

static void fdc_medium_id_of(const FdDrive *d, BlockImage *img, bool canonical, FdMediumId *id)
{
    memset(id, 0, sizeof(*id));
    id->present = d->present;
    id->cmos_type = d->cmos_type;
    if (!img)
        return;
    id->has_medium = true;
    id->readonly = d->readonly;
    id->size = d->img_size;
    g_autofree char *canon = canonical ? g_canonicalize_filename(block_filename(img), NULL) : NULL;
    const char *name = canonical ? canon : block_filename(img);
    g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(c, (const guchar *)name, (gssize)strlen(name));
    gsize len = sizeof(id->digest);
    g_checksum_get_digest(c, id->digest, &len);
    size_t n = strlen(name), keep = MIN(n, sizeof(id->name) - 1);
    memcpy(id->name, name + n - keep, keep);
}

static void fdc_medium_id(const FdDrive *d, FdMediumId *id)
{
    fdc_medium_id_of(d, d->img, false, id);
}

static void fdc_pre_save(void *state)
{
    FdcState *s = state;
    for (unsigned i = 0; i < FDC_MAX_DRIVES; i++)
        fdc_medium_id(&s->drive[i], &s->drive[i].saved);
}

/* The drives and media of the saved VM against this one's (the scratch copy still
 * holds the live drive fields, which are not in the stream). */
static bool fdc_check_drive(unsigned unit, const FdDrive *d, GError **err)
{
    const FdMediumId *w = &d->saved;
    FdMediumId have, below;
    fdc_medium_id(d, &have);
    /* A disk that continues on a qcow2 overlay over the saved image is the same disk:
     * the snapshot tree (engine/snaptree.h) reverts a running VM that way. */
    BlockImage *backing = d->img ? block_backing(d->img) : NULL;
    fdc_medium_id_of(d, backing, true, &below);
    if (backing && !memcmp(w->digest, below.digest, sizeof(w->digest)))
        memcpy(have.digest, below.digest, sizeof(have.digest));
    char letter = (char)('A' + unit);
    int wn = (int)strnlen((const char *)w->name, sizeof(w->name));
    if (w->present != have.present || (w->present && w->cmos_type != have.cmos_type)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "floppy drive %c: saved as %s (CMOS type %u), this VM has %s (CMOS type %u)", letter,
                    w->present ? "present" : "absent", w->cmos_type, have.present ? "one" : "none",
                    have.cmos_type);
        return false;
    }
    if (w->has_medium && !have.has_medium) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "floppy drive %c: the state was saved with image ...%.*s in it, but the drive is empty",
                    letter, wn, w->name);
        return false;
    }
    if (!w->has_medium && have.has_medium) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "floppy drive %c: the state was saved with the drive empty, but it holds %s", letter,
                    block_filename(d->img));
        return false;
    }
    if (w->has_medium && (memcmp(w->digest, have.digest, sizeof(w->digest)) || w->size != have.size ||
                          w->readonly != have.readonly)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "floppy drive %c: the state was saved with image ...%.*s (%" PRIu64 " bytes%s), not %s "
                    "(%" PRIu64 " bytes%s); insert the same image before loading",
                    letter, wn, w->name, w->size, w->readonly ? ", read-only" : "", block_filename(d->img),
                    have.size, have.readonly ? ", read-only" : "");
        return false;
    }
    return true;
}

/* Every index the phases use against its buffer, and an execution phase only on a
 * drive that exists (fdc_pio_done finds its geometry there). */
static bool fdc_check(const void *state, GError **err)
{
    const FdcState *s = state;
    for (unsigned i = 0; i < FDC_MAX_DRIVES; i++)
        if (!fdc_check_drive(i, &s->drive[i], err))
            return false;
    const char *bad = NULL;
    switch (s->phase) {
    case PH_COMMAND:
        if (s->cmd_pos && (s->cmd_pos >= s->cmd_len || fdc_param_count(s->cmd[0]) + 1 != (int)s->cmd_len))
            bad = "command bytes";
        break;
    case PH_RESULT:
        if (s->res_pos >= s->res_len)
            bad = "result bytes";
        break;
    case PH_EXEC_READ:
    case PH_EXEC_WRITE: {
        unsigned ds = s->cmd[1] & 3;
        const FdDrive *d = ds < FDC_MAX_DRIVES ? &s->drive[ds] : NULL;
        if (!d || !d->present)
            bad = "transfer drive";
        else if (s->data_pos >= s->data_len)
            bad = "transfer bytes";
        /* A write phase may meet a write-protected disk: the host can change the
         * medium while the guest is still sending bytes. */
        break;
    }
    }
    if (bad) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "phase %u with inconsistent %s", s->phase, bad);
        return false;
    }
    return true;
}

static void fdc_post_load(void *state)
{
    FdcState *s = state;
    s->irq_level = s->int_pending && (s->dor & DOR_DMA_GATE);
    irq_set(&s->irq, s->irq_level);
}

static const VmStateField fdc_medium_fields[] = {
    VMSTATE_BOOL(FdMediumId, present),
    VMSTATE_U8(FdMediumId, cmos_type),
    VMSTATE_BOOL(FdMediumId, has_medium),
    VMSTATE_BOOL(FdMediumId, readonly),
    VMSTATE_U64(FdMediumId, size),
    VMSTATE_BUFFER(FdMediumId, digest),
    VMSTATE_BUFFER(FdMediumId, name),
    VMSTATE_END,
};

static const VmStateDesc fdc_medium_vmsd = { .name = "fd-medium", .version = 1, .fields = fdc_medium_fields };

static const VmStateField fdc_drive_fields[] = {
    VMSTATE_STRUCT(FdDrive, saved, FdMediumId, &fdc_medium_vmsd),
    VMSTATE_BOOL(FdDrive, dskchg),
    VMSTATE_U8(FdDrive, pcn),
    VMSTATE_U8_RANGE(FdDrive, head, 0, 1),
    VMSTATE_U8(FdDrive, last_sector),
    VMSTATE_END,
};

static const VmStateDesc fdc_drive_vmsd = { .name = "fd-drive", .version = 1, .fields = fdc_drive_fields };

static const VmStateField fdc_fields[] = {
    VMSTATE_STRUCT_ARRAY(FdcState, drive, FDC_MAX_DRIVES, FdDrive, &fdc_drive_vmsd),
    VMSTATE_U8(FdcState, dor),
    VMSTATE_U8_RANGE(FdcState, tdr, 0, 3),
    VMSTATE_U8(FdcState, dsr),
    VMSTATE_U8_RANGE(FdcState, phase, PH_COMMAND, PH_RESULT),
    VMSTATE_U8_ARRAY(FdcState, cmd, 16),
    VMSTATE_U32_RANGE(FdcState, cmd_len, 0, 9),
    VMSTATE_U32_RANGE(FdcState, cmd_pos, 0, 9),
    VMSTATE_U8_ARRAY(FdcState, res, 16),
    VMSTATE_U32_RANGE(FdcState, res_len, 0, 10),
    VMSTATE_U32_RANGE(FdcState, res_pos, 0, 10),
    VMSTATE_BOOL(FdcState, int_pending),
    VMSTATE_U32_RANGE(FdcState, reset_sense, 0, 4),
    VMSTATE_BOOL(FdcState, seek_status_valid),
    VMSTATE_U8(FdcState, seek_st0),
    VMSTATE_U8_RANGE(FdcState, seek_busy, 0, 0x0f),
    VMSTATE_U8(FdcState, srt_hut),
    VMSTATE_U8(FdcState, hlt_nd),
    VMSTATE_U8_RANGE(FdcState, config, 0, 0x7f),
    VMSTATE_U8(FdcState, pretrk),
    VMSTATE_U8_RANGE(FdcState, perp, 0, 0x3f),
    VMSTATE_BOOL(FdcState, lock),
    VMSTATE_U8(FdcState, last_eot),
    VMSTATE_BUFFER(FdcState, data),
    VMSTATE_U32_RANGE(FdcState, data_len, 0, DATA_MAX),
    VMSTATE_U32_RANGE(FdcState, data_pos, 0, DATA_MAX),
    VMSTATE_U8(FdcState, xfer_opcode),
    VMSTATE_U8(FdcState, pio_st1),
    VMSTATE_U8(FdcState, pio_st2),
    VMSTATE_END,
};

static const VmStateDesc fdc_vmsd = {
    .name = "82078",
    .version = 1,
    .fields = fdc_fields,
    .pre_save = fdc_pre_save,
    .check = fdc_check,
    .post_load = fdc_post_load,
};

static const DeviceProp fdc_props[] = {
    { "iobase", DEVICE_PROP_U32, offsetof(FdcState, iobase), "I/O port base", "0x3f0", 0, 0xfff8 },
    { "dma", DEVICE_PROP_U32, offsetof(FdcState, dma_channel), "DMA channel", "2", 0, 7 },
    { NULL },
};

/* Snapshots: the disks in the drives (QEMU's names floppy0, floppy1). */
static void fdc_for_each_image(Device *dev, DeviceImageFn fn, void *opaque)
{
    FdcState *s = (FdcState *)dev;
    for (unsigned u = 0; u < FDC_MAX_DRIVES; u++) {
        FdDrive *d = &s->drive[u];
        if (!d->present || !d->img)
            continue;
        char name[16];
        g_snprintf(name, sizeof(name), "floppy%u", u);
        fn(opaque, name, d->img, !d->readonly);
    }
}

/* QMP eject / blockdev-change-medium for floppy0 and floppy1 (QEMU's names). */
static DeviceMediaResult fdc_change_media(Device *dev, const char *drive, const char *filename,
                                          const char *format, bool read_only, GError **err)
{
    FdcState *s = (FdcState *)dev;
    unsigned unit;
    if (!strcmp(drive, "floppy0"))
        unit = 0;
    else if (!strcmp(drive, "floppy1"))
        unit = 1;
    else
        return DEVICE_MEDIA_NO_DRIVE;
    if (!s->drive[unit].present) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "Device '%s' not found (no drive %c:)",
                    drive, 'A' + unit);
        return DEVICE_MEDIA_FAILED;
    }
    BlockImage *img = NULL;
    bool ro = read_only;
    FdDrive *d = &s->drive[unit];
    GStatBuf now, want;
    if (filename && d->img && g_stat(block_filename(d->img), &now) == 0 && g_stat(filename, &want) == 0 &&
        now.st_dev == want.st_dev && now.st_ino == want.st_ino) {
        /* The same disk again: the drive lets go of it first, or its own lock would
         * refuse the new open. */
        if (!fdc_change_medium(s, unit, NULL, false, err))
            return DEVICE_MEDIA_FAILED;
    }
    if (filename) {
        /* A file this user cannot write goes in write-protected, as at start-up. */
        DriveConfig dc = { .file = (char *)filename, .format = (char *)format, .readonly = read_only,
                           .iface = DRIVE_IF_FLOPPY };
        VmConfig none = { 0 };
        img = drive_open(&none, &dc, true, &ro, err);
        if (!img)
            return DEVICE_MEDIA_FAILED;
    }
    if (!fdc_change_medium(s, unit, img, ro, err)) {
        if (img)
            block_close(img, NULL);
        return DEVICE_MEDIA_FAILED;
    }
    return DEVICE_MEDIA_CHANGED;
}

/* Snapshot trees: the disk in floppy<unit> continues on another image of its size,
 * without the disk-change line a medium change raises. */
static bool fdc_swap_image(Device *dev, const char *drive, BlockImage *img, BlockImage **old)
{
    FdcState *s = (FdcState *)dev;
    unsigned unit;
    char tail;
    if (sscanf(drive, "floppy%u%c", &unit, &tail) != 1 || unit >= FDC_MAX_DRIVES || !s->drive[unit].present)
        return false;
    FdDrive *d = &s->drive[unit];
    *old = d->img;
    d->img = img;
    return true;
}

static const DeviceClass fdc_class = {
    .name = "isa-fdc",
    .description = "82078 floppy disk controller with two drives",
    .instance_size = sizeof(FdcState),
    .props = fdc_props,
    .vmsd = &fdc_vmsd,
    .realize = fdc_realize,
    .reset = fdc_hw_reset,
    .unrealize = fdc_unrealize,
    .for_each_image = fdc_for_each_image,
    .change_media = fdc_change_media,
    .swap_image = fdc_swap_image,
};

__attribute__((constructor)) static void fdc_register(void)
{
    device_class_register(&fdc_class);
}

FdcState *fdc_new(Vm *vm, uint16_t base, const IrqLine *irq, IsaDma *dma, unsigned dma_channel)
{
    FdcState *s = (FdcState *)device_new(vm, fdc_class.name, "fdc", NULL);
    g_assert(s);
    s->iobase = base;
    s->dma_channel = dma_channel;
    s->dma = dma;
    if (irq)
        s->irq = *irq;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
