/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vireo-img: the disk image tool, with qemu-img's verbs, options and output.
 * Bad usage prints one line and exits 2; failures exit 1 (check and compare use
 * qemu-img's own exit codes). */
#include "disks/block.h"
#include "disks/image-ops.h"
#include "disks/qcow2.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2

static const char *command = "";
static bool quiet;
/* -U (--force-share): read an image even while another process writes it, as qemu-img. */
static bool force_share;

static G_NORETURN void usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static G_NORETURN void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "vireo-img: %s%s%s (see vireo-img --help)\n", command, *command ? ": " : "",
            msg);
    g_free(msg);
    exit(EXIT_USAGE);
}

static int fail(GError *err)
{
    bool locked = g_error_matches(err, BLOCK_ERROR, BLOCK_ERROR_LOCKED);
    fprintf(stderr, "vireo-img: %s%s\n", err ? err->message : "unknown error",
            locked && !force_share ? " (read-only commands read it anyway with -U, --force-share)"
                                   : "");
    if (err)
        g_error_free(err);
    return 1;
}

static void print_progress(void *opaque, double percent)
{
    if (quiet)
        return;
    printf("    (%3.2f/100%%)\r", percent);
    fflush(stdout);
}

static void end_progress(bool shown)
{
    if (shown && !quiet)
        printf("\n");
}

/* qemu-img's rendering of a byte count: three significant digits, binary units, the
 * unit chosen so the number stays below 1000. */
static char *size_to_str(uint64_t v)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    int i = 0;
    while (i < 6 && (unsigned __int128)v * 1024 >= (unsigned __int128)1000 << (10 * (i + 1)))
        i++;
    return g_strdup_printf("%0.3g %s", (double)v / (double)(1ULL << (i * 10)), units[i]);
}

static void json_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default:
            if (*p < 0x20)
                g_string_append_printf(out, "\\u%04x", *p);
            else
                g_string_append_c(out, (char)*p);
        }
    }
    g_string_append_c(out, '"');
}

/* A JSON object written one member at a time, indented like qemu-img's output. */
typedef struct JsonObj {
    GString *out;
    int indent;
    bool first;
} JsonObj;

static void json_begin(JsonObj *j, GString *out, int indent)
{
    j->out = out;
    j->indent = indent;
    j->first = true;
    g_string_append(out, "{");
}

static void json_key(JsonObj *j, const char *key)
{
    g_string_append(j->out, j->first ? "\n" : ",\n");
    j->first = false;
    g_string_append_printf(j->out, "%*s", j->indent + 4, "");
    json_string(j->out, key);
    g_string_append(j->out, ": ");
}

static void json_end(JsonObj *j)
{
    g_string_append_printf(j->out, "\n%*s}", j->indent, "");
}

static void json_int(JsonObj *j, const char *key, uint64_t v)
{
    json_key(j, key);
    g_string_append_printf(j->out, "%" PRIu64, v);
}

static void json_bool(JsonObj *j, const char *key, bool v)
{
    json_key(j, key);
    g_string_append(j->out, v ? "true" : "false");
}

static void json_str(JsonObj *j, const char *key, const char *v)
{
    json_key(j, key);
    json_string(j->out, v);
}

/* Option helpers --------------------------------------------------------------------*/

static uint64_t parse_size_arg(const char *what, const char *arg)
{
    uint64_t v;
    if (!image_parse_size(arg, &v))
        usage_error("invalid %s '%s'", what, arg);
    return v;
}

static unsigned parse_uint_arg(const char *what, const char *arg, unsigned min, unsigned max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (!*arg || *end || errno || v < min || v > max || arg[0] == '-')
        usage_error("invalid %s '%s' (expected %u..%u)", what, arg, min, max);
    return (unsigned)v;
}

static BlockCacheMode parse_cache_arg(const char *arg)
{
    BlockCacheMode m;
    if (!block_cache_mode_parse(arg, &m))
        usage_error("invalid cache mode '%s' (none, writeback, writethrough, directsync, unsafe)",
                    arg);
    return m;
}

static bool output_json(const char *arg)
{
    if (!strcmp(arg, "json"))
        return true;
    if (!strcmp(arg, "human"))
        return false;
    usage_error("--output must be human or json, not '%s'", arg);
}

/* A format vireo-img reads: raw and qcow2, and read-only the formats of other products. */
static void check_format_name(const char *fmt)
{
    static const char *const known[] = { "raw", "qcow2", "vmdk", "vdi", "vpc", "vhd", "vhdx" };
    for (size_t i = 0; fmt && i < G_N_ELEMENTS(known); i++)
        if (!strcmp(fmt, known[i]))
            return;
    if (fmt)
        usage_error("unknown format '%s' (vireo-img reads raw, qcow2, vmdk, vdi, vpc and vhdx)",
                    fmt);
}

/* A format vireo-img writes. */
static void check_output_format(const char *fmt)
{
    check_format_name(fmt);
    if (strcmp(fmt, "raw") && strcmp(fmt, "qcow2"))
        usage_error("vireo-img reads %s images but writes only raw and qcow2", fmt);
}

