/* SPDX-License-Identifier: GPL-2.0-or-later */
/* disk-io: drives the block layer from test scripts, like qemu-io does for QEMU.
 *
 *   disk-io [-f fmt] [-r] [-t] [-U] [-L] FILE CMD [CMD...]
 *   CMD: write:PAT:OFF:LEN  read:PAT:OFF:LEN  zero:OFF:LEN  zero-unmap:OFF:LEN
 *        discard:OFF:LEN  flush  dump:OFF:LEN (hex of the first 16 bytes)
 *   qcow2 VM state: vmwrite:SEED:POS:LEN  vmread:SEED:POS:LEN  vmdump:POS:LEN:FILE
 *        vmload:POS:FILE  savevm:NAME:VM_STATE_SIZE:VM_CLOCK_NS  loadvm:NAME
 *        hold (prints "holding" and keeps the image open until stdin ends)
 * PAT is a byte value (0-255) the range is filled with or must hold; read fails
 * (exit 1) on the first mismatch. vmwrite/vmread use a pattern that depends on SEED and
 * on each byte's position in the VM state, so misplaced bytes show. vmdump copies VM
 * state bytes into FILE, vmload writes FILE's bytes there. -r opens read-only, -t under
 * a temporary overlay, -U with force-share (implies -r), -L without image locks
 * (file.locking=off). */
