/* SPDX-License-Identifier: GPL-2.0-or-later */
/* USB HID devices: usb-tablet (absolute pointer), usb-mouse and usb-kbd (boot protocol
 * mouse and keyboard). One model with three report formats: Device Class Definition for
 * HID 1.11 ("HID" below) for the requests and descriptors, its appendix B for the boot
 * reports, and the HID Usage Tables 1.12 for the keyboard usages.
 *
 * Input from the engine (engine/input.h) becomes reports in a small queue the guest's
 * interrupt-IN polls drain; an empty queue answers NAK, so nothing happens between
 * events. The vendor and product IDs are QEMU's (0627:0001), which guests' drivers and
 * tools already know. */
#include "hw/usb/usb.h"
#include "engine/input.h"

#include <string.h>

#define HID_QUEUE 16
#define REPORT_MAX 8

typedef enum {
    HID_TABLET,
    HID_MOUSE,
    HID_KEYBOARD,
} HidKind;

typedef struct UsbHidState {
    UsbDevice usb;
    /* Wiring. */
    HidKind kind;
    VmInputHandler *input;
    /* Guest-visible state. */
    uint8_t protocol;          /* 0 boot, 1 report (HID 7.2.6) */
    uint8_t idle;              /* in 4 ms units; 0: report only on change (HID 7.2.4) */
    uint8_t leds;              /* keyboard output report */
    uint8_t buttons;
    int32_t abs_x, abs_y;      /* the tablet's position */
    uint8_t keys_down[32];     /* keyboard usages held, one bit each */
    uint8_t queue[HID_QUEUE * REPORT_MAX];
    uint8_t qhead, qcount;
    uint8_t last_sent[REPORT_MAX];
    int64_t last_sent_ns;
} UsbHidState;

/* ---- descriptors ---- */

/* Report descriptors (HID 6.2.2; items as tag, data). */
static const uint8_t tablet_report[] = {
    0x05, 0x01,       /* Usage Page (Generic Desktop) */
    0x09, 0x02,       /* Usage (Mouse) */
    0xa1, 0x01,       /* Collection (Application) */
    0x09, 0x01,       /*   Usage (Pointer) */
    0xa1, 0x00,       /*   Collection (Physical) */
    0x05, 0x09,       /*     Usage Page (Button) */
    0x19, 0x01,       /*     Usage Minimum (1) */
    0x29, 0x05,       /*     Usage Maximum (5) */
    0x15, 0x00,       /*     Logical Minimum (0) */
    0x25, 0x01,       /*     Logical Maximum (1) */
    0x95, 0x05,       /*     Report Count (5) */
    0x75, 0x01,       /*     Report Size (1) */
    0x81, 0x02,       /*     Input (Data, Variable, Absolute): the buttons */
    0x95, 0x01,       /*     Report Count (1) */
    0x75, 0x03,       /*     Report Size (3) */
    0x81, 0x01,       /*     Input (Constant): padding to a byte */
    0x05, 0x01,       /*     Usage Page (Generic Desktop) */
    0x09, 0x30,       /*     Usage (X) */
    0x09, 0x31,       /*     Usage (Y) */
    0x15, 0x00,       /*     Logical Minimum (0) */
    0x26, 0xff, 0x7f, /*     Logical Maximum (32767) */
    0x35, 0x00,       /*     Physical Minimum (0) */
    0x46, 0xff, 0x7f, /*     Physical Maximum (32767) */
    0x75, 0x10,       /*     Report Size (16) */
    0x95, 0x02,       /*     Report Count (2) */
    0x81, 0x02,       /*     Input (Data, Variable, Absolute): the position */
    0x09, 0x38,       /*     Usage (Wheel) */
    0x15, 0x81,       /*     Logical Minimum (-127) */
    0x25, 0x7f,       /*     Logical Maximum (127) */
    0x35, 0x00,       /*     Physical Minimum (0) */
    0x45, 0x00,       /*     Physical Maximum (0) */
    0x75, 0x08,       /*     Report Size (8) */
    0x95, 0x01,       /*     Report Count (1) */
    0x81, 0x06,       /*     Input (Data, Variable, Relative) */
    0xc0,             /*   End Collection */
    0xc0,             /* End Collection */
};

