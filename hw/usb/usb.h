/* SPDX-License-Identifier: GPL-2.0-or-later */
/* USB: the bus between a host controller and its devices, the device model with its
 * default control pipe (USB 2.0 specification, chapters 8 and 9), descriptors and
 * endpoints.
 *
 * A host controller creates a UsbBus with its root ports and registers it under a name
 * (the first one is "usb-bus.0", as QEMU names it). A USB device is a device object
 * (engine/device.h) whose state struct starts with a UsbDevice; its realize calls
 * usb_device_attach, which finds the bus by the device's "bus" property and takes the
 * port its "port" property names, or the first free one. Transactions are synchronous:
 * the controller hands the bus a UsbPacket and the addressed device answers it at once
 * (data, NAK, STALL), so no transfer is ever in flight across a save.
 *
 * Lock rules: everything here runs with the engine lock held (controller registers,
 * frame timers, device realize). */
#pragma once

#include "engine/machine.h"

enum {
    USB_TOKEN_SETUP = 0x2d,
    USB_TOKEN_IN = 0x69,
    USB_TOKEN_OUT = 0xe1,
};

/* Bus speeds: UHCI ports carry low and full speed, EHCI ports high speed, xHCI's USB 2
 * ports low/full/high and its USB 3 ports super speed. */
typedef enum {
    USB_SPEED_LOW,
    USB_SPEED_FULL,
    USB_SPEED_HIGH,
    USB_SPEED_SUPER,
} UsbSpeed;

/* How a device answered a transaction. */
typedef enum {
    USB_RET_SUCCESS,
    USB_RET_NAK,    /* nothing to send / cannot take data now: the host retries */
    USB_RET_STALL,  /* the request or endpoint is halted */
    USB_RET_BABBLE, /* the device had more data than the packet's length */
    USB_RET_NODEV,  /* no device answered: a timeout on the wire */
} UsbResult;

/* Standard descriptor types (USB 2.0, table 9-5) and request codes (table 9-4). */
enum {
    USB_DT_DEVICE = 1,
    USB_DT_CONFIG = 2,
    USB_DT_STRING = 3,
    USB_DT_INTERFACE = 4,
    USB_DT_ENDPOINT = 5,
    USB_DT_DEVICE_QUALIFIER = 6,
    USB_DT_OTHER_SPEED_CONFIG = 7,
};

typedef struct UsbPacket {
    uint8_t pid;       /* USB_TOKEN_* */
    uint8_t addr, ep;  /* device address 0-127, endpoint number 0-15 */
    uint8_t *data;     /* OUT/SETUP: the bytes sent; IN: room for max_len bytes */
    size_t max_len;
    size_t len;        /* OUT/SETUP: bytes given; IN: bytes the device returned */
    UsbResult result;
} UsbPacket;

/* A SETUP packet, decoded (USB 2.0, 9.3). */
typedef struct UsbSetup {
    uint8_t type;      /* bmRequestType */
    uint8_t request;   /* bRequest */
    uint16_t value, index, length;
} UsbSetup;

typedef struct UsbDevice UsbDevice;
typedef struct UsbBus UsbBus;

/* A device's descriptors, fixed for its class: the device descriptor (18 bytes), its one
 * configuration (configuration, interface, class and endpoint descriptors in order) and
 * the strings the descriptors' indexes name (strings[0] is index 1). */
typedef struct UsbDescriptors {
    const uint8_t *device;
    const uint8_t *config;
    size_t config_len;
    const char *const *strings;
    size_t n_strings;
} UsbDescriptors;

