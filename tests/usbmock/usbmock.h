/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Scripted host USB devices for usb-host tests, without hardware: umockdev's testbed
 * holds them in its fake sysfs and an ioctl handler per device plays the kernel's usbfs
 * (claim, driver disconnect/connect, URB submit/reap/discard):
 * - a full-speed HID boot keyboard at /dev/bus/usb/001/002 (16c0:27db): control
 *   requests answered from its descriptors, interrupt IN URBs with the key reports
 *   queued here;
 * - with USBMOCK_STORAGE, a full-speed bulk-only mass-storage disk at 001/003
 *   (16c0:27dc, USB MSC BOT 1.0 with SCSI INQUIRY, READ CAPACITY(10), READ(10),
 *   WRITE(10) and the few others Linux sends) on 4 MiB in memory, byte i starting as
 *   (i * 37 + (i >> 8)) & 0xff;
 * - with USBMOCK_SPEAKER, a full-speed USB Audio Class 1.0 speaker at 001/004
 *   (16c0:27dd): an AudioControl interface 0 and an AudioStreaming interface 1 whose
 *   alternate setting 1 has an isochronous OUT endpoint 0x01 of 192 bytes (48 kHz,
 *   16-bit stereo PCM: 1 ms of sound a packet); the bytes of the packets it takes while
 *   setting 1 is selected are kept for the test (usbmock_played). It takes URBs of one
 *   packet (what usb-host sends) and cannot write per-packet results back (umockdev
 *   resolves a URB at its fixed size, without the packet descriptors after it).
 *
 * The process that creates the mock must run under umockdev's preload library
 * (umockdev-wrapper) for libusb in it to see the device; a child started with the
 * process's environment (LD_PRELOAD, UMOCKDEV_DIR) sees it too, its ioctls answered
 * here through umockdev's socket. The handler runs on umockdev's own thread: every
 * function below may be called from any thread. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define USBMOCK_VENDOR 0x16c0
#define USBMOCK_PRODUCT 0x27db
#define USBMOCK_PRODUCT_NAME "Mock USB Keyboard"
#define USBMOCK_STORAGE_PRODUCT 0x27dc
#define USBMOCK_DISK_SIZE (4u << 20)
#define USBMOCK_SPEAKER_PRODUCT 0x27dd
#define USBMOCK_SPEAKER_PACKET 192

typedef enum { USBMOCK_KEYBOARD = 1, USBMOCK_STORAGE = 2, USBMOCK_SPEAKER = 4 } UsbMockDevice;

typedef struct UsbMock UsbMock;

/* devices: any of USBMOCK_KEYBOARD | USBMOCK_STORAGE | USBMOCK_SPEAKER. */
UsbMock *usbmock_new(unsigned devices);
void usbmock_free(UsbMock *m);
/* A key press and release (HID usage, 0x04 'a') queued as two boot-protocol reports. */
void usbmock_key(UsbMock *m, uint8_t usage);
/* The device arrives after the start (it was not in usbmock_new's devices, or was
 * unplugged): added to sysfs with an "add" uevent, as the kernel announces a new device. */
void usbmock_plug(UsbMock *m, UsbMockDevice which);
/* The device leaves: removed from sysfs with a "remove" uevent; its URBs fail. */
void usbmock_unplug(UsbMock *m, UsbMockDevice which);
/* Another program holds the keyboard's interface: claiming it fails with EBUSY. */
void usbmock_set_busy(UsbMock *m, bool busy);
/* The storage mock's disk now (USBMOCK_DISK_SIZE bytes). */
GBytes *usbmock_disk(UsbMock *m);
/* The speaker: the bytes of the isochronous packets it took, in order of arrival. */
GBytes *usbmock_played(UsbMock *m);

typedef struct UsbMockStats {
    int driver_bound;      /* 1: the host's usbhid driver holds interface 0 */
    int disconnects, connects; /* driver detach/reattach requests */
    int claimed;           /* interface 0 claimed through usbfs */
    int control_requests;  /* control URBs answered */
    int reports_sent;      /* interrupt IN URBs completed with a report */
    int set_idle, get_report_desc;
    int commands, blocks_read, blocks_written; /* storage: SCSI commands, 512-byte blocks */
    int alt_setting;       /* speaker: interface 1's alternate setting (SETINTERFACE) */
    int set_interfaces;    /* speaker: SETINTERFACE requests */
    int iso_urbs, iso_packets; /* speaker: isochronous URBs and packets taken */
    int iso_refused;       /* speaker: isochronous URBs refused (setting 0: no endpoint) */
} UsbMockStats;
UsbMockStats usbmock_stats(UsbMock *m, UsbMockDevice which);
