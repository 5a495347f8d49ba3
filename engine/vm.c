/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM object: creation from a configuration, lifecycle, reset and state reporting. */
#include "engine/backend.h"
#include "engine/vm-internal.h"
#include "engine/snaptree.h"

#include <string.h>

static GPtrArray *machine_classes;

/* A state change on its way to the listeners. */
typedef struct StateEvent {
    Vm *vm;
    VmState state;
    GSource *source;
} StateEvent;

void machine_register(const MachineClass *mc)
{
    if (!machine_classes)
        machine_classes = g_ptr_array_new();
    g_ptr_array_add(machine_classes, (gpointer)mc);
}

const MachineClass *machine_find(const char *name)
{
    if (!machine_classes)
        return NULL;
    for (guint i = 0; i < machine_classes->len; i++) {
        const MachineClass *mc = machine_classes->pdata[i];
        if (!strcmp(mc->name, name))
            return mc;
    }
    return NULL;
}

const char *vm_state_name(VmState s)
{
    switch (s) {
    case VM_STATE_CREATED: return "prelaunch";
    case VM_STATE_RUNNING: return "running";
    case VM_STATE_PAUSED: return "paused";
    case VM_STATE_SHUTDOWN: return "shutdown";
    case VM_STATE_ERROR: return "internal-error";
    }
    return "unknown";
}

/* Picks the first usable back end of a colon-separated list ("kvm:tcg"). */
static const CpuBackend *pick_accel(const char *spec, unsigned cpus, char **options, GError **err)
{
    g_auto(GStrv) names = g_strsplit(spec && *spec ? spec : "tcg", ":", -1);
    GString *why = g_string_new(NULL);
    for (char **n = names; *n; n++) {
        char *comma = strchr(*n, ',');
        g_autofree char *name = comma ? g_strndup(*n, comma - *n) : g_strdup(*n);
        const CpuBackend *b = cpu_backend_find(name);
        if (!b) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "unknown accelerator '%s' (try -accel help)", name);
            g_string_free(why, TRUE);
            return NULL;
        }
        GError *local = NULL;
        if (b->probe && !b->probe(&local)) {
            g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "", name, local->message);
            g_error_free(local);
            continue;
        }
        if (n[1] && b->limited && b->limited()) {
            VLOG(LOG_CPU, "%s: runs only small guests on this host; trying %s", name, n[1]);
            continue;
        }
        /* A back end without several vCPUs gives way in a list, and alone says so. */
        if (cpus > 1 && !b->smp) {
            if (n[1]) {
                VLOG(LOG_CPU, "%s: runs one vCPU only; trying %s", name, n[1]);
                continue;
            }
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                        "%u processors: the %s accelerator runs one for now (use tcg or interp)", cpus,
                        name);
            g_string_free(why, TRUE);
            return NULL;
        }
        *options = comma ? g_strdup(comma + 1) : NULL;
        g_string_free(why, TRUE);
        return b;
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "no usable accelerator: %s", why->str);
    g_string_free(why, TRUE);
    return NULL;
}

static bool open_chardevs(Vm *vm, GError **err)
{
    for (int i = 0; i < VM_MAX_SERIAL; i++) {
        const char *spec = vm->cfg->serial[i];
        if (!spec || !strcmp(spec, "none"))
            continue;
        vm->serial[i] = chardev_open(spec, err);
        if (!vm->serial[i]) {
            g_prefix_error(err, "serial port %d: ", i);
            return false;
        }
    }
    if (vm->cfg->debugcon && strcmp(vm->cfg->debugcon, "none")) {
        /* The same stdio is shared with a serial port rather than opened twice. */
        if (!strcmp(vm->cfg->debugcon, "stdio")) {
            for (int i = 0; i < VM_MAX_SERIAL && !vm->debugcon; i++)
                if (vm->serial[i] && chardev_is_stdio(vm->serial[i]))
                    vm->debugcon = vm->serial[i];
        }
        if (!vm->debugcon) {
            vm->debugcon = chardev_open(vm->cfg->debugcon, err);
            if (!vm->debugcon) {
                g_prefix_error(err, "debug console: ");
                return false;
            }
        }
    }
    return true;
}