/* The boot mouse report (HID B.2) and a wheel byte after it. */
static const uint8_t mouse_report[] = {
    0x05, 0x01,       /* Usage Page (Generic Desktop) */
    0x09, 0x02,       /* Usage (Mouse) */
    0xa1, 0x01,       /* Collection (Application) */
    0x09, 0x01,       /*   Usage (Pointer) */
    0xa1, 0x00,       /*   Collection (Physical) */
    0x05, 0x09,       /*     Usage Page (Button) */
    0x19, 0x01,       /*     Usage Minimum (1) */
    0x29, 0x05,       /*     Usage Maximum (5) */
    0x15, 0x00,       /*     Logical Minimum (0) */
    0x25, 0x01,       /*     Logical Maximum (1) */
    0x95, 0x05,       /*     Report Count (5) */
    0x75, 0x01,       /*     Report Size (1) */
    0x81, 0x02,       /*     Input (Data, Variable, Absolute) */
    0x95, 0x01,       /*     Report Count (1) */
    0x75, 0x03,       /*     Report Size (3) */
    0x81, 0x01,       /*     Input (Constant) */
    0x05, 0x01,       /*     Usage Page (Generic Desktop) */
    0x09, 0x30,       /*     Usage (X) */
    0x09, 0x31,       /*     Usage (Y) */
    0x09, 0x38,       /*     Usage (Wheel) */
    0x15, 0x81,       /*     Logical Minimum (-127) */
    0x25, 0x7f,       /*     Logical Maximum (127) */
    0x75, 0x08,       /*     Report Size (8) */
    0x95, 0x03,       /*     Report Count (3) */
    0x81, 0x06,       /*     Input (Data, Variable, Relative) */
    0xc0,             /*   End Collection */
    0xc0,             /* End Collection */
};

/* The boot keyboard report (HID B.1): modifiers, a reserved byte, six key usages; and
 * the five LEDs as the output report. */
static const uint8_t kbd_report[] = {
    0x05, 0x01,       /* Usage Page (Generic Desktop) */
    0x09, 0x06,       /* Usage (Keyboard) */
    0xa1, 0x01,       /* Collection (Application) */
    0x05, 0x07,       /*   Usage Page (Keyboard) */
    0x19, 0xe0,       /*   Usage Minimum (Left Control) */
    0x29, 0xe7,       /*   Usage Maximum (Right GUI) */
    0x15, 0x00,       /*   Logical Minimum (0) */
    0x25, 0x01,       /*   Logical Maximum (1) */
    0x75, 0x01,       /*   Report Size (1) */
    0x95, 0x08,       /*   Report Count (8) */
    0x81, 0x02,       /*   Input (Data, Variable, Absolute): modifiers */
    0x95, 0x01,       /*   Report Count (1) */
    0x75, 0x08,       /*   Report Size (8) */
    0x81, 0x01,       /*   Input (Constant): reserved */
    0x95, 0x05,       /*   Report Count (5) */
    0x75, 0x01,       /*   Report Size (1) */
    0x05, 0x08,       /*   Usage Page (LEDs) */
    0x19, 0x01,       /*   Usage Minimum (Num Lock) */
    0x29, 0x05,       /*   Usage Maximum (Kana) */
    0x91, 0x02,       /*   Output (Data, Variable, Absolute) */
    0x95, 0x01,       /*   Report Count (1) */
    0x75, 0x03,       /*   Report Size (3) */
    0x91, 0x01,       /*   Output (Constant) */
    0x95, 0x06,       /*   Report Count (6) */
    0x75, 0x08,       /*   Report Size (8) */
    0x15, 0x00,       /*   Logical Minimum (0) */
    0x26, 0xff, 0x00, /*   Logical Maximum (255) */
    0x05, 0x07,       /*   Usage Page (Keyboard) */
    0x19, 0x00,       /*   Usage Minimum (0) */
    0x29, 0xff,       /*   Usage Maximum (255) */
    0x81, 0x00,       /*   Input (Data, Array): the keys */
    0xc0,             /* End Collection */
};