#include "disks/block.h"
#include "disks/image-ops.h"
#include "disks/qcow2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t num(const char *s)
{
    uint64_t v;
    if (g_str_has_prefix(s, "0x")) {
        char *end;
        v = strtoull(s + 2, &end, 16);
        if (*end == 0 && end != s + 2)
            return v;
    }
    if (!image_parse_size(s, &v)) {
        fprintf(stderr, "disk-io: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

/* The byte at VM state position pos for seed: 8 bytes of a hash per 8-byte word. */
static uint8_t vm_pattern(uint64_t seed, uint64_t pos)
{
    uint64_t z = (pos >> 3) * 0x9e3779b97f4a7c15ULL + seed * 0xd1b54a32d192ed03ULL + 1;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (uint8_t)(z >> ((pos & 7) * 8));
}

int main(int argc, char **argv)
{
    BlockOpenOptions o = { 0 };
    bool temp = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-f") && i + 1 < argc)
            o.format = argv[++i];
        else if (!strcmp(argv[i], "-r"))
            o.read_only = true;
        else if (!strcmp(argv[i], "-t"))
            temp = true;
        else if (!strcmp(argv[i], "-U"))
            o.force_share = o.read_only = true;
        else if (!strcmp(argv[i], "-L"))
            o.no_locking = true;
        else {
            fprintf(stderr, "disk-io: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: disk-io [-f fmt] [-r] [-t] [-U] [-L] FILE CMD...\n");
        return 2;
    }
    GError *err = NULL;
    BlockImage *img = temp ? block_open_with_temp_overlay(argv[i], &o, &err)
                           : block_open(argv[i], &o, &err);
    if (!img) {
        fprintf(stderr, "disk-io: %s\n", err->message);
        return 1;
    }
    int rc = 0;
    for (i++; i < argc && rc == 0; i++) {
        gchar **f = g_strsplit(argv[i], ":", -1);
        guint n = g_strv_length(f);
        bool ok = true;
        if (!strcmp(f[0], "write") && n == 4) {
            uint64_t len = num(f[3]);
            uint8_t *buf = g_malloc(len ? len : 1);
            memset(buf, (int)num(f[1]), len);
            ok = block_pwrite(img, num(f[2]), buf, len, &err);
            g_free(buf);
        } else if (!strcmp(f[0], "read") && n == 4) {
            uint64_t len = num(f[3]), off = num(f[2]);
            uint8_t pat = (uint8_t)num(f[1]);
            uint8_t *buf = g_malloc(len ? len : 1);
            ok = block_pread(img, off, buf, len, &err);
            for (uint64_t k = 0; ok && k < len; k++) {
                if (buf[k] != pat) {
                    fprintf(stderr, "disk-io: byte at %" PRIu64 " is 0x%02x, expected 0x%02x\n",
                            off + k, buf[k], pat);
                    rc = 1;
                    break;
                }
            }
            g_free(buf);
        } else if ((!strcmp(f[0], "zero") || !strcmp(f[0], "zero-unmap")) && n == 3) {
            ok = block_write_zeroes(img, num(f[1]), num(f[2]), !strcmp(f[0], "zero-unmap"), &err);
        } else if (!strcmp(f[0], "discard") && n == 3) {
            ok = block_discard(img, num(f[1]), num(f[2]), &err);
        } else if (!strcmp(f[0], "flush") && n == 1) {
            ok = block_flush(img, &err);
        } else if (!strcmp(f[0], "hold") && n == 1) {
            printf("holding\n");
            fflush(stdout);
            while (getchar() != EOF) {
            }
        } else if (!strcmp(f[0], "dump") && n == 3) {
            uint64_t len = num(f[2]);
            uint8_t *buf = g_malloc(len ? len : 1);
            ok = block_pread(img, num(f[1]), buf, len, &err);
            for (uint64_t k = 0; ok && k < len && k < 16; k++)
                printf("%02x", buf[k]);
            printf("\n");
            g_free(buf);
        } else if (!strcmp(f[0], "vmwrite") && n == 4) {
            uint64_t seed = num(f[1]), pos = num(f[2]), len = num(f[3]);
            uint8_t *buf = g_malloc(len ? len : 1);
            for (uint64_t k = 0; k < len; k++)
                buf[k] = vm_pattern(seed, pos + k);
            ok = qcow2_vmstate_write(img, pos, buf, len, &err);
            g_free(buf);
        } else if (!strcmp(f[0], "vmread") && n == 4) {
            uint64_t seed = num(f[1]), pos = num(f[2]), len = num(f[3]);
            uint8_t *buf = g_malloc(len ? len : 1);
            ok = qcow2_vmstate_read(img, pos, buf, len, &err);
            for (uint64_t k = 0; ok && k < len; k++) {
                if (buf[k] != vm_pattern(seed, pos + k)) {
                    fprintf(stderr, "disk-io: VM state byte at %" PRIu64 " is 0x%02x, "
                            "expected 0x%02x\n", pos + k, buf[k], vm_pattern(seed, pos + k));
                    rc = 1;
                    break;
                }
            }
            g_free(buf);
        } else if (!strcmp(f[0], "vmdump") && n == 4) {
            uint64_t len = num(f[2]);
            uint8_t *buf = g_malloc(len ? len : 1);
            ok = qcow2_vmstate_read(img, num(f[1]), buf, len, &err) &&
                 g_file_set_contents(f[3], (const char *)buf, (gssize)len, &err);
            g_free(buf);
        } else if (!strcmp(f[0], "vmload") && n == 3) {
            gchar *data = NULL;
            gsize len = 0;
            ok = g_file_get_contents(f[2], &data, &len, &err) &&
                 qcow2_vmstate_write(img, num(f[1]), data, len, &err);
            g_free(data);
        } else if (!strcmp(f[0], "savevm") && n == 4) {
            ok = qcow2_snapshot_create_full(img, f[1], num(f[2]), num(f[3]), &err);
        } else if (!strcmp(f[0], "loadvm") && n == 2) {
            ok = qcow2_snapshot_apply(img, f[1], &err);
        } else {
            fprintf(stderr, "disk-io: bad command '%s'\n", argv[i]);
            rc = 2;
        }
        if (!ok) {
            fprintf(stderr, "disk-io: %s: %s\n", argv[i], err->message);
            g_clear_error(&err);
            rc = 1;
        }
        g_strfreev(f);
    }
    if (!block_close(img, &err)) {
        fprintf(stderr, "disk-io: close: %s\n", err->message);
        g_error_free(err);
        rc = rc ? rc : 1;
    }
    return rc;
}