/* Applies one -o list ("cluster_size=64k,preallocation=metadata") to create options. */
static void apply_create_options(ImageCreateOptions *c, const char *list, bool allow_size)
{
    gchar **items = g_strsplit(list, ",", -1);
    for (gchar **it = items; *it; it++) {
        if (!**it)
            continue;
        char *eq = strchr(*it, '=');
        if (!strcmp(*it, "help") || !strcmp(*it, "?")) {
            printf("Supported options:\n"
                   "  backing_file=<str>      - File name of a base image\n"
                   "  backing_fmt=<str>       - Image format of the base image\n"
                   "  cluster_size=<size>     - qcow2 cluster size (512 to 2M)\n"
                   "  compat=<str>            - 1.1 (qcow2 version 3, the only one written)\n"
                   "  compression_type=<str>  - zlib or zstd\n"
                   "  preallocation=<str>     - off, metadata, falloc or full\n"
                   "  refcount_bits=<num>     - 1, 2, 4, 8, 16, 32 or 64\n"
                   "  size=<size>             - Virtual disk size\n");
            exit(0);
        }
        if (!eq)
            usage_error("invalid option '%s' in -o (expected name=value)", *it);
        *eq = 0;
        const char *key = *it, *val = eq + 1;
        if (!strcmp(key, "size") && allow_size) {
            c->size = parse_size_arg("size", val);
            c->size_given = true;
        } else if (!strcmp(key, "cluster_size")) {
            uint64_t v = parse_size_arg("cluster_size", val);
            if (v < 512 || v > 2 * 1024 * 1024 || (v & (v - 1)))
                usage_error("cluster_size must be a power of two between 512 and 2M");
            c->cluster_size = (uint32_t)v;
        } else if (!strcmp(key, "refcount_bits")) {
            unsigned v = parse_uint_arg("refcount_bits", val, 1, 64);
            if (v & (v - 1))
                usage_error("refcount_bits must be a power of two up to 64");
            c->refcount_bits = v;
        } else if (!strcmp(key, "compression_type")) {
            if (!qcow2_compression_type_parse(val, &c->compression_type))
                usage_error("compression_type must be zlib or zstd, not '%s'", val);
        } else if (!strcmp(key, "preallocation")) {
            if (!block_prealloc_parse(val, &c->prealloc))
                usage_error("preallocation must be off, metadata, falloc or full, not '%s'", val);
        } else if (!strcmp(key, "backing_file")) {
            c->backing_file = g_strdup(val);
        } else if (!strcmp(key, "backing_fmt")) {
            check_format_name(val);
            c->backing_format = g_strdup(val);
        } else if (!strcmp(key, "compat")) {
            if (strcmp(val, "1.1") && strcmp(val, "v3"))
                usage_error("compat=%s is not supported: vireo-img writes qcow2 version 3 "
                            "(compat=1.1) only", val);
        } else if (!strcmp(key, "lazy_refcounts") || !strcmp(key, "extended_l2")) {
            if (strcmp(val, "off") && strcmp(val, "false"))
                usage_error("%s=%s is not supported", key, val);
        } else {
            usage_error("invalid option '%s' in -o", key);
        }
    }
    g_strfreev(items);
}

/* Splits argv into options (handled by getopt) and operands. */
typedef struct Args {
    int argc;
    char **argv;
} Args;

static char *next_operand(int argc, char **argv, int *idx)
{
    return *idx < argc ? argv[(*idx)++] : NULL;
}

static void no_more_operands(int argc, char **argv, int idx)
{
    if (idx < argc)
        usage_error("unexpected argument '%s'", argv[idx]);
}

static void bad_option(int c, char **argv)
{
    if (c == ':')
        usage_error("option '%s' needs an argument", argv[optind - 1]);
    usage_error("unknown option '%s'", argv[optind - 1]);
}

/* create -------------------------------------------------------------------------------*/

static int cmd_create(int argc, char **argv)
{
    ImageCreateOptions c = { .format = "raw" };
    static const struct option longopts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:b:F:o:uqh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_output_format(optarg); c.format = optarg; break;
        case 'b': c.backing_file = optarg; break;
        case 'F': check_format_name(optarg); c.backing_format = optarg; break;
        case 'o': apply_create_options(&c, optarg, true); break;
        case 'u': c.unsafe_backing = true; break;
        case 'q': quiet = true; break;
        case 'h': printf("usage: vireo-img create [-q] [-f fmt] [-b backing [-F fmt]] [-u] [-o options] filename [size]\n"); return 0;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    const char *size = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!filename)
        usage_error("expecting a filename");
    if (size) {
        c.size = parse_size_arg("size", size);
        c.size_given = true;
    }
    if (c.backing_format && !c.backing_file)
        usage_error("-F needs -b");
    /* As qemu-img: the size is known (given, or the backing file's) before "Formatting". */
    if (!c.size_given && (!c.backing_file || c.unsafe_backing)) {
        fprintf(stderr, "vireo-img: %s: Image creation needs a size parameter\n", filename);
        return 1;
    }
    if (!c.size_given) {
        char *path = block_resolve_backing_path(filename, c.backing_file);
        BlockOpenOptions bo = { .read_only = true, .format = c.backing_format };
        GError *err = NULL;
        BlockImage *b = block_open(path, &bo, &err);
        g_free(path);
        if (!b) {
            fprintf(stderr, "vireo-img: %s: Could not open backing image: %s\n", filename,
                    err->message);
            g_error_free(err);
            return 1;
        }
        c.size = block_size(b);
        c.size_given = true;
        block_close(b, NULL);
    }
    if (!quiet) {
        GString *line = g_string_new(NULL);
        g_string_append_printf(line, "Formatting '%s', fmt=%s", filename, c.format);
        if (!strcmp(c.format, "qcow2"))
            g_string_append_printf(line, " cluster_size=%u extended_l2=off compression_type=%s",
                                   c.cluster_size ? c.cluster_size : 65536,
                                   c.compression_type == QCOW2_COMPRESSION_ZSTD ? "zstd" : "zlib");
        if (c.prealloc != BLOCK_PREALLOC_OFF)
            g_string_append_printf(line, " preallocation=%s", block_prealloc_name(c.prealloc));
        if (c.size_given)
            g_string_append_printf(line, " size=%" PRIu64, c.size);
        if (c.backing_file)
            g_string_append_printf(line, " backing_file=%s", c.backing_file);
        if (c.backing_format)
            g_string_append_printf(line, " backing_fmt=%s", c.backing_format);
        if (!strcmp(c.format, "qcow2"))
            g_string_append_printf(line, " lazy_refcounts=off refcount_bits=%u",
                                   c.refcount_bits ? c.refcount_bits : 16);
        printf("%s\n", line->str);
        g_string_free(line, TRUE);
    }
    GError *err = NULL;
    if (!image_create(filename, &c, &err))
        return fail(err);
    return 0;
}

