/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole-VM state streams (savevm.h): the virtual clock, the CPU, every device's state
 * section and guest RAM, checked whole before anything changes on load. */
#include "engine/savevm.h"
#include "engine/config.h"
#include "engine/device.h"
#include "engine/ramstate.h"
#include "engine/stream.h"
#include "engine/vm-internal.h"
#include "engine/vmstate.h"

#include <stddef.h>
#include <string.h>
#include <zlib.h>

#define MAGIC "VIREOVMS"
#define END_MAGIC "VIREOEND"
#define HEADER_BYTES 28u

/* ---- the CPU section: CpuX86State field by field ---- */

static const VmStateField segment_fields[] = {
    VMSTATE_U16(CpuSegment, sel),
    VMSTATE_U16(CpuSegment, attr),
    VMSTATE_U32(CpuSegment, limit),
    VMSTATE_U64(CpuSegment, base),
    VMSTATE_END,
};
static const VmStateDesc segment_desc = { .name = "segment", .version = 1, .fields = segment_fields };

static const VmStateField msr_fields[] = {
    VMSTATE_U32(CpuMsr, index),
    VMSTATE_U64(CpuMsr, value),
    VMSTATE_END,
};
static const VmStateDesc msr_desc = { .name = "msr", .version = 1, .fields = msr_fields };

#define CPU_U64_ARRAY(f, n) { .name = #f, .type = VMS_U64, .offset = offsetof(CpuX86State, f), .count = (n) }
#define CPU_BYTES(f) { .name = #f, .type = VMS_BUFFER, .offset = offsetof(CpuX86State, f), \
                       .count = sizeof(((CpuX86State *)0)->f) }
/* int16_t "or -1" fields travel as their 16-bit pattern. */
#define CPU_I16(f) { .name = #f, .type = VMS_U16, .offset = VMS_OFF_(CpuX86State, f, int16_t) }

static const VmStateField cpu_fields[] = {
    CPU_U64_ARRAY(regs, 16),
    VMSTATE_U64(CpuX86State, rip),
    VMSTATE_U64(CpuX86State, rflags),
    VMSTATE_STRUCT_ARRAY(CpuX86State, seg, CPU_NSEG, CpuSegment, &segment_desc),
    VMSTATE_STRUCT(CpuX86State, ldtr, CpuSegment, &segment_desc),
    VMSTATE_STRUCT(CpuX86State, tr, CpuSegment, &segment_desc),
    VMSTATE_U64(CpuX86State, gdt_base),
    VMSTATE_U64(CpuX86State, idt_base),
    VMSTATE_U16(CpuX86State, gdt_limit),
    VMSTATE_U16(CpuX86State, idt_limit),
    VMSTATE_U64(CpuX86State, cr0),
    VMSTATE_U64(CpuX86State, cr2),
    VMSTATE_U64(CpuX86State, cr3),
    VMSTATE_U64(CpuX86State, cr4),
    CPU_U64_ARRAY(dr, 8),
    VMSTATE_U64(CpuX86State, efer),
    VMSTATE_U16(CpuX86State, fcw),
    VMSTATE_U16(CpuX86State, fsw),
    VMSTATE_U16(CpuX86State, fop),
    VMSTATE_U8(CpuX86State, ftw),
    VMSTATE_BOOL(CpuX86State, ferr),
    VMSTATE_U16(CpuX86State, fcs),
    VMSTATE_U16(CpuX86State, fds),
    VMSTATE_U64(CpuX86State, fip),
    VMSTATE_U64(CpuX86State, fdp),
    CPU_BYTES(st),
    CPU_BYTES(xmm),
    VMSTATE_U32(CpuX86State, mxcsr),
    VMSTATE_U64(CpuX86State, tsc),
    VMSTATE_U32_RANGE(CpuX86State, nmsrs, 0, CPU_MAX_MSRS),
    VMSTATE_STRUCT_ARRAY(CpuX86State, msrs, CPU_MAX_MSRS, CpuMsr, &msr_desc),
    VMSTATE_BOOL(CpuX86State, halted),
    VMSTATE_U8_RANGE(CpuX86State, shadow, 0, CPU_SHADOW_STI | CPU_SHADOW_MOV_SS),
    VMSTATE_BOOL(CpuX86State, nmi_blocked),
    VMSTATE_BOOL(CpuX86State, nmi_pending),
    CPU_I16(exception),
    VMSTATE_BOOL(CpuX86State, exception_has_error),
    VMSTATE_U32(CpuX86State, exception_error),
    CPU_I16(interrupt),
    { .name = "sipi_wait", .type = VMS_BOOL, .offset = VMS_OFF_(CpuX86State, sipi_wait, bool), .version_added = 2 },
    VMSTATE_END,
};
static const VmStateDesc cpu_desc = {
    .name = "cpu",
    .version = CPU_X86_STATE_VERSION,
    .fields = cpu_fields,
};