Vm *vm_new(const VmConfig *cfg, GError **err)
{
    g_autofree char *accel_opts = NULL;
    Vm *vm = g_new0(Vm, 1);
    g_mutex_init(&vm->lock);
    g_cond_init(&vm->run_cond);
    g_cond_init(&vm->halt_cond);
    g_cond_init(&vm->park_cond);
    g_cond_init(&vm->timer_cond);
    vm->devices = device_list_new();
    vm->reset_handlers = g_array_new(FALSE, FALSE, sizeof(ResetEntry));
    vm->cleanups = g_array_new(FALSE, FALSE, sizeof(CleanupEntry));
    vm->state_listeners = g_array_new(FALSE, FALSE, sizeof(StateListener));
    vm->state_events = g_ptr_array_new();
    vm->exit_status = -1;
    vm->state = VM_STATE_CREATED;

    /* Keep a private copy of the configuration. */
    VmConfig *c = vm_config_copy(cfg);
    if (!c->name)
        c->name = g_strdup("vireo");
    if (!c->machine)
        c->machine = g_strdup("pc");
    if (!c->ram_size)
        c->ram_size = UINT64_C(128) << 20;
    if (!c->smp)
        c->smp = 1;
    vm->cfg = c;

    if (c->smp > VM_CPUS_MAX) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%u processors: the engine runs at most %d",
                    c->smp, VM_CPUS_MAX);
        goto fail;
    }
    const MachineClass *mc = machine_find(c->machine);
    if (!mc) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown machine type '%s'", c->machine);
        goto fail;
    }
    vm_clock_init(vm);
    vm->mem = mem_new(c->ram_size, err);
    if (!vm->mem)
        goto fail;
    vm->io = io_new();
    vm->ncpus = c->smp;
    vcpu_setup_all(vm);

    vm->accel = pick_accel(c->accel, c->smp, &accel_opts, err);
    if (!vm->accel)
        goto fail;
    if (vm->accel->vm_init && !vm->accel->vm_init(vm, accel_opts, err))
        goto fail;
    if (!open_chardevs(vm, err) || !backend_open_configured(vm, err))
        goto fail;

    g_mutex_lock(&vm->lock);
    bool ok = mc->init(vm, c, err);
    g_mutex_unlock(&vm->lock);
    if (!ok)
        goto fail;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        if (!vm->accel->vcpu_init(&vm->vcpus[i], err)) {
            if (vm->ncpus > 1)
                g_prefix_error(err, "vCPU %u: ", i);
            goto fail;
        }
    }
    return vm;

fail:
    vm_free(vm);
    return NULL;
}