/* info ---------------------------------------------------------------------------------*/

static void snapshot_table(GString *out, GPtrArray *snaps)
{
    g_string_append(out, "Snapshot list:\n");
    g_string_append_printf(out, "%-9s %-16s %8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE",
                           "VM CLOCK", "ICOUNT");
    for (guint i = 0; i < snaps->len; i++) {
        Qcow2SnapshotInfo *sn = g_ptr_array_index(snaps, i);
        char *vm = size_to_str(sn->vm_state_size);
        time_t t = sn->date_sec;
        struct tm tm;
        char date[32];
        localtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
        uint64_t ms = sn->vm_clock_nsec / 1000000;
        char clock[48];
        snprintf(clock, sizeof(clock), "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64,
                 ms / 3600000, (ms / 60000) % 60, (ms / 1000) % 60, ms % 1000);
        char icount[24] = "";
        if (sn->has_icount && sn->icount != UINT64_MAX)
            snprintf(icount, sizeof(icount), "%" PRIu64, sn->icount);
        /* qemu-img's widths with no separators of their own: a VM clock of 100 hours
         * or more runs into the date, as it does there. */
        g_string_append_printf(out, "%-9s %-16s %8s%20s%13s%11s\n", sn->id, sn->name, vm, date,
                               clock, icount);
        g_free(vm);
    }
}

static void info_human(GString *out, BlockImage *img, const BlockImageInfo *info,
                       GPtrArray *snaps)
{
    char *vs = size_to_str(info->virtual_size), *ds = size_to_str(info->actual_size);
    g_string_append_printf(out, "image: %s\nfile format: %s\nvirtual size: %s (%" PRIu64 " bytes)\n"
                                "disk size: %s\n",
                           info->filename, info->format, vs, info->virtual_size, ds);
    g_free(vs);
    g_free(ds);
    if (info->cluster_size)
        g_string_append_printf(out, "cluster_size: %" PRIu64 "\n", info->cluster_size);
    if (info->dirty)
        g_string_append(out, "cleanly shut down: no\n");
    if (info->backing_filename) {
        g_string_append_printf(out, "backing file: %s", info->backing_filename);
        if (info->full_backing_filename &&
            strcmp(info->backing_filename, info->full_backing_filename))
            g_string_append_printf(out, " (actual path: %s)", info->full_backing_filename);
        g_string_append(out, "\n");
        if (info->backing_format)
            g_string_append_printf(out, "backing file format: %s\n", info->backing_format);
    }
    if (snaps && snaps->len)
        snapshot_table(out, snaps);
    Qcow2FormatInfo q;
    if (qcow2_get_format_info(img, &q)) {
        const char *ct = q.compression_type == QCOW2_COMPRESSION_ZSTD ? "zstd" : "zlib";
        g_string_append(out, "Format specific information:\n");
        g_string_append_printf(out, "    compat: %s\n    compression type: %s\n",
                               q.version >= 3 ? "1.1" : "0.10", ct);
        if (q.version >= 3)
            g_string_append_printf(out, "    lazy refcounts: %s\n",
                                   q.lazy_refcounts ? "true" : "false");
        g_string_append_printf(out, "    refcount bits: %u\n", q.refcount_bits);
        if (q.version >= 3)
            g_string_append_printf(out, "    corrupt: %s\n    extended l2: %s\n",
                                   q.corrupt ? "true" : "false", q.extended_l2 ? "true" : "false");
    }
}

static void info_json(GString *out, BlockImage *img, const BlockImageInfo *info,
                      GPtrArray *snaps, int indent)
{
    JsonObj j;
    json_begin(&j, out, indent);
    if (snaps && snaps->len) {
        json_key(&j, "snapshots");
        g_string_append(out, "[");
        for (guint i = 0; i < snaps->len; i++) {
            Qcow2SnapshotInfo *sn = g_ptr_array_index(snaps, i);
            g_string_append_printf(out, "%s\n%*s", i ? "," : "", indent + 8, "");
            JsonObj s;
            json_begin(&s, out, indent + 8);
            if (sn->has_icount && sn->icount != UINT64_MAX)
                json_int(&s, "icount", sn->icount);
            json_int(&s, "vm-clock-nsec", sn->vm_clock_nsec % 1000000000);
            json_str(&s, "name", sn->name);
            json_int(&s, "date-sec", sn->date_sec);
            json_int(&s, "date-nsec", sn->date_nsec);
            json_int(&s, "vm-clock-sec", sn->vm_clock_nsec / 1000000000);
            json_str(&s, "id", sn->id);
            json_int(&s, "vm-state-size", sn->vm_state_size);
            json_end(&s);
        }
        g_string_append_printf(out, "\n%*s]", indent + 4, "");
    }
    if (info->backing_format)
        json_str(&j, "backing-filename-format", info->backing_format);
    json_int(&j, "virtual-size", info->virtual_size);
    json_str(&j, "filename", info->filename);
    if (info->cluster_size)
        json_int(&j, "cluster-size", info->cluster_size);
    json_str(&j, "format", info->format);
    json_int(&j, "actual-size", info->actual_size);
    Qcow2FormatInfo q;
    if (qcow2_get_format_info(img, &q)) {
        json_key(&j, "format-specific");
        JsonObj fs;
        json_begin(&fs, out, indent + 4);
        json_str(&fs, "type", "qcow2");
        json_key(&fs, "data");
        JsonObj d;
        json_begin(&d, out, indent + 8);
        json_str(&d, "compat", q.version >= 3 ? "1.1" : "0.10");
        json_str(&d, "compression-type",
                 q.compression_type == QCOW2_COMPRESSION_ZSTD ? "zstd" : "zlib");
        if (q.version >= 3)
            json_bool(&d, "lazy-refcounts", q.lazy_refcounts);
        json_int(&d, "refcount-bits", q.refcount_bits);
        if (q.version >= 3) {
            json_bool(&d, "corrupt", q.corrupt);
            json_bool(&d, "extended-l2", q.extended_l2);
        }
        json_end(&d);
        json_end(&fs);
    }
    if (info->full_backing_filename)
        json_str(&j, "full-backing-filename", info->full_backing_filename);
    if (info->backing_filename)
        json_str(&j, "backing-filename", info->backing_filename);
    json_bool(&j, "dirty-flag", info->dirty);
    json_end(&j);
}