/* Device descriptor (USB 2.0, 9.6.1): USB 1.1, full speed, 8-byte default pipe. */
#define HID_DEVICE_DESC                                                                      \
    18, USB_DT_DEVICE, 0x10, 0x01, 0, 0, 0, 8, 0x27, 0x06, 0x01, 0x00, 0x00, 0x00, 1, 2, 3, 1

/* One configuration: configuration, interface, HID and endpoint descriptors (USB 2.0
 * 9.6.3-9.6.6, HID 6.2.1). Bus powered, remote wakeup, 100 mA; endpoint 1 IN,
 * interrupt, 8 bytes, polled every 10 ms. */
#define HID_CONFIG_DESC(subclass, protocol, report)                                          \
    9, USB_DT_CONFIG, 34, 0, 1, 1, 4, 0xa0, 50,                                                 \
    9, USB_DT_INTERFACE, 0, 0, 1, 3, (subclass), (protocol), 0,                                 \
    9, 0x21, 0x11, 0x01, 0, 1, 0x22, sizeof(report) & 0xff, sizeof(report) >> 8,                \
    7, USB_DT_ENDPOINT, 0x81, 3, 8, 0, 10

static const uint8_t hid_device_desc[] = { HID_DEVICE_DESC };
static const uint8_t tablet_config[] = { HID_CONFIG_DESC(0, 0, tablet_report) };
static const uint8_t mouse_config[] = { HID_CONFIG_DESC(1, 2, mouse_report) };
static const uint8_t kbd_config[] = { HID_CONFIG_DESC(1, 1, kbd_report) };

static const char *const tablet_strings[] = { "QEMU", "QEMU USB Tablet", "28754", "HID Tablet" };
static const char *const mouse_strings[] = { "QEMU", "QEMU USB Mouse", "89126", "HID Mouse" };
static const char *const kbd_strings[] = { "QEMU", "QEMU USB Keyboard", "68284", "HID Keyboard" };

static const VmInputOps tablet_input, mouse_input, kbd_input;

/* What differs between the three devices; everything else is shared. */
typedef struct HidModel {
    UsbDescriptors desc;
    const uint8_t *report_desc;
    size_t report_desc_len;
    size_t report_len;          /* report protocol, without a report id */
    const VmInputOps *input;
} HidModel;

#define HID_MODEL(config, strings, report, len, in)                                             { { hid_device_desc, (config), sizeof(config), (strings), G_N_ELEMENTS(strings) },            (report), sizeof(report), (len), (in) }

static const HidModel hid_models[] = {
    [HID_TABLET] = HID_MODEL(tablet_config, tablet_strings, tablet_report, 6, &tablet_input),
    [HID_MOUSE] = HID_MODEL(mouse_config, mouse_strings, mouse_report, 4, &mouse_input),
    [HID_KEYBOARD] = HID_MODEL(kbd_config, kbd_strings, kbd_report, 8, &kbd_input),
};

/* ---- reports ---- */

static void queue_push(UsbHidState *s, const uint8_t *report)
{
    if (s->qcount == HID_QUEUE) {
        /* Full: a tablet's newest position replaces the last one queued; other
         * reports are dropped (the guest is not reading them). */
        if (s->kind != HID_TABLET) {
            VLOG(LOG_INPUT, "%s: report dropped, the guest is not polling", s->usb.dev.id);
            return;
        }
        s->qcount--;
    }
    unsigned slot = (s->qhead + s->qcount) % HID_QUEUE;
    memcpy(&s->queue[slot * REPORT_MAX], report, REPORT_MAX);
    s->qcount++;
    usb_device_wakeup(&s->usb);
}

