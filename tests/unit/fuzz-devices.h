/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The device fuzzer's parts: fuzz-devices.c runs it (options, the board, the seed, the
 * watchdog, what a failure prints), fuzz-devices-actions.c holds what a hostile guest
 * does to the board, one function per kind of action. */
#pragma once

#include "engine/device.h"
#include "engine/display.h"
#include "engine/testing.h"
#include "hw/pci/pci.h"

#include <stdbool.h>
#include <stdint.h>

/* Guest RAM of the fuzzed board. */
#define RAM_SIZE (UINT64_C(32) << 20)

typedef struct MmioTarget {
    hwaddr base;
    uint64_t size;
    char name[48];
} MmioTarget;

typedef struct Fuzz {
    Vm *vm;
    GRand *rng;
    char *dir;
    char *cd_path, *fd_path;
    PciBus *pci;
    GArray *devfns;      /* int: the functions present on bus 0 */
    GArray *ports;       /* uint16_t: ports some device owns */
    GArray *mmio;        /* MmioTarget */
    bool maps_stale;     /* a config write or reset may have moved BARs */
    DisplayConsole *con;
    DisplayClient *display;
    /* Values the guest wrote to devices lately: where a device with rings or
     * descriptor lists will look, so hostile descriptors are put there. */
    uint32_t given[32];
    unsigned n_given;
    unsigned next_irq;   /* for devices moved to a free ISA line */
    unsigned resets, state_checks;
    bool strict_state;   /* --strict-state */
} Fuzz;

/* Every choice comes from the run's generator, so a seed replays. */
static inline uint32_t rnd(Fuzz *f, uint32_t n)
{
    return n ? (uint32_t)g_rand_int_range(f->rng, 0, (gint32)MIN(n, (uint32_t)G_MAXINT32)) : 0;
}
static inline uint32_t rnd32(Fuzz *f) { return g_rand_int(f->rng); }
static inline bool chance(Fuzz *f, unsigned percent) { return rnd(f, 100) < percent; }

/* Adds a line to the list of last actions a failure prints (and prints it with --trace). */
void fuzz_note(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Reports a failure with the seed and the last actions, and ends the process. */
void fuzz_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

/* Lock held: the ports and MMIO ranges decoded now, after BARs moved (maps_stale). */
void fuzz_refresh_maps(Fuzz *f);
/* Lock held: every PCI function's BARs placed and decoding on, as firmware does. */
void fuzz_pci_firmware_setup(Fuzz *f);

/* The kinds of action, and how often each is picked. */
typedef enum { FUZZ_LOCKED, FUZZ_UNLOCKED } FuzzLockMode;
typedef struct FuzzAction {
    void (*fn)(Fuzz *f);
    FuzzLockMode lock; /* LOCKED: runs with the engine lock held */
    unsigned weight;
} FuzzAction;
extern const FuzzAction fuzz_actions[];
extern const size_t fuzz_n_actions;