static int cmd_info(int argc, char **argv)
{
    const char *format = NULL;
    bool json = false, chain = false;
    enum { OPT_OUTPUT = 256, OPT_CHAIN };
    static const struct option longopts[] = {
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "backing-chain", no_argument, NULL, OPT_CHAIN },
        { "force-share", no_argument, NULL, 'U' },
        { 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:U", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); format = optarg; break;
        case 'U': force_share = true; break;
        case OPT_OUTPUT: json = output_json(optarg); break;
        case OPT_CHAIN: chain = true; break;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!filename)
        usage_error("expecting a filename");
    /* Without --backing-chain a missing backing file must not stop info. */
    BlockOpenOptions o = { .read_only = true, .format = format, .no_backing = !chain,
                           .check_mode = true, .force_share = force_share };
    GError *err = NULL;
    BlockImage *img = block_open(filename, &o, &err);
    if (!img)
        return fail(err);
    GString *out = g_string_new(NULL);
    if (chain && json)
        g_string_append(out, "[\n    ");
    bool first = true;
    for (BlockImage *layer = img; layer; layer = chain ? block_backing(layer) : NULL) {
        BlockImageInfo info;
        block_get_info(layer, &info, NULL);
        GPtrArray *snaps = qcow2_snapshot_list(layer, NULL);
        if (json) {
            if (!first)
                g_string_append(out, ",\n    ");
            info_json(out, layer, &info, snaps, chain ? 4 : 0);
        } else {
            if (!first)
                g_string_append(out, "\n");
            info_human(out, layer, &info, snaps);
        }
        first = false;
        g_free(info.full_backing_filename);
        if (snaps)
            g_ptr_array_free(snaps, TRUE);
    }
    if (chain && json)
        g_string_append(out, "\n]");
    if (json)
        g_string_append(out, "\n");
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    block_close(img, NULL);
    return 0;
}

/* check --------------------------------------------------------------------------------*/

static void report_to_stderr(void *opaque, const char *line)
{
    if (!*(bool *)opaque)
        fprintf(stderr, "%s\n", line);
}

static void print_check_human(const char *filename, const Qcow2CheckResult *r)
{
    if (r->corruptions)
        printf("\n%" PRIu64 " errors were found on the image.\n"
               "Data may be corrupted, or further writes to the image may corrupt it.\n",
               r->corruptions);
    if (r->leaks)
        printf("\n%" PRIu64 " leaked clusters were found on the image.\n"
               "This means waste of disk space, but no harm to data.\n", r->leaks);
    if (r->check_errors)
        printf("\n%" PRIu64 " internal errors have occurred during the check.\n", r->check_errors);
    if (!r->corruptions && !r->leaks && !r->check_errors)
        printf("No errors were found on the image.\n");
    if (r->total_clusters && r->allocated_clusters)
        printf("%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% "
               "compressed clusters\n",
               r->allocated_clusters, r->total_clusters,
               r->allocated_clusters * 100.0 / r->total_clusters,
               r->fragmented_clusters * 100.0 / r->allocated_clusters,
               r->compressed_clusters * 100.0 / r->allocated_clusters);
    if (r->image_end_offset)
        printf("Image end offset: %" PRIu64 "\n", r->image_end_offset);
}

static void print_check_json(const char *filename, const char *format, const Qcow2CheckResult *r)
{
    GString *out = g_string_new(NULL);
    JsonObj j;
    json_begin(&j, out, 0);
    if (r->image_end_offset)
        json_int(&j, "image-end-offset", r->image_end_offset);
    if (r->total_clusters)
        json_int(&j, "total-clusters", r->total_clusters);
    json_int(&j, "check-errors", r->check_errors);
    if (r->corruptions)
        json_int(&j, "corruptions", r->corruptions);
    if (r->leaks)
        json_int(&j, "leaks", r->leaks);
    if (r->corruptions_fixed)
        json_int(&j, "corruptions-fixed", r->corruptions_fixed);
    if (r->leaks_fixed)
        json_int(&j, "leaks-fixed", r->leaks_fixed);
    if (r->allocated_clusters)
        json_int(&j, "allocated-clusters", r->allocated_clusters);
    if (r->fragmented_clusters)
        json_int(&j, "fragmented-clusters", r->fragmented_clusters);
    if (r->compressed_clusters)
        json_int(&j, "compressed-clusters", r->compressed_clusters);
    json_str(&j, "filename", filename);
    json_str(&j, "format", format);
    json_end(&j);
    printf("%s\n", out->str);
    g_string_free(out, TRUE);
}

