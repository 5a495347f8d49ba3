/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A stand-in for libusb-1.0 in unit tests: libusb-double.c defines every libusb function
 * engine/usb-host/usb-host.c calls, so a test executable that links it (beside the
 * engine's static library) runs the real back end against one scripted device instead
 * of the host's USB stack. It replaces libusb itself: device enumeration, descriptors,
 * open/claim/detach, control, asynchronous transfers and their completion on the back
 * end's event thread. What it does not model: bulk and interrupt data (those transfers
 * stay in flight until cancelled), timing of the bus (a transfer completes as soon as the
 * test scripted enough packets for it).
 *
 * Isochronous IN transfers complete from a script the test fills with
 * libusb_double_iso_in_push: one entry per packet, with its status and bytes; a transfer
 * of N packets completes, on the event thread, once N entries wait. Isochronous OUT
 * transfers complete at once, their bytes appended to what libusb_double_iso_out_take
 * returns. Lock rules: every function here may be called from any thread. */
#pragma once

#include <libusb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct LibusbDoubleDevice {
    struct libusb_device_descriptor desc;
    const struct libusb_config_descriptor *config; /* the active (and only) one */
    enum libusb_speed speed;
    uint8_t bus, addr;
    const char *const *strings; /* strings[i] is string index i + 1 */
    size_t n_strings;
} LibusbDoubleDevice;

/* A full-speed USB Audio Class 1 microphone (1209:7a01, "Double microphone"): interface
 * 0 AudioControl, interface 1 AudioStreaming whose setting 1 has an asynchronous
 * isochronous IN endpoint 0x81 of 100 bytes every frame. */
#define LIBUSB_DOUBLE_MIC_EP 0x81
#define LIBUSB_DOUBLE_MIC_MPS 100
extern const LibusbDoubleDevice libusb_double_mic;

/* d (kept by pointer) is the one device the host has from now on. */
void libusb_double_plug(const LibusbDoubleDevice *d);
/* The device leaves: transfers in flight end with NO_DEVICE, calls fail with
 * LIBUSB_ERROR_NO_DEVICE, and the hotplug callback hears DEVICE_LEFT. */
void libusb_double_unplug(void);
/* One isochronous IN packet for endpoint ep (bit 7 set): its status and the bytes the
 * device sent (cut to the packet's length in the transfer). */
void libusb_double_iso_in_push(uint8_t ep, enum libusb_transfer_status st, const uint8_t *data, size_t len);
/* Waits (at most timeout_ms) until no scripted packet of ep waits and no completion
 * callback runs: what was pushed has reached the back end. */
bool libusb_double_iso_in_drained(uint8_t ep, int timeout_ms);
/* Transfers in flight on ep now; of the last one submitted, its packet count and the
 * length of its first packet. */
int libusb_double_in_flight(uint8_t ep, int *packets, int *packet_len);
/* The alternate setting last selected on interface iface (-1: never). */
int libusb_double_alt(uint8_t iface);
/* Interfaces claimed now and those whose kernel driver is detached (bit n: n). */
uint32_t libusb_double_claimed(void);
uint32_t libusb_double_detached(void);
/* The isochronous OUT bytes sent so far on any endpoint (then forgotten); g_free it. */
uint8_t *libusb_double_iso_out_take(size_t *len);