void vm_free(Vm *vm)
{
    if (!vm)
        return;
    vcpu_thread_join(vm);
    vm_timers_stop(vm);
    /* Back-end threads (network) stop calling into devices before the buses go. */
    backend_stop_all(vm);
    for (guint i = vm->cleanups->len; i-- > 0;) {
        CleanupEntry *e = &g_array_index(vm->cleanups, CleanupEntry, i);
        e->fn(e->opaque);
    }
    /* After the cleanups: a device not yet converted may still use a device object
     * (the speaker reads the PIT) until its own cleanup ran. */
    device_list_free(vm->devices);
    vm->devices = NULL;
    backend_close_all(vm);
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->accel && vm->vcpus[i].cpu && vm->accel->vcpu_destroy)
            vm->accel->vcpu_destroy(&vm->vcpus[i]);
    if (vm->accel && vm->accel_state && vm->accel->vm_destroy)
        vm->accel->vm_destroy(vm);
    for (int i = 0; i < VM_MAX_SERIAL; i++) {
        if (vm->serial[i] && vm->serial[i] == vm->debugcon)
            vm->debugcon = NULL;
        chardev_close(vm->serial[i]);
    }
    chardev_close(vm->debugcon);
    vm_input_free(vm);
    vm_timers_free(vm);
    io_free(vm->io);
    mem_free(vm->mem);
    g_array_free(vm->reset_handlers, TRUE);
    g_array_free(vm->cleanups, TRUE);
    /* Changes not yet delivered would reach listeners of a VM that no longer exists. */
    for (guint i = vm->state_events->len; i-- > 0;)
        g_source_destroy(((StateEvent *)vm->state_events->pdata[i])->source);
    g_ptr_array_free(vm->state_events, TRUE);
    g_array_free(vm->state_listeners, TRUE);
    vm_config_free(vm->cfg);
    if (vm->buses)
        g_hash_table_destroy(vm->buses);
    g_free(vm->error);
    g_mutex_clear(&vm->lock);
    g_cond_clear(&vm->run_cond);
    g_cond_clear(&vm->halt_cond);
    g_cond_clear(&vm->park_cond);
    g_cond_clear(&vm->timer_cond);
    g_free(vm);
}

static gboolean dispatch_state(gpointer data)
{
    StateEvent *ev = data;
    Vm *vm = ev->vm;
    g_mutex_lock(&vm->lock);
    g_ptr_array_remove_fast(vm->state_events, ev);
    g_mutex_unlock(&vm->lock);
    /* Copy: a listener may remove itself. */
    g_autoptr(GArray) copy = g_array_copy(vm->state_listeners);
    for (guint i = 0; i < copy->len; i++) {
        StateListener *l = &g_array_index(copy, StateListener, i);
        l->fn(vm, ev->state, l->data);
    }
    return G_SOURCE_REMOVE;
}

/* Lock held. Listeners run later on the main context. */
void vm_set_state_locked(Vm *vm, VmState s)
{
    if (vm->state == s)
        return;
    vm->state = s;
    vm_clock_set_running(vm, s == VM_STATE_RUNNING);
    if (s != VM_STATE_RUNNING)
        vcpu_set_request(vm, VCPU_REQ_EXIT);
    g_cond_broadcast(&vm->run_cond);
    StateEvent *ev = g_new(StateEvent, 1);
    ev->vm = vm;
    ev->state = s;
    /* Always deferred, even on the main thread: the lock is held here. */
    ev->source = g_idle_source_new();
    g_source_set_priority(ev->source, G_PRIORITY_DEFAULT);
    g_source_set_callback(ev->source, dispatch_state, ev, g_free);
    g_ptr_array_add(vm->state_events, ev);
    g_source_attach(ev->source, NULL);
    g_source_unref(ev->source);
}

static bool vm_power_on(Vm *vm, VmState state, GError **err)
{
    vm->started = true;
    g_mutex_lock(&vm->lock);
    vm_run_reset(vm);
    g_mutex_unlock(&vm->lock);
    for (unsigned i = 0; i < vm->ncpus; i++)
        vm->accel->vcpu_reset(&vm->vcpus[i]);
    vm_timers_start(vm);
    if (!vcpu_thread_start(vm, err))
        return false;
    g_mutex_lock(&vm->lock);
    vm_set_state_locked(vm, state);
    g_mutex_unlock(&vm->lock);
    return true;
}

bool vm_start(Vm *vm, GError **err)
{
    if (vm->started) {
        vm_resume(vm);
        return true;
    }
    /* A library VM whose snapshot tree went back to a running snapshot while it was off
     * resumes that machine: booting instead would change the disks under a state that
     * a later start would then resume (snaptree.h). */
    const char *dir = vm_config(vm)->vm_dir;
    g_autofree char *pending = dir ? snaptree_pending_state(dir, NULL) : NULL;
    if (pending) {
        bool loaded;
        if (!vm_power_on(vm, VM_STATE_PAUSED, err) || !vm_snaptree_resume_pending(vm, &loaded, err))
            return false;
        vm_resume(vm);
        return true;
    }
    return vm_power_on(vm, VM_STATE_RUNNING, err);
}