static int cmd_check(int argc, char **argv)
{
    const char *format = NULL;
    bool json = false;
    Qcow2RepairMode mode = QCOW2_REPAIR_NONE;
    enum { OPT_OUTPUT = 256 };
    static const struct option longopts[] = {
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "repair", required_argument, NULL, 'r' },
        { "force-share", no_argument, NULL, 'U' },
        { 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:r:qU", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); format = optarg; break;
        case 'r':
            if (!strcmp(optarg, "leaks"))
                mode = QCOW2_REPAIR_LEAKS;
            else if (!strcmp(optarg, "all"))
                mode = QCOW2_REPAIR_ALL;
            else
                usage_error("-r must be leaks or all, not '%s'", optarg);
            break;
        case 'q': quiet = true; break;
        case 'U': force_share = true; break;
        case OPT_OUTPUT: json = output_json(optarg); break;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!filename)
        usage_error("expecting a filename");
    if (force_share && mode != QCOW2_REPAIR_NONE)
        usage_error("-U (--force-share) is for read-only commands; a repair writes");
    BlockOpenOptions o = { .read_only = mode == QCOW2_REPAIR_NONE, .format = format,
                           .no_backing = true, .check_mode = true, .force_share = force_share };
    GError *err = NULL;
    BlockImage *img = block_open(filename, &o, &err);
    if (!img)
        return fail(err);
    Qcow2CheckResult r = { 0 };
    bool silent = quiet || json;
    const char *img_format = block_format_name(img); /* a driver's static name */
    if (strcmp(img_format, "qcow2")) {
        /* Formats with tables but no refcounts: entries inside the file, none shared. */
        BlockCheckResult t;
        if (!block_check_tables(img, &t, report_to_stderr, &silent, &err)) {
            bool unsupported = g_error_matches(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED);
            fprintf(stderr, "vireo-img: %s%s\n", unsupported ? "" : "Check failed: ", err->message);
            g_error_free(err);
            block_close(img, NULL);
            return unsupported ? 63 : 1;
        }
        r.corruptions = t.corruptions;
        r.total_clusters = t.total_clusters;
        r.allocated_clusters = t.allocated_clusters;
    } else if (!qcow2_check(img, mode, &r, report_to_stderr, &silent, &err)) {
        block_close(img, NULL);
        fprintf(stderr, "vireo-img: Check failed: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    if (mode != QCOW2_REPAIR_NONE && (r.leaks_fixed || r.corruptions_fixed)) {
        if (!silent)
            printf("The following inconsistencies were found and repaired:\n\n"
                   "    %" PRIu64 " leaked clusters\n    %" PRIu64 " corruptions\n\n"
                   "Double checking the fixed image now...\n",
                   r.leaks_fixed, r.corruptions_fixed);
        Qcow2CheckResult again;
        if (!qcow2_check(img, QCOW2_REPAIR_NONE, &again, report_to_stderr, &silent, &err)) {
            block_close(img, NULL);
            fprintf(stderr, "vireo-img: Check failed: %s\n", err->message);
            g_error_free(err);
            return 1;
        }
        again.leaks_fixed = r.leaks_fixed;
        again.corruptions_fixed = r.corruptions_fixed;
        r = again;
    }
    if (!block_close(img, &err))
        return fail(err);
    if (json)
        print_check_json(filename, img_format, &r);
    else if (!quiet)
        print_check_human(filename, &r);
    if (r.check_errors)
        return 1;
    if (r.corruptions)
        return 2;
    if (r.leaks)
        return 3;
    return 0;
}

/* convert ------------------------------------------------------------------------------*/

static int cmd_convert(int argc, char **argv)
{
    ImageConvertOptions c = { .sparse_size = 4096, .dst_cache = BLOCK_CACHE_UNSAFE };
    c.target.format = "raw";
    bool progress = false;
    static const struct option longopts[] = { { "force-share", no_argument, NULL, 'U' }, { 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:O:B:F:o:S:t:T:cpqnU", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); c.src_format = optarg; break;
        case 'O': check_output_format(optarg); c.target.format = optarg; break;
        case 'B': c.target.backing_file = optarg; break;
        case 'F': check_format_name(optarg); c.target.backing_format = optarg; break;
        case 'o': apply_create_options(&c.target, optarg, false); break;
        case 'S':
            c.sparse_size = parse_size_arg("sparse size", optarg);
            if (c.sparse_size % 512 || c.sparse_size > 2 * 1024 * 1024)
                usage_error("-S must be a multiple of 512 up to 2M");
            break;
        case 't': c.dst_cache = parse_cache_arg(optarg); break;
        case 'T': c.src_cache = parse_cache_arg(optarg); break;
        case 'c': c.compress = true; break;
        case 'p': progress = true; break;
        case 'q': quiet = true; break;
        case 'n': c.skip_create = true; break;
        case 'U': force_share = true; break;
        default: bad_option(ch, argv);
        }
    }
    int n = argc - optind;
    if (n < 2)
        usage_error("expecting a source and a target filename");
    if (n > 2)
        usage_error("vireo-img converts one source image at a time");
    if (c.compress && strcmp(c.target.format, "qcow2"))
        usage_error("-c needs -O qcow2");
    if (c.target.backing_file && strcmp(c.target.format, "qcow2"))
        usage_error("-B needs -O qcow2");
    if (c.target.backing_file && c.skip_create)
        usage_error("-B makes no sense with -n (the target exists already)");
    if (c.target.backing_format && !c.target.backing_file)
        usage_error("-F needs -B");
    if (progress) {
        c.progress = print_progress;
        print_progress(NULL, 0);
    }
    c.src_force_share = force_share;
    GError *err = NULL;
    bool ok = image_convert(argv[optind], argv[optind + 1], &c, &err);
    end_progress(progress);
    return ok ? 0 : fail(err);
}

/* snapshot -----------------------------------------------------------------------------*/

static int cmd_snapshot(int argc, char **argv)
{
    const char *format = NULL;
    char action = 0;
    const char *name = NULL;
    static const struct option longopts[] = { { "force-share", no_argument, NULL, 'U' }, { 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:la:c:d:qU", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); format = optarg; break;
        case 'l':
        case 'a':
        case 'c':
        case 'd':
            if (action)
                usage_error("only one of -l, -a, -c, -d at a time");
            action = (char)ch;
            name = optarg;
            break;
        case 'q': quiet = true; break;
        case 'U': force_share = true; break;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!filename)
        usage_error("expecting a filename");
    if (!action)
        action = 'l';
    if (force_share && action != 'l')
        usage_error("-U (--force-share) is for read-only commands: only with -l");
    BlockOpenOptions o = { .read_only = action == 'l', .format = format, .no_backing = true,
                           .force_share = force_share };
    GError *err = NULL;
    BlockImage *img = block_open(filename, &o, &err);
    if (!img)
        return fail(err);
    bool ok = true;
    switch (action) {
    case 'l': {
        GPtrArray *snaps = qcow2_snapshot_list(img, &err);
        ok = snaps != NULL;
        if (ok) {
            GString *out = g_string_new(NULL);
            snapshot_table(out, snaps);
            fputs(out->str, stdout);
            g_string_free(out, TRUE);
            g_ptr_array_free(snaps, TRUE);
        }
        break;
    }
    case 'c': ok = qcow2_snapshot_create(img, name, &err); break;
    case 'a': ok = qcow2_snapshot_apply(img, name, &err); break;
    case 'd': ok = qcow2_snapshot_delete(img, name, &err); break;
    }
    if (!block_close(img, ok ? &err : NULL))
        ok = false;
    return ok ? 0 : fail(err);
}

/* commit -------------------------------------------------------------------------------*/

static int cmd_commit(int argc, char **argv)
{
    const char *format = NULL, *base = NULL;
    bool drop = false, progress = false;
    BlockCacheMode cache = BLOCK_CACHE_WRITEBACK;
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:t:b:dpq", NULL, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); format = optarg; break;
        case 't': cache = parse_cache_arg(optarg); break;
        case 'b': base = optarg; break;
        case 'd': drop = true; break;
        case 'p': progress = true; break;
        case 'q': quiet = true; break;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!filename)
        usage_error("expecting a filename");
    GError *err = NULL;
    bool ok = image_commit(filename, format, base, drop, cache,
                           progress ? print_progress : NULL, NULL, &err);
    end_progress(progress);
    if (!ok)
        return fail(err);
    if (!quiet)
        printf("Image committed.\n");
    return 0;
}

/* rebase -------------------------------------------------------------------------------*/

static int cmd_rebase(int argc, char **argv)
{
    const char *format = NULL, *backing = NULL, *backing_format = NULL;
    bool unsafe = false, progress = false;
    BlockCacheMode cache = BLOCK_CACHE_WRITEBACK, src_cache = BLOCK_CACHE_WRITEBACK;
    static const struct option longopts[] = { { "force-share", no_argument, NULL, 'U' }, { 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:t:T:b:F:upqU", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); format = optarg; break;
        case 't': cache = parse_cache_arg(optarg); break;
        case 'T': src_cache = parse_cache_arg(optarg); break;
        case 'b': backing = optarg; break;
        case 'F': check_format_name(optarg); backing_format = optarg; break;
        case 'u': unsafe = true; break;
        case 'p': progress = true; break;
        case 'q': quiet = true; break;
        case 'U': force_share = true; break;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!filename)
        usage_error("expecting a filename");
    if (!backing)
        usage_error("Must specify backing file (-b)");
    if (force_share)
        usage_error("-U (--force-share) is for read-only commands; rebase writes the image");
    GError *err = NULL;
    bool ok = image_rebase(filename, format, backing, backing_format, unsafe, cache, src_cache,
                           progress ? print_progress : NULL, NULL, &err);
    end_progress(progress);
    return ok ? 0 : fail(err);
}

/* resize -------------------------------------------------------------------------------*/

static int cmd_resize(int argc, char **argv)
{
    const char *format = NULL;
    bool shrink = false;
    BlockPrealloc prealloc = BLOCK_PREALLOC_OFF;
    enum { OPT_PREALLOC = 256, OPT_SHRINK };
    static const struct option longopts[] = {
        { "preallocation", required_argument, NULL, OPT_PREALLOC },
        { "shrink", no_argument, NULL, OPT_SHRINK },
        { 0 },
    };
    /* A size like "-1G" must not be taken for an option: set it aside first. */
    const char *size_arg = NULL;
    if (argc >= 3 && argv[argc - 1][0] == '-' && g_ascii_isdigit(argv[argc - 1][1])) {
        size_arg = argv[argc - 1];
        argc--;
    }
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:q", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); format = optarg; break;
        case 'q': quiet = true; break;
        case OPT_PREALLOC:
            if (!block_prealloc_parse(optarg, &prealloc))
                usage_error("--preallocation must be off, metadata, falloc or full");
            break;
        case OPT_SHRINK: shrink = true; break;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    if (!size_arg)
        size_arg = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!filename || !size_arg)
        usage_error("expecting a filename and a size");
    int sign = 0;
    if (*size_arg == '+' || *size_arg == '-')
        sign = *size_arg++ == '+' ? 1 : -1;
    uint64_t amount = parse_size_arg("size", size_arg);
    BlockOpenOptions o = { .format = format, .no_backing = true };
    GError *err = NULL;
    BlockImage *img = block_open(filename, &o, &err);
    if (!img)
        return fail(err);
    uint64_t cur = block_size(img), size = amount;
    if (sign > 0)
        size = cur + amount;
    else if (sign < 0) {
        if (amount > cur) {
            block_close(img, NULL);
            fprintf(stderr, "vireo-img: New image size must be positive\n");
            return 1;
        }
        size = cur - amount;
    }
    bool ok = block_truncate(img, size, prealloc, shrink, &err);
    if (!block_close(img, ok ? &err : NULL))
        ok = false;
    if (!ok)
        return fail(err);
    if (!quiet)
        printf("Image resized.\n");
    return 0;
}

/* map ----------------------------------------------------------------------------------*/

typedef struct MapOut {
    bool json;
    bool first;
    bool failed;
} MapOut;

static void map_entry(void *opaque, const ImageMapEntry *e)
{
    MapOut *m = opaque;
    if (m->failed)
        return;
    if (m->json) {
        printf("%s{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %u, \"present\": %s,"
               " \"zero\": %s, \"data\": %s",
               m->first ? "[" : ",\n", e->start, e->length, e->depth,
               e->present ? "true" : "false", e->zero ? "true" : "false",
               e->data ? "true" : "false");
        if (e->offset_valid)
            printf(", \"offset\": %" PRIu64, e->offset);
        printf("}");
    } else {
        if (e->data && !e->offset_valid) {
            fprintf(stderr, "vireo-img: File contains external, encrypted or compressed clusters.\n");
            m->failed = true;
            return;
        }
        if (m->first)
            printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
        if (e->data && !e->zero)
            printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n", e->start, e->length,
                   e->offset, e->filename);
    }
    m->first = false;
}