/* The report of the device's state now, with the given motion (GET_REPORT uses none). */
static void build_report(UsbHidState *s, int dx, int dy, int dz, uint8_t *r)
{
    memset(r, 0, REPORT_MAX);
    switch (s->kind) {
    case HID_TABLET:
        r[0] = s->buttons;
        r[1] = s->abs_x & 0xff;
        r[2] = (uint8_t)(s->abs_x >> 8);
        r[3] = s->abs_y & 0xff;
        r[4] = (uint8_t)(s->abs_y >> 8);
        r[5] = (uint8_t)(int8_t)-dz; /* HID wheel: positive is away from the user */
        break;
    case HID_MOUSE:
        r[0] = s->buttons;
        r[1] = (uint8_t)(int8_t)dx;
        r[2] = (uint8_t)(int8_t)dy;
        r[3] = (uint8_t)(int8_t)-dz;
        break;
    case HID_KEYBOARD: {
        unsigned n = 0;
        r[0] = s->keys_down[0xe0 / 8];
        for (unsigned u = 1; u < 0xe0; u++) {
            if (!((s->keys_down[u / 8] >> (u % 8)) & 1))
                continue;
            if (n == 6) {
                /* More than six keys: ErrorRollOver in every slot (HID appendix C). */
                memset(r + 2, 0x01, 6);
                break;
            }
            r[2 + n++] = (uint8_t)u;
        }
        break;
    }
    }
}

static void tablet_event(void *opaque, int x, int y, int dz, unsigned buttons)
{
    UsbHidState *s = opaque;
    if (x != VM_INPUT_ABS_KEEP)
        s->abs_x = CLAMP(x, 0, VM_INPUT_ABS_MAX);
    if (y != VM_INPUT_ABS_KEEP)
        s->abs_y = CLAMP(y, 0, VM_INPUT_ABS_MAX);
    s->buttons = buttons & 0x1f;
    uint8_t r[REPORT_MAX];
    build_report(s, 0, 0, CLAMP(dz, -127, 127), r);
    queue_push(s, r);
}

static void mouse_event(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    UsbHidState *s = opaque;
    s->buttons = buttons & 0x1f;
    /* Motion beyond a report's -127..127 goes in several reports. */
    do {
        int x = CLAMP(dx, -127, 127), y = CLAMP(dy, -127, 127), z = CLAMP(dz, -127, 127);
        uint8_t r[REPORT_MAX];
        build_report(s, x, y, z, r);
        queue_push(s, r);
        dx -= x;
        dy -= y;
        dz -= z;
    } while ((dx || dy || dz) && s->qcount < HID_QUEUE);
}

/* Set 1 make codes to keyboard usages (HID Usage Tables, chapter 10), index the code. */
static const uint8_t set1_usage[0x80] = {
    [0x01] = 0x29, [0x02] = 0x1e, [0x03] = 0x1f, [0x04] = 0x20, [0x05] = 0x21, [0x06] = 0x22,
    [0x07] = 0x23, [0x08] = 0x24, [0x09] = 0x25, [0x0a] = 0x26, [0x0b] = 0x27, [0x0c] = 0x2d,
    [0x0d] = 0x2e, [0x0e] = 0x2a, [0x0f] = 0x2b, [0x10] = 0x14, [0x11] = 0x1a, [0x12] = 0x08,
    [0x13] = 0x15, [0x14] = 0x17, [0x15] = 0x1c, [0x16] = 0x18, [0x17] = 0x0c, [0x18] = 0x12,
    [0x19] = 0x13, [0x1a] = 0x2f, [0x1b] = 0x30, [0x1c] = 0x28, [0x1d] = 0xe0, [0x1e] = 0x04,
    [0x1f] = 0x16, [0x20] = 0x07, [0x21] = 0x09, [0x22] = 0x0a, [0x23] = 0x0b, [0x24] = 0x0d,
    [0x25] = 0x0e, [0x26] = 0x0f, [0x27] = 0x33, [0x28] = 0x34, [0x29] = 0x35, [0x2a] = 0xe1,
    [0x2b] = 0x31, [0x2c] = 0x1d, [0x2d] = 0x1b, [0x2e] = 0x06, [0x2f] = 0x19, [0x30] = 0x05,
    [0x31] = 0x11, [0x32] = 0x10, [0x33] = 0x36, [0x34] = 0x37, [0x35] = 0x38, [0x36] = 0xe5,
    [0x37] = 0x55, [0x38] = 0xe2, [0x39] = 0x2c, [0x3a] = 0x39, [0x3b] = 0x3a, [0x3c] = 0x3b,
    [0x3d] = 0x3c, [0x3e] = 0x3d, [0x3f] = 0x3e, [0x40] = 0x3f, [0x41] = 0x40, [0x42] = 0x41,
    [0x43] = 0x42, [0x44] = 0x43, [0x45] = 0x53, [0x46] = 0x47, [0x47] = 0x5f, [0x48] = 0x60,
    [0x49] = 0x61, [0x4a] = 0x56, [0x4b] = 0x5c, [0x4c] = 0x5d, [0x4d] = 0x5e, [0x4e] = 0x57,
    [0x4f] = 0x59, [0x50] = 0x5a, [0x51] = 0x5b, [0x52] = 0x62, [0x53] = 0x63, [0x54] = 0x46,
    [0x56] = 0x64, [0x57] = 0x44, [0x58] = 0x45, [0x59] = 0x67, [0x64] = 0x68, [0x65] = 0x69,
    [0x66] = 0x6a, [0x67] = 0x6b, [0x68] = 0x6c, [0x69] = 0x6d, [0x6a] = 0x6e, [0x6b] = 0x6f,
    [0x6c] = 0x70, [0x6d] = 0x71, [0x6e] = 0x72, [0x70] = 0x88, [0x71] = 0x91, [0x72] = 0x90,
    [0x73] = 0x87, [0x76] = 0x73, [0x79] = 0x8a, [0x7b] = 0x8b, [0x7d] = 0x89, [0x7e] = 0x85,
};