typedef struct UsbDeviceOps {
    /* Requests the core does not answer itself (class and vendor requests, class
     * descriptors). IN requests fill data with at most setup->length bytes and return
     * the count; OUT requests find their setup->length bytes in data and return 0. A
     * negative return stalls the request. */
    int (*control)(UsbDevice *d, const UsbSetup *setup, uint8_t *data);
    /* control may also return USB_CONTROL_ASYNC: the answer comes later through
     * usb_device_control_done, and until then the request's data (IN) or status stage
     * NAKs, so the host retries (USB 2.0, 8.5.3). */
    /* A transaction on an endpoint other than 0 of the active configuration. */
    void (*data)(UsbDevice *d, UsbPacket *p);
    /* Optional: a standard request the core accepted that changes the device's state
     * (SET_CONFIGURATION, SET_INTERFACE, CLEAR_FEATURE ENDPOINT_HALT), for a device that
     * must repeat it elsewhere (usb-host on the real device). */
    void (*request_done)(UsbDevice *d, const UsbSetup *setup);
    /* Optional: a device with alternate settings (USB 2.0 9.4.10, 9.4.4): SET_INTERFACE
     * selects `alt` of interface `iface` (0 on success, negative to stall); GET_INTERFACE
     * asks which one is selected. Without them only setting 0 exists. */
    int (*set_interface)(UsbDevice *d, uint8_t iface, uint8_t alt);
    uint8_t (*get_interface)(UsbDevice *d, uint8_t iface);
    /* Hubs only: the device with address addr behind one of the hub's enabled downstream
     * ports (usb_device_find on each), or NULL. */
    UsbDevice *(*find)(UsbDevice *d, uint8_t addr);
    /* Hubs only: a device was connected to downstream port `port` (from 0). */
    void (*child_attached)(UsbDevice *d, int port);
    /* Hubs only: the device on downstream port `port` signals resume (remote wakeup). */
    void (*child_wakeup)(UsbDevice *d, int port);
    /* Hubs only: the device on downstream port `port` was removed at run time. */
    void (*child_detached)(UsbDevice *d, int port);
} UsbDeviceOps;

#define USB_CONTROL_ASYNC (-2)

/* The largest data stage of a control transfer a device here answers. */
#define USB_CTRL_BUF 1024

/* The instance header of a USB device's state struct (after it, the class's fields). */
struct UsbDevice {
    Device dev;
    /* Properties. */
    char *bus_name;   /* "bus": the USB bus, default usb-bus.0 */
    char *port_path;  /* "port": root port number from 1, default the first free */
    /* Wiring, set by the class's realize before usb_device_attach. */
    const UsbDeviceOps *ops;
    const UsbDescriptors *desc;
    UsbSpeed speed;
    /* A device with a high-speed mode sets these two before usb_device_attach: its
     * high-speed descriptors (bcdUSB 2.00, 512-byte bulk packets, microframe intervals)
     * and desc keeps the full-speed ones. Attach picks by the port: high speed where
     * the bus or the hub in front carries it, then desc and speed say which. */
    const UsbDescriptors *desc_high;
    const UsbDescriptors *desc_full;
    UsbBus *bus;
    int port;         /* root port index from 0; behind a hub, the hub's port */
    /* Hubs: their downstream ports (set by the hub's realize). A device behind a hub has
     * its parent here; bus is then the root's bus. */
    UsbDevice **down;
    int ndown;
    UsbDevice *parent;
    uint16_t ep_in_mask, ep_out_mask; /* endpoints of the configuration (bit n: n) */
    /* Guest-visible state (usb_device_vmsd). */
    uint8_t addr;
    uint8_t config;         /* bConfigurationValue set, 0: not configured */
    uint8_t pending_addr;   /* SET_ADDRESS takes effect after its status stage */
    bool addr_pending;
    bool remote_wakeup;
    uint16_t halted_in, halted_out; /* endpoints halted (bit n: endpoint n) */
    uint8_t ctrl_state;     /* the default pipe's stage (usb-core.c) */
    uint8_t setup[8];
    uint16_t ctrl_len, ctrl_pos;
    uint8_t ctrl_buf[USB_CTRL_BUF];
};

/* The "bus" and "port" properties every USB device class offers. */
#define USB_DEVICE_PROPS(State)                                                                   \
    { "bus", DEVICE_PROP_STRING, offsetof(State, usb.bus_name),                                  \
      "USB bus (usb-bus.0)", "usb-bus.0", 0, 0, NULL },                                            \
    { "port", DEVICE_PROP_STRING, offsetof(State, usb.port_path),                                 \
      "root port from 1, or a path through hubs like 1.3 (default: the first free root port)",    \
      NULL, 0, 0, NULL }