static int cmd_map(int argc, char **argv)
{
    const char *format = NULL;
    bool json = false;
    uint64_t start = 0, max_len = UINT64_MAX;
    enum { OPT_OUTPUT = 256, OPT_START, OPT_MAXLEN };
    static const struct option longopts[] = {
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "start-offset", required_argument, NULL, OPT_START },
        { "max-length", required_argument, NULL, OPT_MAXLEN },
        { "force-share", no_argument, NULL, 'U' },
        { 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:U", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); format = optarg; break;
        case 'U': force_share = true; break;
        case OPT_OUTPUT: json = output_json(optarg); break;
        case OPT_START: start = parse_size_arg("start offset", optarg); break;
        case OPT_MAXLEN: max_len = parse_size_arg("max length", optarg); break;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!filename)
        usage_error("expecting a filename");
    BlockOpenOptions o = { .read_only = true, .format = format, .force_share = force_share };
    GError *err = NULL;
    BlockImage *img = block_open(filename, &o, &err);
    if (!img)
        return fail(err);
    MapOut m = { .json = json, .first = true };
    bool ok = image_map(img, start, max_len, map_entry, &m, &err);
    if (json && !m.first)
        printf("]\n");
    else if (json)
        printf("[]\n");
    block_close(img, NULL);
    if (!ok)
        return fail(err);
    return m.failed ? 1 : 0;
}

