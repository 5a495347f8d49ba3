/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-host.h when Vireo was built without libusb-1.0: every entry point that could open
 * something says so in one line; the rest are never reached without an open handle. */
#include "engine/usb-host/usb-host.h"

#include "engine/config.h"

#define NO_LIBUSB "usb-host: this Vireo was built without libusb-1.0 (install libusb-1.0-0-dev and rebuild)"

GPtrArray *usbhost_list_devices(GError **err)
{
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, NO_LIBUSB);
    return NULL;
}

guint usbhost_watch(UsbHostChangedFn fn, void *opaque, GError **err)
{
    (void)fn;
    (void)opaque;
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, NO_LIBUSB);
    return 0;
}

void usbhost_unwatch(guint id)
{
    (void)id;
}

UsbHostHandle *usbhost_open(const UsbHostMatch *m, const char *owner, GError **err)
{
    (void)m;
    (void)owner;
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, NO_LIBUSB);
    return NULL;
}

void usbhost_close(UsbHostHandle *h) { (void)h; }
const char *usbhost_name(UsbHostHandle *h) { (void)h; g_assert_not_reached(); }
int usbhost_speed(UsbHostHandle *h) { (void)h; g_assert_not_reached(); }
const uint8_t *usbhost_device_descriptor(UsbHostHandle *h) { (void)h; g_assert_not_reached(); }
const uint8_t *usbhost_config_descriptor(UsbHostHandle *h, size_t *len) { (void)h; (void)len; g_assert_not_reached(); }
const char *const *usbhost_strings(UsbHostHandle *h, size_t *n) { (void)h; (void)n; g_assert_not_reached(); }
UsbHostResult usbhost_control(UsbHostHandle *h, const uint8_t setup[8], uint8_t *data, size_t *actual)
{
    (void)h; (void)setup; (void)data; (void)actual;
    g_assert_not_reached();
}
UsbHostResult usbhost_data(UsbHostHandle *h, uint8_t ep_addr, uint8_t *data, size_t len, size_t *actual)
{
    (void)h; (void)ep_addr; (void)data; (void)len; (void)actual;
    g_assert_not_reached();
}
void usbhost_flush(UsbHostHandle *h) { (void)h; }
void usbhost_clear_halt(UsbHostHandle *h, uint8_t ep_addr) { (void)h; (void)ep_addr; }
void usbhost_set_gone_handler(UsbHostHandle *h, UsbHostGoneFn fn, void *opaque) { (void)h; (void)fn; (void)opaque; }
bool usbhost_gone(UsbHostHandle *h) { (void)h; return true; }
UsbHostResult usbhost_set_interface(UsbHostHandle *h, uint8_t iface, uint8_t alt) { (void)h; (void)iface; (void)alt; return USBHOST_GONE; }
int usbhost_get_interface(UsbHostHandle *h, uint8_t iface) { (void)h; (void)iface; return -1; }