/* ---- helpers ---- */

static bool fail(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool fail(GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "VM state: %s", msg);
    g_free(msg);
    return false;
}






/* ---- save ---- */

bool vm_state_save(Vm *vm, GByteArray *out, GError **err)
{
    g_mutex_lock(&vm->lock);
    bool ok = false;
    CpuX86State *cpu = g_new0(CpuX86State, vm->ncpus);
    unsigned legacy = vm_legacy_device_count(vm);
    if (legacy) {
        fail(err, "%u devices of this VM cannot save their state yet (issue 13's device "
             "conversion is not finished)", legacy);
        goto out;
    }
    if (!vm_cpu_quiesce(vm, err))
        goto out;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (!vm->accel->vcpu_get_state(&vm->vcpus[i], &cpu[i], err))
            goto out;
    guint start = out->len;
    g_byte_array_append(out, (const uint8_t *)MAGIC, 8);
    stream_put_le(out, VM_STATE_FORMAT_VERSION, 4);
    stream_put_le(out, vm->ncpus, 4);
    stream_put_le(out, (uint64_t)vm_clock_ns(vm), 8);
    stream_put_le(out, (uint32_t)crc32(0, out->data + start, 24), 4);

    /* One CPU: its section is the CPU part. Several: each section behind its length. */
    guint at = out->len;
    stream_put_le(out, 0, 4);
    if (vm->ncpus == 1) {
        vmstate_save(out, "cpu", "cpu0", &cpu_desc, cpu);
    } else {
        for (unsigned i = 0; i < vm->ncpus; i++) {
            g_autofree char *id = g_strdup_printf("cpu%u", i);
            guint sec = out->len;
            stream_put_le(out, 0, 4);
            vmstate_save(out, "cpu", id, &cpu_desc, &cpu[i]);
            stream_set_le(out, sec, out->len - sec - 4, 4);
        }
    }
    stream_set_le(out, at, out->len - at - 4, 4);

    at = out->len;
    stream_put_le(out, 0, 4);
    device_list_save(vm, out);
    stream_set_le(out, at, out->len - at - 4, 4);

    at = out->len;
    stream_put_le(out, 0, 8);
    if (!ram_state_save(vm->mem, out, err)) {
        g_byte_array_set_size(out, start);
        goto out;
    }
    uint64_t ram_len = out->len - at - 8;
    stream_set_le(out, at, (uint32_t)ram_len, 4);
    stream_set_le(out, at + 4, (uint32_t)(ram_len >> 32), 4);
    g_byte_array_append(out, (const uint8_t *)END_MAGIC, 8);
    ok = true;
out:
    g_free(cpu);
    g_mutex_unlock(&vm->lock);
    return ok;
}

/* ---- load ---- */

typedef struct Parts {
    unsigned ncpus;
    int64_t clock;
    const uint8_t *cpu, *devices, *ram;
    size_t cpu_len, devices_len, ram_len;
} Parts;

/* Splits the stream and checks its framing. */
static bool parse_parts(const uint8_t *buf, size_t len, Parts *p, GError **err)
{
    if (len < HEADER_BYTES || memcmp(buf, MAGIC, 8) != 0)
        return fail(err, "not a Vireo VM state (no VIREOVMS header)");
    if (crc32(0, buf, 24) != stream_get_le32(buf + 24))
        return fail(err, "the header's checksum does not match (damaged)");
    uint32_t version = stream_get_le32(buf + 8);
    if (version != VM_STATE_FORMAT_VERSION)
        return fail(err, "format version %u, this Vireo reads version %u", version, VM_STATE_FORMAT_VERSION);
    p->ncpus = stream_get_le32(buf + 12);
    if (p->ncpus < 1 || p->ncpus > VM_CPUS_MAX)
        return fail(err, "saved with %u vCPUs (1 to %d exist)", p->ncpus, VM_CPUS_MAX);
    p->clock = (int64_t)stream_get_le64(buf + 16);
    if (p->clock < 0)
        return fail(err, "a negative virtual clock");
    size_t pos = HEADER_BYTES;
    if (len - pos < 4 || stream_get_le32(buf + pos) > len - pos - 4)
        return fail(err, "truncated in the CPU section");
    p->cpu_len = stream_get_le32(buf + pos);
    p->cpu = buf + pos + 4;
    pos += 4 + p->cpu_len;
    if (len - pos < 4 || stream_get_le32(buf + pos) > len - pos - 4)
        return fail(err, "truncated in the devices' part");
    p->devices_len = stream_get_le32(buf + pos);
    p->devices = buf + pos + 4;
    pos += 4 + p->devices_len;
    if (len - pos < 8 || stream_get_le64(buf + pos) > len - pos - 8)
        return fail(err, "truncated in the RAM part");
    p->ram_len = (size_t)stream_get_le64(buf + pos);
    p->ram = buf + pos + 8;
    pos += 8 + p->ram_len;
    if (len - pos != 8 || memcmp(buf + pos, END_MAGIC, 8) != 0)
        return fail(err, len - pos < 8 ? "truncated at the end marker" : "bytes after the end marker");
    return true;
}