/* compare ------------------------------------------------------------------------------*/

static int cmd_compare(int argc, char **argv)
{
    const char *fmt1 = NULL, *fmt2 = NULL;
    bool strict = false, progress = false;
    BlockCacheMode cache = BLOCK_CACHE_WRITEBACK;
    static const struct option longopts[] = { { "force-share", no_argument, NULL, 'U' }, { 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:F:T:spqU", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); fmt1 = optarg; break;
        case 'F': check_format_name(optarg); fmt2 = optarg; break;
        case 'T': cache = parse_cache_arg(optarg); break;
        case 's': strict = true; break;
        case 'p': progress = true; break;
        case 'q': quiet = true; break;
        case 'U': force_share = true; break;
        default: bad_option(ch, argv);
        }
    }
    if (argc - optind != 2)
        usage_error("expecting two filenames");
    char *msg = NULL;
    GError *err = NULL;
    ImageCompareResult r = image_compare(argv[optind], fmt1, argv[optind + 1], fmt2, strict,
                                         cache, force_share, progress ? print_progress : NULL,
                                         NULL, &msg, &err);
    end_progress(progress);
    if (err)
        fail(err);
    if (msg && !quiet && (r == IMAGE_COMPARE_SAME || r == IMAGE_COMPARE_DIFFERENT))
        printf("%s\n", msg);
    g_free(msg);
    return (int)r;
}

/* measure ------------------------------------------------------------------------------*/

static int cmd_measure(int argc, char **argv)
{
    const char *format = NULL;
    ImageCreateOptions t = { .format = "raw" };
    bool json = false, have_size = false;
    uint64_t size = 0;
    enum { OPT_OUTPUT = 256, OPT_SIZE };
    static const struct option longopts[] = {
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "size", required_argument, NULL, OPT_SIZE },
        { "force-share", no_argument, NULL, 'U' },
        { 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, ":f:O:o:U", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f': check_format_name(optarg); format = optarg; break;
        case 'O': check_output_format(optarg); t.format = optarg; break;
        case 'o': apply_create_options(&t, optarg, false); break;
        case 'U': force_share = true; break;
        case OPT_OUTPUT: json = output_json(optarg); break;
        case OPT_SIZE: size = parse_size_arg("size", optarg); have_size = true; break;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!!filename == have_size)
        usage_error("give either --size N or a filename");
    ImageMeasure m;
    GError *err = NULL;
    if (!image_measure(filename, format, force_share, size, &t, &m, &err))
        return fail(err);
    if (json) {
        GString *out = g_string_new(NULL);
        JsonObj j;
        json_begin(&j, out, 0);
        if (m.has_bitmaps)
            json_int(&j, "bitmaps", m.bitmaps);
        json_int(&j, "required", m.required);
        json_int(&j, "fully-allocated", m.fully_allocated);
        json_end(&j);
        printf("%s\n", out->str);
        g_string_free(out, TRUE);
    } else {
        printf("required size: %" PRIu64 "\nfully allocated size: %" PRIu64 "\n", m.required,
               m.fully_allocated);
        if (m.has_bitmaps)
            printf("bitmaps size: %" PRIu64 "\n", m.bitmaps);
    }
    return 0;
}

/* bench --------------------------------------------------------------------------------*/