bool vm_start_paused(Vm *vm, GError **err)
{
    if (vm->started)
        return true;
    return vm_power_on(vm, VM_STATE_PAUSED, err);
}

void vm_pause(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    if (vm->state == VM_STATE_RUNNING)
        vm_set_state_locked(vm, VM_STATE_PAUSED);
    g_mutex_unlock(&vm->lock);
}

void vm_resume(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    if (vm->state == VM_STATE_PAUSED)
        vm_set_state_locked(vm, VM_STATE_RUNNING);
    g_mutex_unlock(&vm->lock);
}

void vm_reset(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    vm->reset_pending = true;
    vm->reset_reason = VM_RESET_HOST;
    /* A host reset also wakes a VM that shut down. */
    if (vm->state == VM_STATE_SHUTDOWN)
        vm_set_state_locked(vm, VM_STATE_RUNNING);
    vcpu_set_request(vm, VCPU_REQ_EXIT);
    g_cond_broadcast(&vm->run_cond);
    g_mutex_unlock(&vm->lock);
}

/* The button is pressed on every device that has one (a PC has its PM function). */
void vm_powerdown(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        if (d->klass->power_button)
            d->klass->power_button(d);
    }
    g_mutex_unlock(&vm->lock);
}

void vm_poweroff(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    vm_set_state_locked(vm, VM_STATE_SHUTDOWN);
    g_mutex_unlock(&vm->lock);
}

VmState vm_get_state(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    VmState s = vm->state;
    g_mutex_unlock(&vm->lock);
    return s;
}

const VmConfig *vm_config(Vm *vm) { return vm->cfg; }
const char *vm_name(Vm *vm) { return vm->cfg->name; }

unsigned vm_cpu_apic_id(Vm *vm, unsigned index)
{
    CpuTopology t = vm_config_topology(vm->cfg);
    return cpu_topology_apic_id(&t, index);
}

unsigned vm_cpu_apic_id_limit(Vm *vm)
{
    return vm_cpu_apic_id(vm, vm->ncpus - 1) + 1;
}
int vm_exit_status(Vm *vm) { return vm->exit_status; }
const char *vm_error(Vm *vm) { return vm->error; }
bool vm_cpu_quiesce(Vm *vm, GError **err)
{
    if (!vm->accel || !vm->vcpus[0].cpu || !vm->accel->vcpu_get_state) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "the CPU back end '%s' cannot save or load its state", vm_accel_name(vm));
        return false;
    }
    if (vm->state == VM_STATE_RUNNING) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "the VM is running: pause it first");
        return false;
    }
    while (vm->vcpu_in_run)
        g_cond_wait(&vm->park_cond, &vm->lock);
    return true;
}

bool vm_cpu_get_state(Vm *vm, CpuX86State *s, GError **err)
{
    g_mutex_lock(&vm->lock);
    bool ok = vm_cpu_quiesce(vm, err) && vm->accel->vcpu_get_state(&vm->vcpus[0], s, err);
    g_mutex_unlock(&vm->lock);
    return ok;
}

bool vm_cpu_set_state(Vm *vm, const CpuX86State *s, GError **err)
{
    g_mutex_lock(&vm->lock);
    bool ok = vm_cpu_quiesce(vm, err) && vm->accel->vcpu_set_state(&vm->vcpus[0], s, err);
    g_mutex_unlock(&vm->lock);
    return ok;
}

const char *vm_accel_name(Vm *vm) { return vm->accel ? vm->accel->name : "none"; }

guint vm_add_state_listener(Vm *vm, VmStateFn fn, void *data)
{
    StateListener l = { ++vm->next_listener_id, fn, data };
    g_array_append_val(vm->state_listeners, l);
    return l.id;
}