bool vm_state_load(Vm *vm, const uint8_t *buf, size_t len, GError **err)
{
    Parts p = { 0 };
    if (!parse_parts(buf, len, &p, err))
        return false;
    unsigned n = vm->ncpus;
    CpuX86State *cpu = g_new0(CpuX86State, n), *old_cpu = g_new0(CpuX86State, n);
    GByteArray *old_devices = g_byte_array_new();
    bool ok = false;
    g_mutex_lock(&vm->lock);
    if (!vm_cpu_quiesce(vm, err))
        goto out;
    unsigned legacy = vm_legacy_device_count(vm);
    if (legacy) {
        fail(err, "%u devices of this VM cannot load state yet (issue 13's device "
             "conversion is not finished)", legacy);
        goto out;
    }
    if (p.ncpus != n) {
        fail(err, "saved with %u vCPUs; this VM has %u", p.ncpus, n);
        goto out;
    }
    /* Everything that can be checked without changing the VM. */
    if (n == 1) {
        if (!vmstate_load(&cpu_desc, "cpu", "cpu0", cpu, sizeof(*cpu), p.cpu, p.cpu_len, err))
            goto out;
    } else {
        size_t pos = 0;
        for (unsigned i = 0; i < n; i++) {
            g_autofree char *id = g_strdup_printf("cpu%u", i);
            if (p.cpu_len - pos < 4 || stream_get_le32(p.cpu + pos) > p.cpu_len - pos - 4) {
                fail(err, "truncated in the section of vCPU %u", i);
                goto out;
            }
            size_t sec = stream_get_le32(p.cpu + pos);
            if (!vmstate_load(&cpu_desc, "cpu", id, &cpu[i], sizeof(*cpu), p.cpu + pos + 4, sec, err))
                goto out;
            pos += 4 + sec;
        }
        if (pos != p.cpu_len) {
            fail(err, "bytes after the last vCPU's section");
            goto out;
        }
    }
    if (!ram_state_check(vm->mem, p.ram, p.ram_len, err))
        goto out;

    /* Then in an order that can be undone: the clock (device timers are re-armed at
     * saved absolute times), the CPU, the devices; RAM last, as it was checked. */
    int64_t old_clock = vm_clock_ns(vm);
    for (unsigned i = 0; i < n; i++)
        if (!vm->accel->vcpu_get_state(&vm->vcpus[i], &old_cpu[i], err))
            goto out;
    device_list_save(vm, old_devices);
    vm_clock_set_stopped(vm, p.clock);
    for (unsigned i = 0; i < n; i++) {
        if (!vm->accel->vcpu_set_state(&vm->vcpus[i], &cpu[i], err)) {
            while (i-- > 0)
                vm->accel->vcpu_set_state(&vm->vcpus[i], &old_cpu[i], NULL);
            vm_clock_set_stopped(vm, old_clock);
            goto out;
        }
    }
    if (!device_list_load(vm, p.devices, p.devices_len, err)) {
        for (unsigned i = 0; i < n; i++)
            vm->accel->vcpu_set_state(&vm->vcpus[i], &old_cpu[i], NULL);
        vm_clock_set_stopped(vm, old_clock);
        goto out;
    }
    if (!ram_state_load_checked(vm->mem, p.ram, p.ram_len, err)) {
        /* Checked above: only running out of memory could bring us here. */
        vm_clock_set_stopped(vm, old_clock);
        device_list_load(vm, old_devices->data, old_devices->len, NULL);
        for (unsigned i = 0; i < n; i++)
            vm->accel->vcpu_set_state(&vm->vcpus[i], &old_cpu[i], NULL);
        goto out;
    }
    /* INIT and STARTUP messages on their way belong to the state that was replaced. */
    for (unsigned i = 0; i < n; i++)
        atomic_fetch_and(&vm->vcpus[i].requests, ~(unsigned)(VCPU_REQ_INIT | VCPU_REQ_SIPI));
    ok = true;
out:
    g_mutex_unlock(&vm->lock);
    g_byte_array_unref(old_devices);
    g_free(cpu);
    g_free(old_cpu);
    return ok;
}
