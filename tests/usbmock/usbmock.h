/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A scripted host USB device for usb-host tests, without hardware: umockdev's testbed
 * holds a full-speed HID boot keyboard at /dev/bus/usb/001/002 (16c0:27db) in its fake
 * sysfs, and an ioctl handler plays the kernel's usbfs for it (claim, driver
 * disconnect/connect, URB submit/reap/discard), answering control requests from the
 * keyboard's descriptors and interrupt IN URBs with the key reports queued here.
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

typedef struct UsbMock UsbMock;

UsbMock *usbmock_new(void);
void usbmock_free(UsbMock *m);
/* A key press and release (HID usage, 0x04 'a') queued as two boot-protocol reports. */
void usbmock_key(UsbMock *m, uint8_t usage);
/* The device leaves: removed from sysfs with a "remove" uevent; its URBs fail. */
void usbmock_unplug(UsbMock *m);
/* Another program holds the interface: claiming it fails with EBUSY. */
void usbmock_set_busy(UsbMock *m, bool busy);

typedef struct UsbMockStats {
    int driver_bound;      /* 1: the host's usbhid driver holds interface 0 */
    int disconnects, connects; /* driver detach/reattach requests */
    int claimed;           /* interface 0 claimed through usbfs */
    int control_requests;  /* control URBs answered */
    int reports_sent;      /* interrupt IN URBs completed with a report */
    int set_idle, get_report_desc;
} UsbMockStats;
UsbMockStats usbmock_stats(UsbMock *m);