/* The core's state as a nested description (VMSTATE_STRUCT of the UsbDevice member); the
 * owner's check calls usb_device_state_check on the loaded copy. */
extern const VmStateDesc usb_device_vmsd;
bool usb_device_state_check(const UsbDevice *d, GError **err);

/* From the class's realize: checks the descriptors, finds the bus, takes the port and
 * tells the controller a device was connected. */
bool usb_device_attach(UsbDevice *d, GError **err);
/* From the class's unrealize: leaves the port. Quiet (the controller is not told): it
 * runs at VM teardown, after the PCI bus that carries the controller's IRQ is gone. */
void usb_device_detach(UsbDevice *d);
/* Run-time removal (the DeviceClass unplug hook of USB devices, QMP device_del): leaves
 * the port and tells the controller, or the hub in front, whose port shows the
 * disconnect to the guest. */
void usb_device_unplug(Device *dev);
/* The DeviceClass bus_place hook of USB devices. */
bool usb_device_bus_place(Device *dev, DeviceBusPlace *out);
/* The device's product string (its iProduct), or its class description. */
const char *usb_device_product_name(const UsbDevice *d);
/* A device with something to say while its host may have suspended it: resume
 * signalling, when the host enabled remote wakeup (SET_FEATURE DEVICE_REMOTE_WAKEUP). */
void usb_device_wakeup(UsbDevice *d);
/* The answer to a control request its ops->control left with USB_CONTROL_ASYNC: n bytes
 * now in d->ctrl_buf for an IN request (at most the request's length), 0 for an OUT
 * one, negative to stall it. Nothing happens when no request waits (a new SETUP or a
 * reset came first). Engine lock held. */
void usb_device_control_done(UsbDevice *d, int n);
bool usb_device_control_waiting(const UsbDevice *d);
/* d itself when its address is addr, else what its ops->find (a hub) finds behind it. */
UsbDevice *usb_device_find(UsbDevice *d, uint8_t addr);

/* Default state (USB 2.0, 9.1.1.3): address 0, not configured, no halts, pipe idle.
 * From the class's reset, which a bus reset on the port also runs. */
void usb_device_reset_core(UsbDevice *d);

/* ---- the controller side ---- */

typedef struct UsbPortOps {
    /* A device was connected to root port `port` (from 0). */
    void (*attach)(void *opaque, int port, UsbSpeed speed);
    /* The device there signals resume (remote wakeup, USB 2.0 7.1.7.7). */
    void (*wakeup)(void *opaque, int port);
    /* Optional: the device on root port `port` was removed at run time (hot unplug). */
    void (*detach)(void *opaque, int port);
} UsbPortOps;

#define USB_MAX_PORTS 15

/* Registers the bus under name (vm_add_bus); usb_bus_free at the controller's unrealize. */
UsbBus *usb_bus_new(Vm *vm, const char *name, int nports, const UsbPortOps *ops, void *opaque);
void usb_bus_free(UsbBus *bus);
/* The speeds the root ports carry (bit n: UsbSpeed n); low and full speed unless set.
 * A companion-free EHCI sets high speed alone: a device with no high-speed mode is then
 * refused at attach. From the controller's realize, before devices attach. */
void usb_bus_set_speeds(UsbBus *bus, unsigned mask);
/* The first free bus name "usb-bus.N". */
char *usb_bus_next_name(Vm *vm);
UsbDevice *usb_bus_port_device(UsbBus *bus, int port);
/* "low", "full", "high", "super". */
const char *usb_speed_name(UsbSpeed speed);
/* Bus reset signalled on a port (the port's reset bit): the device returns to its
 * default state through its class's reset. */
void usb_bus_port_reset(UsbBus *bus, int port);
/* Delivers a transaction to the device with p->addr among the ports whose bit is set in
 * port_mask (the enabled ones); p->result says what happened. */
void usb_bus_deliver(UsbBus *bus, unsigned port_mask, UsbPacket *p);
