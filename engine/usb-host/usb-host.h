/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host USB devices through libusb-1.0: what hw/usb/host.c (-device usb-host) passes to
 * the guest, and the host device list the app shows.
 *
 * One libusb context per process with one event thread. A device opened here has its
 * kernel drivers detached and every interface of its active configuration claimed;
 * closing releases them and reattaches the drivers.
 *
 * Transfers are asynchronous and the guest side stays synchronous: usbhost_data submits
 * a transfer on the first attempt and answers NAK until it completed, then hands the
 * data and status over on the controller's retry. Interrupt IN endpoints keep one
 * transfer submitted once polled and queue the reports. Isochronous OUT packets are
 * retired at once and sent in transfers of their own, up to 16 in flight per endpoint.
 * Isochronous IN endpoints, once read, keep 4 transfers of 8 packets submitted; each
 * guest transaction takes the oldest packet delivered with its own length and status
 * (an empty packet when none waits). Alternate settings are the device's:
 * usbhost_set_interface selects one on the device and the endpoint table follows it.
 * Control requests are a short bounded synchronous call (usbhost_control), see there.
 *
 * Lock rules: the event thread never calls into a device and never takes the engine
 * lock. It records completions in the handle under the handle's own mutex; the device
 * collects them with the engine lock held. The two things it must tell the outside,
 * "this device left the host" and "the host's device list changed", are handed to the
 * default GLib main context (g_idle), where the callbacks below run without any lock;
 * a callback that touches a device takes vm_lock itself. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct UsbHostHandle UsbHostHandle;

/* Speeds, as USB 2.0/3.x name them (the values of hw/usb/usb.h's UsbSpeed). */
enum {
    USBHOST_SPEED_LOW,
    USBHOST_SPEED_FULL,
    USBHOST_SPEED_HIGH,
    USBHOST_SPEED_SUPER,
};

/* Which device: any field 0 (-1 for bus/addr) matches anything. */
typedef struct UsbHostMatch {
    uint16_t vendor_id, product_id;
    int bus, addr;
} UsbHostMatch;

#define USBHOST_INFO_MAX_INTERFACES 8

/* A device of the host as the list shows it. */
typedef struct UsbHostInfo {
    int bus, addr;
    uint16_t vendor_id, product_id;
    uint8_t dev_class;
    int speed;          /* USBHOST_SPEED_* */
    char *manufacturer, *product, *serial; /* NULL when the device cannot be opened (those of
                                            * a device open in this process as read then) */
    char *in_use_by;    /* owner given to usbhost_open in this process, or NULL */
    /* The first configuration's interfaces (first alternate setting), at most
     * USBHOST_INFO_MAX_INTERFACES: what the app matches a class filter against and how it
     * tells a HID boot keyboard (class 3, subclass 1, protocol 1). */
    int n_interfaces;
    struct {
        uint8_t cls, subclass, protocol;
    } interfaces[USBHOST_INFO_MAX_INTERFACES];
} UsbHostInfo;

/* Host devices now, sorted by bus and address (UsbHostInfo *, freed with the array);
 * NULL with err set when libusb cannot start. */
GPtrArray *usbhost_list_devices(GError **err);
/* fn(opaque) runs on the default main context after a host device arrived or left
 * (libusb hotplug). Returns an id for usbhost_unwatch, 0 with err set when the host has
 * no hotplug support. */
typedef void (*UsbHostChangedFn)(void *opaque);
guint usbhost_watch(UsbHostChangedFn fn, void *opaque, GError **err);
void usbhost_unwatch(guint id);

/* Opens the one device the match selects and claims it for owner ("vmname/devid", shown
 * in the list). Errors are one line each: no such device, several match, permission on
 * /dev/bus/usb (with the udev rule that fixes it), busy in another program or VM. */
UsbHostHandle *usbhost_open(const UsbHostMatch *m, const char *owner, GError **err);
/* Cancels what is in flight, releases the interfaces, reattaches kernel drivers. */
void usbhost_close(UsbHostHandle *h);
/* A description for messages: "001/004 046d:c52b". */
const char *usbhost_name(UsbHostHandle *h);
int usbhost_speed(UsbHostHandle *h);

/* The device's descriptors, read once at open: the 18-byte device descriptor, the active
 * configuration's full descriptor set (wTotalLength bytes) and its strings by index
 * (strings[i] is index i + 1; NULL where the device has none or would not say). */
const uint8_t *usbhost_device_descriptor(UsbHostHandle *h);
const uint8_t *usbhost_config_descriptor(UsbHostHandle *h, size_t *len);
const char *const *usbhost_strings(UsbHostHandle *h, size_t *n);

typedef enum {
    USBHOST_OK,
    USBHOST_NAK,   /* in flight or nothing queued: the controller retries */
    USBHOST_STALL,
    USBHOST_BABBLE,
    USBHOST_ERROR, /* a transaction error on the host's wire */
    USBHOST_GONE,  /* the device left the host */
} UsbHostResult;

/* One control request (setup: the 8 bytes of the SETUP packet) as a synchronous call of
 * at most USBHOST_CONTROL_TIMEOUT_MS: the guest side's default pipe answers a request at
 * its SETUP stage, and class/vendor requests are rare and short, so a bounded wait under
 * the engine lock costs less than a second pending state in the shared USB core. IN:
 * fills data with up to wLength bytes and sets *actual. */
#define USBHOST_CONTROL_TIMEOUT_MS 500
UsbHostResult usbhost_control(UsbHostHandle *h, const uint8_t setup[8], uint8_t *data, size_t *actual);
/* A bulk, interrupt or isochronous transaction on endpoint ep_addr (bit 7: IN). OUT:
 * data/len is the packet; IN: data has room for len bytes and *actual is set. Bulk and
 * interrupt: the first attempt submits and answers NAK; a retry collects the result.
 * Isochronous OUT: queued and answered OK at once (an error of an earlier packet of the
 * endpoint is answered instead, once). Isochronous IN: the next packet the device
 * delivered, with its status (OK with *actual 0 when none waits; BABBLE when it was
 * longer than len). Endpoint types come from the descriptors of the
 * interfaces' current alternate settings. */
UsbHostResult usbhost_data(UsbHostHandle *h, uint8_t ep_addr, uint8_t *data, size_t len, size_t *actual);
/* SET_INTERFACE on the device (libusb_set_interface_alt_setting, a short synchronous
 * call): what is in flight on that interface's endpoints is cancelled first (the other
 * interfaces' go on), then the endpoints of the new setting replace those of the old. STALL for an interface or setting the active
 * configuration lacks. */
UsbHostResult usbhost_set_interface(UsbHostHandle *h, uint8_t iface, uint8_t alt);
/* The alternate setting selected on interface iface (0 after open), -1 for no such one. */
int usbhost_get_interface(UsbHostHandle *h, uint8_t iface);
/* Cancels what is in flight on every endpoint and forgets queued reports (a guest's
 * SET_CONFIGURATION or bus reset). */
void usbhost_flush(UsbHostHandle *h);
/* CLEAR_FEATURE(ENDPOINT_HALT) repeated on the device. */
void usbhost_clear_halt(UsbHostHandle *h, uint8_t ep_addr);
/* fn(opaque) runs once on the default main context when the device left the host. */
typedef void (*UsbHostGoneFn)(void *opaque);
void usbhost_set_gone_handler(UsbHostHandle *h, UsbHostGoneFn fn, void *opaque);
bool usbhost_gone(UsbHostHandle *h);
