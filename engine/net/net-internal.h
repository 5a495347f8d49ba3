/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the netdev types (engine/net/slirp.c, engine/net/tap.c) share with engine/net/net.c:
 * the client struct, the option list and the queue towards the NIC. Lock rules as in
 * net.h. */
#pragma once

#include "engine/net/net.h"

/* One key=value of an option text, in order (hostfwd= may repeat). */
typedef struct NetOpt {
    char *key, *value;
} NetOpt;

typedef struct NetBackendOps {
    const char *type; /* "user", "tap" */
    /* Checks the options (no VM, nothing opened). */
    bool (*check)(GPtrArray *opts, GError **err);
    /* Opens the back end into nc->be. */
    bool (*open)(NetClient *nc, GPtrArray *opts, GError **err);
    /* A frame from the guest; engine lock held. */
    void (*send)(NetClient *nc, const uint8_t *frame, size_t len);
    /* Stops its threads and frees nc->be; no lock held, the NIC is gone. */
    void (*close)(NetClient *nc);
    /* Port forwards at run time; NULL: not this type. No lock held. */
    bool (*hostfwd)(NetClient *nc, bool add, const char *rule, GError **err);
    /* A line about the back end for `info network` (its addresses). */
    char *(*describe)(NetClient *nc);
    /* The address the back end's DHCP server gave the guest, or NULL; may be NULL. */
    char *(*guest_address)(NetClient *nc);
} NetBackendOps;

extern const NetBackendOps net_slirp_ops;
extern const NetBackendOps net_tap_ops;

struct NetClient {
    Vm *vm;
    char *id;
    const NetBackendOps *ops;
    void *be;

    /* The NIC (engine lock). */
    const NetNicOps *nic_ops;
    void *nic_opaque;
    char *nic_id;
    bool link_down;
    bool delivering; /* inside deliver: no nested delivery from a NIC's send */
    bool stopped;    /* the VM is going away: nothing more reaches the NIC */
    uint64_t tx_frames, rx_frames, dropped_link, dropped_size, bad_frames;

    /* Frames for the guest (queue_lock). */
    GMutex queue_lock;
    GQueue queue; /* NetFrame * */
    size_t queued_bytes;
    uint64_t dropped_queue;
};

/* Splits "TYPE,key=value,..." (",," is a comma in a value) into its type and options. */
GPtrArray *net_opts_parse(const char *text, char **type, GError **err);
/* Queues a frame for the guest; any thread, no lock needed (takes queue_lock). */
void net_client_queue_rx(NetClient *nc, const uint8_t *frame, size_t len);
/* Whether frames wait for the guest. */
bool net_client_rx_pending(NetClient *nc);
/* Hands queued frames to the NIC: takes the engine lock (caller holds no lock). */
void net_client_deliver(NetClient *nc);