static int cmd_bench(int argc, char **argv)
{
    ImageBenchOptions b = { .count = 75000, .depth = 64, .bufsize = 4096 };
    bool native = false, cache_given = false;
    enum { OPT_FLUSH = 256, OPT_NODRAIN, OPT_PATTERN };
    static const struct option longopts[] = {
        { "flush-interval", required_argument, NULL, OPT_FLUSH },
        { "no-drain", no_argument, NULL, OPT_NODRAIN },
        { "pattern", required_argument, NULL, OPT_PATTERN },
        { "force-share", no_argument, NULL, 'U' },
        { 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, ":c:d:f:ni:o:qs:S:t:wU", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': b.count = parse_uint_arg("request count", optarg, 1, INT32_MAX); break;
        case 'd': b.depth = parse_uint_arg("queue depth", optarg, 1, 1024); break;
        case 'f': check_format_name(optarg); b.format = optarg; break;
        case 'n': native = true; break;
        case 'i':
            if (strcmp(optarg, "threads"))
                usage_error("-i %s: vireo-img serves requests from a thread pool only (-i threads)",
                            optarg);
            break;
        case 'o': b.offset = parse_size_arg("offset", optarg); break;
        case 'q': quiet = true; break;
        case 's': {
            uint64_t v = parse_size_arg("buffer size", optarg);
            if (v == 0 || v > 64 * 1024 * 1024)
                usage_error("buffer size must be 1 byte to 64M");
            b.bufsize = (size_t)v;
            break;
        }
        case 'S': b.step = parse_size_arg("step size", optarg); break;
        case 't': b.cache = parse_cache_arg(optarg); cache_given = true; break;
        case 'w': b.write = true; break;
        case 'U': force_share = true; break;
        case OPT_FLUSH: b.flush_interval = parse_uint_arg("flush interval", optarg, 0, INT32_MAX); break;
        case OPT_NODRAIN: b.no_drain = true; break;
        case OPT_PATTERN: b.pattern = (uint8_t)parse_uint_arg("pattern", optarg, 0, 255); break;
        default: bad_option(ch, argv);
        }
    }
    int idx = optind;
    const char *filename = next_operand(argc, argv, &idx);
    no_more_operands(argc, argv, idx);
    if (!filename)
        usage_error("expecting a filename");
    if (native && (!cache_given || (b.cache != BLOCK_CACHE_NONE && b.cache != BLOCK_CACHE_DIRECTSYNC)))
        usage_error("-n needs -t none or -t directsync");
    if (b.flush_interval && !b.write)
        usage_error("--flush-interval is only available in write tests");
    if (force_share && b.write)
        usage_error("-U (--force-share) is for read-only commands; -w writes");
    b.force_share = force_share;
    if (b.flush_interval && b.flush_interval < b.depth)
        usage_error("Flush interval can't be smaller than depth");
    if (!quiet) {
        printf("Sending %u %s requests, %zu bytes each, %u in parallel (starting at offset %" PRIu64
               ", step size %" PRIu64 ")\n",
               b.count, b.write ? "write" : "read", b.bufsize, b.depth, b.offset,
               b.step ? b.step : b.bufsize);
        if (b.flush_interval)
            printf("Sending flush every %u requests\n", b.flush_interval);
    }
    double seconds;
    GError *err = NULL;
    if (!image_bench(filename, &b, &seconds, &err))
        return fail(err);
    if (!quiet)
        printf("Run completed in %3.3f seconds.\n", seconds);
    return 0;
}

/* main ---------------------------------------------------------------------------------*/

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *synopsis;
} commands[] = {
    { "bench", cmd_bench, "bench [-c count] [-d depth] [-f fmt] [--flush-interval=N] [-n] [--no-drain] [-o offset] [--pattern=N] [-q] [-s size] [-S step] [-t cache] [-w] filename" },
    { "check", cmd_check, "check [-q] [-f fmt] [--output=human|json] [-r leaks|all] filename" },
    { "commit", cmd_commit, "commit [-q] [-f fmt] [-t cache] [-b base] [-d] [-p] filename" },
    { "compare", cmd_compare, "compare [-f fmt] [-F fmt] [-T cache] [-p] [-q] [-s] filename1 filename2" },
    { "convert", cmd_convert, "convert [-c] [-p] [-q] [-n] [-f fmt] [-O fmt] [-B backing [-F fmt]] [-o options] [-S sparse] [-t cache] [-T cache] filename output" },
    { "create", cmd_create, "create [-q] [-f fmt] [-b backing [-F fmt]] [-u] [-o options] filename [size]" },
    { "info", cmd_info, "info [-f fmt] [--output=human|json] [--backing-chain] filename" },
    { "map", cmd_map, "map [-f fmt] [--output=human|json] [--start-offset=N] [--max-length=N] filename" },
    { "measure", cmd_measure, "measure [--output=human|json] [-O fmt] [-o options] [--size N | [-f fmt] filename]" },
    { "rebase", cmd_rebase, "rebase [-q] [-f fmt] [-t cache] [-T cache] [-p] [-u] -b backing [-F fmt] filename" },
    { "resize", cmd_resize, "resize [-q] [-f fmt] [--preallocation=mode] [--shrink] filename [+|-]size" },
    { "snapshot", cmd_snapshot, "snapshot [-q] [-l | -a snapshot | -c snapshot | -d snapshot] filename" },
};

static void print_help(void)
{
    printf("vireo-img " "0.1" " - Vireo's disk image tool (qemu-img compatible verbs)\n"
           "usage: vireo-img command [command options]\n\nCommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        printf("  %s\n", commands[i].synopsis);
    printf("\nFormats: raw, qcow2 (version 2 read-only, version 3 read/write).\n"
           "'size' takes k, M, G, T, P, E suffixes (powers of 1024).\n"
           "'cache' is none, writeback, writethrough, directsync or unsafe.\n"
           "Exit status: 0 success, 1 failure, 2 bad usage; check and compare use qemu-img's "
           "codes.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage_error("expecting a command");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        print_help();
        return 0;
    }
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("vireo-img version 0.1\n");
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            command = commands[i].name;
            /* getopt sees the command as argv[0]. */
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    usage_error("unknown command '%s'", argv[1]);
}