/* The 0xE0-prefixed keys that have a keyboard usage (media keys are on the consumer
 * page, which a boot keyboard does not report). */
static uint8_t extended_usage(uint16_t code)
{
    static const struct { uint16_t code; uint8_t usage; } map[] = {
        { 0xe01c, 0x58 }, { 0xe01d, 0xe4 }, { 0xe020, 0x7f }, { 0xe02e, 0x81 }, { 0xe030, 0x80 },
        { 0xe035, 0x54 }, { 0xe037, 0x46 }, { 0xe038, 0xe6 }, { 0xe046, 0x48 }, { 0xe047, 0x4a },
        { 0xe048, 0x52 }, { 0xe049, 0x4b }, { 0xe04b, 0x50 }, { 0xe04d, 0x4f }, { 0xe04f, 0x4d },
        { 0xe050, 0x51 }, { 0xe051, 0x4e }, { 0xe052, 0x49 }, { 0xe053, 0x4c }, { 0xe05b, 0xe3 },
        { 0xe05c, 0xe7 }, { 0xe05d, 0x65 }, { 0xe05e, 0x66 }, { VM_KEY_PAUSE, 0x48 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if (map[i].code == code)
            return map[i].usage;
    return 0;
}

static void kbd_event(void *opaque, uint16_t code, bool down)
{
    UsbHidState *s = opaque;
    uint8_t usage = code < 0x80 ? set1_usage[code] : extended_usage(code);
    if (!usage) {
        VLOG(LOG_INPUT, "%s: key 0x%04x has no keyboard usage", s->usb.dev.id, code);
        return;
    }
    uint8_t bit = (uint8_t)(1u << (usage % 8));
    bool was = s->keys_down[usage / 8] & bit;
    if (was == down)
        return;
    s->keys_down[usage / 8] ^= bit;
    uint8_t r[REPORT_MAX];
    build_report(s, 0, 0, 0, r);
    queue_push(s, r);
}

static const VmInputOps tablet_input = { .abs = tablet_event };
static const VmInputOps mouse_input = { .pointer = mouse_event };
static const VmInputOps kbd_input = { .key = kbd_event };

/* ---- transfers ---- */

static size_t report_size(const UsbHidState *s)
{
    /* The boot mouse report is its first three bytes (HID B.2). */
    return s->kind == HID_MOUSE && s->protocol == 0 ? 3 : hid_models[s->kind].report_len;
}

static void hid_data(UsbDevice *d, UsbPacket *p)
{
    UsbHidState *s = (UsbHidState *)d;
    if (p->pid != USB_TOKEN_IN || p->ep != 1) {
        p->result = USB_RET_STALL;
        return;
    }
    int64_t now = vm_clock_ns(d->dev.vm);
    const uint8_t *r;
    if (s->qcount) {
        r = &s->queue[s->qhead * REPORT_MAX];
        memcpy(s->last_sent, r, REPORT_MAX);
        s->qhead = (s->qhead + 1) % HID_QUEUE;
        s->qcount--;
    } else if (s->idle && now - s->last_sent_ns >= (int64_t)s->idle * 4000000) {
        /* The idle rate: the unchanged report again (HID 7.2.4); relative motion is
         * not repeated. */
        if (s->kind == HID_MOUSE)
            memset(s->last_sent + 1, 0, REPORT_MAX - 1);
        if (s->kind == HID_TABLET)
            s->last_sent[5] = 0;
        r = s->last_sent;
    } else {
        p->result = USB_RET_NAK;
        return;
    }
    s->last_sent_ns = now;
    size_t n = MIN(report_size(s), p->max_len);
    VLOG(LOG_INPUT, "%s: report %02x %02x %02x %02x %02x %02x %02x %02x", d->dev.id, r[0], r[1], r[2], r[3],
         r[4], r[5], r[6], r[7]);
    memcpy(p->data, r, n);
    p->len = n;
    p->result = USB_RET_SUCCESS;
}

/* HID class requests (HID 7.1 and 7.2). */
enum {
    HID_GET_REPORT = 0x01,
    HID_GET_IDLE = 0x02,
    HID_GET_PROTOCOL = 0x03,
    HID_SET_REPORT = 0x09,
    HID_SET_IDLE = 0x0a,
    HID_SET_PROTOCOL = 0x0b,
};

static int hid_control(UsbDevice *d, const UsbSetup *st, uint8_t *data)
{
    UsbHidState *s = (UsbHidState *)d;
    if (st->index != 0)
        return -1; /* the one interface */
    switch (st->type << 8 | st->request) {
    case 0x8100 | 6: /* GET_DESCRIPTOR, interface recipient: HID or report descriptor */
        if (st->value >> 8 == 0x22) {
            const HidModel *m = &hid_models[s->kind];
            size_t n = MIN(m->report_desc_len, (size_t)st->length);
            memcpy(data, m->report_desc, n);
            return (int)n;
        }
        if (st->value >> 8 == 0x21) {
            size_t n = MIN((size_t)9, (size_t)st->length);
            memcpy(data, d->desc->config + 18, n);
            return (int)n;
        }
        return -1;
    case 0xa100 | HID_GET_REPORT: {
        if (st->value >> 8 != 1) /* input reports only */
            return -1;
        uint8_t r[REPORT_MAX];
        build_report(s, 0, 0, 0, r);
        size_t n = MIN(report_size(s), (size_t)st->length);
        memcpy(data, r, n);
        return (int)n;
    }
    case 0xa100 | HID_GET_IDLE:
        if (st->length < 1)
            return -1;
        data[0] = s->idle;
        return 1;
    case 0xa100 | HID_GET_PROTOCOL:
        if (st->length < 1)
            return -1;
        data[0] = s->protocol;
        return 1;
    case 0x2100 | HID_SET_REPORT:
        /* The keyboard's LEDs, its one output report (HID B.1). */
        if (s->kind != HID_KEYBOARD || st->value >> 8 != 2 || st->length < 1)
            return -1;
        s->leds = data[0] & 0x1f;
        return 0;
    case 0x2100 | HID_SET_IDLE:
        s->idle = (uint8_t)(st->value >> 8);
        s->last_sent_ns = vm_clock_ns(d->dev.vm);
        return 0;
    case 0x2100 | HID_SET_PROTOCOL:
        if (st->value > 1)
            return -1;
        s->protocol = (uint8_t)st->value;
        return 0;
    default:
        return -1;
    }
}

static const UsbDeviceOps hid_ops = { .control = hid_control, .data = hid_data };

/* ---- the device object ---- */

static void hid_reset(Device *dev)
{
    UsbHidState *s = (UsbHidState *)dev;
    usb_device_reset_core(&s->usb);
    /* Report protocol after reset (HID 7.2.6); the held keys and buttons stay, as they
     * are the host's state, but nothing queued survives. */
    s->protocol = 1;
    s->idle = 0;
    s->leds = 0;
    s->qhead = s->qcount = 0;
    memset(s->queue, 0, sizeof(s->queue));
    memset(s->last_sent, 0, sizeof(s->last_sent));
    s->last_sent_ns = 0;
}

static bool hid_realize_kind(Device *dev, HidKind kind, GError **err)
{
    UsbHidState *s = (UsbHidState *)dev;
    s->kind = kind;
    s->usb.ops = &hid_ops;
    s->usb.desc = &hid_models[kind].desc;
    s->usb.speed = USB_SPEED_FULL;
    if (!usb_device_attach(&s->usb, err))
        return false;
    s->input = vm_input_handler_add(dev->vm, hid_models[kind].input, s);
    return true;
}

static bool tablet_realize(Device *dev, GError **err) { return hid_realize_kind(dev, HID_TABLET, err); }
static bool mouse_realize(Device *dev, GError **err) { return hid_realize_kind(dev, HID_MOUSE, err); }
static bool kbd_realize(Device *dev, GError **err) { return hid_realize_kind(dev, HID_KEYBOARD, err); }

static void hid_unrealize(Device *dev)
{
    UsbHidState *s = (UsbHidState *)dev;
    vm_input_handler_remove(dev->vm, s->input);
    usb_device_detach(&s->usb);
}

static bool hid_check(const void *state, GError **err)
{
    const UsbHidState *s = state;
    if (!usb_device_state_check(&s->usb, err))
        return false;
    if (s->usb.config > 1 || s->protocol > 1 || s->qhead >= HID_QUEUE || s->qcount > HID_QUEUE ||
        s->abs_x < 0 || s->abs_x > VM_INPUT_ABS_MAX || s->abs_y < 0 || s->abs_y > VM_INPUT_ABS_MAX) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "USB HID: configuration %u, protocol %u, queue %u+%u or position %d,%d out of range",
                    s->usb.config, s->protocol, s->qhead, s->qcount, s->abs_x, s->abs_y);
        return false;
    }
    return true;
}

