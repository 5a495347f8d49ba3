/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network back ends (-netdev TYPE,id=ID,...) and the link between one back end and the
 * network card (NIC) that names it with its netdev= property.
 *
 * An opened netdev is a NetClient: what DEVICE_PROP_BACKEND "netdev" resolves to. The
 * NIC attaches to it with its receive operations, sends the frames the guest
 * transmits with net_client_send, and gets the frames for the guest through its
 * receive hook. Frames for the guest wait in the client's bounded queue while the NIC
 * cannot take them (its ring is full: can_receive says false); the NIC calls
 * net_client_rx_ready when the guest gave it room again. Frames are Ethernet frames
 * without the frame check sequence.
 *
 * Lock rules (engine lock = vm_lock):
 * - Everything a NIC calls here runs with the engine lock held (it runs in port, MMIO
 *   and timer callbacks). Its NetNicOps hooks are called with the engine lock held.
 * - Back ends run their own threads (libslirp's poll thread: engine/net/slirp.c, the
 *   TAP reader: engine/net/tap.c). They never call a NIC while holding their own lock:
 *   they queue frames for the guest (a short queue mutex, innermost), and the queue is
 *   emptied into the NIC with the engine lock held, by the back end's thread after it dropped its own lock, or at
 *   the end of net_client_send. Order: engine lock, then a back end's lock, then the
 *   queue mutex; never the other way round.
 * - Frames are not handed to a NIC while the VM is paused (as for a save): they
 *   wait in the queue, which the back end's thread empties again once it runs.
 * - net_hostfwd_*, net_set_link and net_info_text take the locks they need (QMP, the
 *   main thread). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Vm Vm;
typedef struct NetClient NetClient;

/* Largest frame a back end or NIC moves (a 16 KiB jumbo frame, as the e1000's largest
 * receive buffer): anything longer is dropped and counted. */
#define NET_MAX_FRAME 16384
/* Frames waiting for the guest per netdev (and their bytes) before new ones are
 * dropped: the guest's TCP window, not this queue, bounds a healthy flow. */
#define NET_QUEUE_MAX_FRAMES 1024
#define NET_QUEUE_MAX_BYTES (4u << 20)

typedef struct NetNicOps {
    /* Whether the NIC can store one more frame now (receiver on, ring has room). */
    bool (*can_receive)(void *opaque, size_t len);
    /* One frame for the guest; called only after can_receive said yes for it. */
    void (*receive)(void *opaque, const uint8_t *frame, size_t len);
    /* The link went up or down (QMP set_link); NULL: the card has no link indication. */
    void (*link_changed)(void *opaque, bool up);
} NetNicOps;

/* Attaches a NIC (its device id, for set_link and listings); one NIC per netdev. */
bool net_client_attach(NetClient *nc, const char *nic_id, const NetNicOps *ops, void *opaque,
                       GError **err);
void net_client_detach(NetClient *nc);
/* A frame the guest sent (lock held). Dropped while the link is down. */
void net_client_send(NetClient *nc, const uint8_t *frame, size_t len);
/* The NIC has room again: queued frames are delivered now (lock held). */
void net_client_rx_ready(NetClient *nc);
bool net_client_link_up(const NetClient *nc);
/* A NIC dropped a frame the guest set up badly (outside RAM, oversized, malformed): it
 * is counted with the netdev, which `info network` shows. Lock held. */
void net_client_count_bad(NetClient *nc);

/* The properties every NIC has, QEMU's spellings: mac= (a char * member, see
 * net_nic_mac) and netdev= (a NetClient * member). For a DeviceProp table. */
#define NET_NIC_PROPS(State, mac_member, nc_member)                                                \
    { "mac", DEVICE_PROP_STRING, offsetof(State, mac_member),                                       \
      "MAC address (default 52:54:00:12:34:56, counting up per card)", NULL, 0, 0 },                \
    { "netdev", DEVICE_PROP_BACKEND, offsetof(State, nc_member), "ID of a -netdev to connect to", NULL, 0, 0, \
      "netdev" }

/* The MAC address a NIC uses: its mac= property (six hex bytes with ':' or '-'),
 * or, when that is NULL or empty, QEMU's default 52:54:00:12:34:56, the last byte
 * counting up with every NIC created in this process. A multicast address is refused. */
bool net_nic_mac(const char *prop, uint8_t mac[6], GError **err);

/* QEMU's monitor commands, for QMP (engine/qmp.c). netdev_id NULL: the first
 * netdev. rule as QEMU's: "tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport" to add,
 * "tcp|udp:[hostaddr]:hostport" to remove. */
bool net_hostfwd_add(Vm *vm, const char *netdev_id, const char *rule, GError **err);
bool net_hostfwd_remove(Vm *vm, const char *netdev_id, const char *rule, GError **err);
/* name: a netdev id or the id of the NIC attached to one. */
bool net_set_link(Vm *vm, const char *name, bool up, GError **err);
/* The IPv4 address the first netdev's DHCP server (slirp's) last gave the guest, as
 * text, or NULL: no lease seen yet, or a back end without one (tap). */
char *net_guest_address(Vm *vm);
/* QEMU's `info network`-like listing: each netdev, its NIC, link and counters. */
char *net_info_text(Vm *vm);