void vm_remove_state_listener(Vm *vm, guint id)
{
    for (guint i = 0; i < vm->state_listeners->len; i++) {
        if (g_array_index(vm->state_listeners, StateListener, i).id == id) {
            g_array_remove_index(vm->state_listeners, i);
            return;
        }
    }
}

/* ---- board and device side ---- */

void vm_lock(Vm *vm) { g_mutex_lock(&vm->lock); }
void vm_unlock(Vm *vm) { g_mutex_unlock(&vm->lock); }
GuestMemory *vm_mem(Vm *vm) { return vm->mem; }
IoSpace *vm_io(Vm *vm) { return vm->io; }
void vm_set_board(Vm *vm, void *board) { vm->board = board; }

void vm_add_bus(Vm *vm, const char *name, void *bus)
{
    if (!vm->buses)
        vm->buses = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_assert(!g_hash_table_contains(vm->buses, name));
    g_hash_table_insert(vm->buses, g_strdup(name), bus);
}

void vm_remove_bus(Vm *vm, const char *name)
{
    if (vm->buses)
        g_hash_table_remove(vm->buses, name);
}

void *vm_find_bus(Vm *vm, const char *name)
{
    return vm->buses ? g_hash_table_lookup(vm->buses, name) : NULL;
}
void *vm_board(Vm *vm) { return vm->board; }

Chardev *vm_serial_chardev(Vm *vm, unsigned n)
{
    return n < VM_MAX_SERIAL ? vm->serial[n] : NULL;
}

Chardev *vm_debugcon_chardev(Vm *vm)
{
    return vm->debugcon;
}

void vm_run_reset(Vm *vm)
{
    device_list_reset(vm->devices);
    for (guint i = 0; i < vm->reset_handlers->len; i++) {
        ResetEntry *e = &g_array_index(vm->reset_handlers, ResetEntry, i);
        e->fn(e->opaque);
    }
}

void vm_add_reset_handler(Vm *vm, VmResetFn fn, void *opaque)
{
    ResetEntry e = { fn, opaque, false };
    g_array_append_val(vm->reset_handlers, e);
}

void vm_add_board_reset_handler(Vm *vm, VmResetFn fn, void *opaque)
{
    ResetEntry e = { fn, opaque, true };
    g_array_append_val(vm->reset_handlers, e);
}

unsigned vm_legacy_device_count(Vm *vm)
{
    unsigned n = 0;
    for (guint i = 0; i < vm->reset_handlers->len; i++)
        n += !g_array_index(vm->reset_handlers, ResetEntry, i).board;
    return n;
}

void vm_add_cleanup(Vm *vm, GDestroyNotify fn, void *opaque)
{
    CleanupEntry e = { fn, opaque };
    g_array_append_val(vm->cleanups, e);
}

void vm_request_reset(Vm *vm, VmResetReason why)
{
    VLOG(LOG_CPU, "reset requested (%s)",
         why == VM_RESET_TRIPLE_FAULT ? "triple fault" : why == VM_RESET_GUEST ? "guest" : "host");
    if (vm->cfg->no_reboot && why != VM_RESET_HOST) {
        vm_set_state_locked(vm, VM_STATE_SHUTDOWN);
        return;
    }
    vm->reset_pending = true;
    vm->reset_reason = why;
    vcpu_set_request(vm, VCPU_REQ_EXIT);
}

void vm_request_shutdown(Vm *vm)
{
    VLOG(LOG_CPU, "guest powered off");
    vm_set_state_locked(vm, vm->cfg->no_shutdown ? VM_STATE_PAUSED : VM_STATE_SHUTDOWN);
}

void vm_request_exit(Vm *vm, int status)
{
    vm->exit_status = status;
    vm_set_state_locked(vm, VM_STATE_SHUTDOWN);
}

/* Lock held, on the bootstrap processor's thread with every other vCPU parked
 * (resetting keeps them parked while the lock is dropped). */