static const VmStateField hid_fields[] = {
    VMSTATE_STRUCT(UsbHidState, usb, UsbDevice, &usb_device_vmsd),
    VMSTATE_U8(UsbHidState, protocol),
    VMSTATE_U8(UsbHidState, idle),
    VMSTATE_U8(UsbHidState, leds),
    VMSTATE_U8(UsbHidState, buttons),
    VMSTATE_I32(UsbHidState, abs_x),
    VMSTATE_I32(UsbHidState, abs_y),
    VMSTATE_BUFFER(UsbHidState, keys_down),
    VMSTATE_BUFFER(UsbHidState, queue),
    VMSTATE_U8(UsbHidState, qhead),
    VMSTATE_U8(UsbHidState, qcount),
    VMSTATE_BUFFER(UsbHidState, last_sent),
    VMSTATE_I64(UsbHidState, last_sent_ns),
    VMSTATE_END,
};

static const VmStateDesc hid_vmsd = {
    .name = "usb-hid",
    .version = 1,
    .fields = hid_fields,
    .check = hid_check,
};

static const DeviceProp hid_props[] = {
    USB_DEVICE_PROPS(UsbHidState),
    { NULL },
};

#define HID_CLASS(cname, text, realize_fn)                                                  \
    { .name = (cname), .description = (text), .instance_size = sizeof(UsbHidState),          \
      .user_creatable = true, .props = hid_props, .vmsd = &hid_vmsd, .realize = (realize_fn),  \
      .reset = hid_reset, .unrealize = hid_unrealize, .unplug = usb_device_unplug,  \
      .bus_place = usb_device_bus_place }

static const DeviceClass hid_classes[] = {
    HID_CLASS("usb-tablet", "USB tablet: an absolute pointer, so the host pointer needs no grab",
              tablet_realize),
    HID_CLASS("usb-mouse", "USB mouse (HID boot protocol, wheel)", mouse_realize),
    HID_CLASS("usb-kbd", "USB keyboard (HID boot protocol)", kbd_realize),
};

__attribute__((constructor)) static void hid_register(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(hid_classes); i++)
        device_class_register(&hid_classes[i]);
}