void vm_do_system_reset(Vm *vm)
{
    vm->reset_pending = false;
    vm->resetting = true;
    /* The A20 gate is open after reset, as on QEMU's PC (firmware closes it if it wants). */
    vcpu_set_a20(vm, true);
    vm_run_reset(vm);
    g_mutex_unlock(&vm->lock);
    for (unsigned i = 0; i < vm->ncpus; i++) {
        /* INIT or STARTUP messages sent before the reset are void. */
        atomic_fetch_and(&vm->vcpus[i].requests, ~(unsigned)(VCPU_REQ_INIT | VCPU_REQ_SIPI));
        vm->accel->vcpu_reset(&vm->vcpus[i]);
    }
    g_mutex_lock(&vm->lock);
    vm->resetting = false;
}

void vm_set_cpu_intr(Vm *vm, int level)
{
    vm_set_cpu_intr_n(vm, 0, level);
}

void vm_cpu_nmi(Vm *vm)
{
    vm_cpu_nmi_n(vm, 0);
}

bool vm_wants_board_apic(Vm *vm)
{
    return vm->accel && vm->accel->board_apic && !vm_kernel_irqchip(vm);
}

/* The first device that owns the drive name changes its medium. */
bool vm_change_media(Vm *vm, const char *device, const char *filename, const char *format,
                     bool read_only, GError **err)
{
    g_mutex_lock(&vm->lock);
    DeviceMediaResult r = DEVICE_MEDIA_NO_DRIVE;
    bool any = false;
    for (GList *l = device_list_head(vm); l && r == DEVICE_MEDIA_NO_DRIVE; l = l->next) {
        Device *d = l->data;
        if (!d->klass->change_media)
            continue;
        any = true;
        r = d->klass->change_media(d, device, filename, format, read_only, err);
    }
    if (!any)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "this machine has no removable media");
    else if (r == DEVICE_MEDIA_NO_DRIVE)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "Device '%s' not found", device);
    g_mutex_unlock(&vm->lock);
    return r == DEVICE_MEDIA_CHANGED;
}

bool vm_device_add(Vm *vm, const char *spec, GError **err)
{
    g_autofree char *driver = g_strndup(spec, strcspn(spec, ","));
    const DeviceClass *dc = device_class_find(driver);
    if (!dc || !dc->unplug) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "'%s' is not a device that can be hot-plugged", driver);
        return false;
    }
    vm_lock(vm);
    Device *dev = device_create_from_spec(vm, spec, err);
    vm_unlock(vm);
    return dev != NULL;
}

bool vm_device_del(Vm *vm, const char *id, GError **err)
{
    vm_lock(vm);
    Device *dev = device_find(vm, id);
    bool ok = dev && device_unplug(dev, err);
    vm_unlock(vm);
    if (!dev)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "Device '%s' not found", id);
    return ok;
}

bool vm_kernel_irqchip(Vm *vm)
{
    return vm->kernel_irq_line != NULL;
}

void vm_kernel_irq_line(Vm *vm, unsigned gsi, int level)
{
    if (vm->kernel_irq_line)
        vm->kernel_irq_line(vm, gsi, level);
}

GBytes *vm_kernel_irqchip_save(Vm *vm)
{
    return vm->accel && vm->accel->irqchip_save ? vm->accel->irqchip_save(vm) : NULL;
}

bool vm_kernel_irqchip_check(Vm *vm, GBytes *state, GError **err)
{
    if (!vm->accel || !vm->accel->irqchip_check) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "the %s accelerator has no kernel irqchip to load",
                    vm->accel ? vm->accel->name : "(no)");
        return false;
    }
    return vm->accel->irqchip_check(vm, state, err);
}

void vm_kernel_irqchip_load(Vm *vm, GBytes *state)
{
    if (vm->accel && vm->accel->irqchip_load)
        vm->accel->irqchip_load(vm, state);
}

void vm_kernel_irqchip_reset(Vm *vm)
{
    if (vm->accel && vm->accel->irqchip_reset)
        vm->accel->irqchip_reset(vm);
}
