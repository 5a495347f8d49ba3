/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vm.conf parsing: good files give the configuration the user wrote, every bad value
 * gives one line that names the file, key and value. */
#include "vireo-config.h"
#include "engine/memory.h"
#include "engine/vmconf.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Fixture {
    char *dir;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("vireo-vmconf-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
}

static void remove_dir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, n, NULL);
        g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    remove_dir(f->dir);
    g_free(f->dir);
}

static void touch(Fixture *f, const char *name)
{
    g_autofree char *p = g_build_filename(f->dir, name, NULL);
    g_assert_true(g_file_set_contents(p, "x", 1, NULL));
}

static VmConfig *parse_text(Fixture *f, const char *text, GError **err)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_assert_true(g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, NULL));
    return vmconf_parse(kf, "test", f->dir, err);
}

static const DriveConfig *find_drive(const VmConfig *c, DriveInterface iface, int index)
{
    for (guint i = 0; i < c->drives->len; i++) {
        const DriveConfig *d = c->drives->pdata[i];
        if (d->iface == iface && d->index == index)
            return d;
    }
    return NULL;
}

static void test_full(Fixture *f, gconstpointer data)
{
    touch(f, "vmlinuz");
    touch(f, "initrd.img");
    touch(f, "disk.qcow2");
    touch(f, "dos.img");
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f,
        "[vm]\nos-id=freedos1.3\nos-name=FreeDOS\nmemory=32M\ncpus=1\nmachine=pc\n"
        "accel=kvm\nfirmware=seabios\ndisplay=std\nboot=ac\nboot-menu=true\n"
        "kernel=vmlinuz\ninitrd=initrd.img\nappend=console=tty0 quiet\n"
        "[drives]\nhda=disk.qcow2\ncdrom=\nfda=dos.img\n"
        "[ui]\nanything=kept\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(c->name, ==, "test");
    g_assert_cmpuint(c->ram_size, ==, 32u << 20);
    g_assert_cmpuint(c->smp, ==, 1);
    g_assert_cmpstr(c->accel, ==, "kvm");
    g_assert_null(c->bios);
    g_assert_cmpstr(c->vga, ==, "std");
    g_assert_cmpstr(c->boot_order, ==, "ac");
    g_assert_true(c->boot_menu);
    g_autofree char *kernel = g_build_filename(f->dir, "vmlinuz", NULL);
    g_assert_cmpstr(c->kernel, ==, kernel);
    g_assert_cmpstr(c->append, ==, "console=tty0 quiet");
    g_assert_cmpuint(c->drives->len, ==, 3);
    const DriveConfig *hda = find_drive(c, DRIVE_IF_IDE, 0);
    g_assert_nonnull(hda);
    g_assert_true(g_str_has_suffix(hda->file, "/disk.qcow2"));
    g_assert_cmpint(hda->media, ==, DRIVE_MEDIA_DISK);
    const DriveConfig *cd = find_drive(c, DRIVE_IF_IDE, 2);
    g_assert_nonnull(cd);
    g_assert_null(cd->file);
    g_assert_cmpint(cd->media, ==, DRIVE_MEDIA_CDROM);
    g_assert_true(cd->readonly);
    const DriveConfig *fda = find_drive(c, DRIVE_IF_FLOPPY, 0);
    g_assert_nonnull(fda);
    g_assert_true(g_str_has_suffix(fda->file, "/dos.img"));
}

static void test_display_cirrus(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, "[vm]\ndisplay=cirrus\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(c->vga, ==, "cirrus");
}

/* display=virtio is vireo-run's -vga virtio: the virtio GPU behind a std-vga
 * (test-pc-board puts it in slot 2). */
static void test_display_virtio(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, "[vm]\ndisplay=virtio\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(c->vga, ==, "virtio");
}

static void test_serial(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, "[vm]\nserial=file:com1.log\n", &err);
    g_assert_no_error(err);
    g_autofree char *expect = g_strdup_printf("file:%s/com1.log", f->dir);
    g_assert_cmpstr(c->serial[0], ==, expect);
    g_autoptr(VmConfig) n = parse_text(f, "[vm]\nserial=none\n", &err);
    g_assert_cmpstr(n->serial[0], ==, "none");
    g_autoptr(VmConfig) d = parse_text(f, "[vm]\n", &err);
    g_assert_null(d->serial[0]);
}

static void test_defaults(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GKeyFile) kf = vmconf_new();
    g_autoptr(VmConfig) c = vmconf_parse(kf, "new", f->dir, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(c->ram_size, ==, 256u << 20);
    g_assert_cmpuint(c->smp, ==, 1);
    g_assert_cmpstr(c->machine, ==, "pc");
    g_assert_cmpstr(c->accel, ==, "kvm:tcg");
    g_assert_cmpuint(c->drives->len, ==, 0);
}

/* Each bad file and the words its one-line error must contain. */
static const struct {
    const char *text;
    const char *expect[4];
} bad_cases[] = {
    { "[vm]\nmemory=lots\n", { "[vm] memory=lots", "not a memory size", NULL } },
    { "[vm]\nmemory=0\n", { "memory=0", "between 1M and 32G", NULL } },
    /* The engine's limits: what used to pass here and then fail to start. */
    { "[vm]\nmemory=64G\n", { "[vm] memory=64G", "between 1M and 32G", NULL } },
    { "[vm]\nmemory=1T\n", { "[vm] memory=1T", "between 1M and 32G", NULL } },
    { "[vm]\ncpus=0\n", { "[vm] cpus=0", "must be a number from 1 to 16", NULL } },
    { "[vm]\ncpus=64\n", { "[vm] cpus=64", "the processor count must be a number from 1 to 16", NULL } },
    { "[vm]\nboot=acdn\n", { "[vm] boot=acdn", "1 to 3 of a (floppy)", NULL } },
    { "[vm]\ncpus=two\n", { "cpus=two", NULL } },
    /* The topology keys: each bad value on its line, then the whole as -smp checks it. */
    { "[vm]\ncpus=4\ncores=x\n", { "[vm] cores=x", "cores must be a number from 1 to 16", NULL } },
    { "[vm]\ncpus=4\nthreads=0\n", { "[vm] threads=0", "threads must be a number from 1 to 16", NULL } },
    { "[vm]\ncpus=4\nsockets=3\n", { "[vm] cpus=4, sockets=3", "4 processors cannot be split", NULL } },
    { "[vm]\ncpus=4\nsockets=2\ncores=2\nthreads=2\n",
      { "[vm] cpus=4, sockets=2, cores=2, threads=2", "sockets*cores*threads = 8, not the 4", NULL } },
    { "[vm]\nsockets=4\ncores=8\n", { "[vm] sockets=4, cores=8", "the topology gives 32", NULL } },
    { "[vm]\ncpus=4,sockets=2\ncores=2\n", { "[vm] cores=2", "cpus=4,sockets=2 gives the topology already", NULL } },
    { "[vm]\nmachine=q35\n", { "machine=q35", "'pc'", NULL } },
    { "[vm]\ncpu-model=k6\n", { "[vm] cpu-model=k6", "unknown CPU model 'k6'", NULL } },
    { "[vm]\naccel=hax\n", { "accel=hax", "kvm, tcg or interp", NULL } },
    { "[vm]\ndisplay=vmware\n", { "[vm] display=vmware", "std, cirrus, virtio or none", NULL } },
    { "[vm]\ndisplay=virtio-gpu\n", { "[vm] display=virtio-gpu", "std, cirrus, virtio or none", NULL } },
    { "[vm]\nboot=cx\n", { "boot=cx", "a (floppy)", NULL } },
    { "[vm]\nboot=cc\n", { "boot=cc", "'c' appears twice", NULL } },
    { "[vm]\nboot-menu=maybe\n", { "boot-menu=maybe", "true or false", NULL } },
    { "[vm]\nmemroy=64M\n", { "[vm] memroy", "unknown key", NULL } },
    { "[vm]\nkernel=nowhere/vmlinuz\n", { "kernel=nowhere/vmlinuz", "does not exist", NULL } },
    { "[vm]\nfirmware=bios-missing.bin\n", { "firmware=bios-missing.bin", "does not exist", NULL } },
    { "[vm]\nappend=quiet\n", { "append=quiet", "needs a kernel", NULL } },
    { "[vm]\nserial=stdio\n", { "serial=stdio", "null, none or file:PATH", NULL } },
    { "[vm]\n[drives]\nhda=missing.qcow2\n", { "[drives] hda=missing.qcow2", "does not exist", NULL } },
    { "[vm]\n[drives]\nhdz=x.img\n", { "[drives] hdz", "unknown key", NULL } },
    { "[machine]\nmemory=64M\n", { "no [vm] group", NULL } },
    /* Not UTF-8: an error naming the key, not a key taken as absent. */
    { "[vm]\n[drives]\nhda=\xff\xfe.img\n", { "[drives] hda=\uFFFD\uFFFD.img", "not valid UTF-8", "renam" } },
    { "[vm]\nmemory=64M\xff\n", { "[vm] memory=64M\uFFFD", "not valid UTF-8", NULL } },
    { "[vm]\nos-name=Fr\xe9" "eDOS\n", { "[vm] os-name=Fr", "not valid UTF-8", NULL } },
    { "[vm]\nk\xe9y=1\n", { "[vm] k\uFFFDy", "key name is not valid UTF-8", NULL } },
    /* Devices, back ends and globals: the registries' words, with the file and key. */
    { "[vm]\n[devices]\ncom2=isa-serial,speed=9600\n",
      { "[devices] com2=isa-serial,speed=9600", "no property 'speed'", NULL } },
    { "[vm]\n[devices]\nx=no-such-card\n", { "[devices] x=no-such-card", "unknown device", NULL } },
    { "[vm]\n[devices]\n2nd=isa-serial\n", { "[devices] 2nd", "an id starts with a letter", NULL } },
    { "[vm]\n[backends]\nn0=user\n", { "[backends] n0=user", "expected KIND:OPTIONS", NULL } },
    { "[vm]\n[backends]\nn0=teleport:x\n", { "[backends] n0=teleport:x", "no teleport back ends", NULL } },
    { "[vm]\nnetwork=rtl9999\n", { "[vm] network=rtl9999", "unknown network card 'rtl9999'", "e1000" } },
    { "[vm]\nnetwork=e1000,mac=x\n", { "[vm] network=e1000,mac=x", "a card model alone", NULL } },
    { "[vm]\nnetwork=e1000\n[network]\nforward=tcp::2222-:22;tcp::70000-:80\n",
      { "[network] forward=tcp::70000-:80", "bad port '70000'", NULL } },
    { "[vm]\n[network]\nforward=tcp::1-:2,hostfwd=udp::3-:4\n", { "[network] forward=", "expected tcp|udp", NULL } },
    { "[vm]\n[network]\nforwards=tcp::2222-:22\n", { "[network] forwards", "unknown key", NULL } },
    { "[vm]\nsound=gus\n", { "[vm] sound=gus", "unknown sound card 'gus' (ac97, hda, sb16 or none)", NULL } },
    { "[vm]\nsound=ac97\naudio-backend=alsa\n", { "[vm] audio-backend=alsa", "use auto, pa, sdl or none", NULL } },
    { "[vm]\naudio-backend=Pa\n", { "[vm] audio-backend=Pa", "use auto, pa, sdl or none", NULL } },
    { "[vm]\nsound=ac97\nmicrophone=maybe\n", { "[vm] microphone=maybe", "use true or false", NULL } },
    { "[vm]\nclipboard=yes please\n", { "[vm] clipboard=yes please", "use true or false", NULL } },
    { "[vm]\n[global]\nisa-serial.strict-out2=perhaps\n",
      { "[global] isa-serial.strict-out2=perhaps", "cannot be 'perhaps'", NULL } },
};

/* [devices] and [global] become -device and -global specs, ids from the keys. */
static void test_devices(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, "[vm]\n[devices]\ncom2=isa-serial,iobase=0x2f8,irq=3\n"
                                          "[global]\nisa-serial.strict-out2=on\n", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(c->devices->len, ==, 1);
    g_assert_cmpstr(c->devices->pdata[0], ==, "isa-serial,iobase=0x2f8,irq=3,id=com2");
    g_assert_cmpuint(c->globals->len, ==, 1);
    g_autoptr(VmConfig) m = parse_text(f, "[vm]\ncpu-model=pentium\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(m->cpu_model, ==, "pentium");
    g_autoptr(VmConfig) isa = parse_text(f, "[vm]\nmachine=isapc\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(isa->machine, ==, "isapc");
    g_assert_cmpstr(c->globals->pdata[0], ==, "isa-serial.strict-out2=on");
}

/* network= and sound= expand into a back end and a card, after [devices]. */
static void test_shorthands(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, "[vm]\nnetwork=ne2k_pci\nsound=AC97\n[devices]\ncom2=isa-serial\n", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(c->devices->len, ==, 3);
    g_assert_cmpstr(c->devices->pdata[0], ==, "isa-serial,id=com2");
    g_assert_cmpstr(c->devices->pdata[1], ==, "ne2k_pci,netdev=__nic0");
    g_assert_cmpstr(c->devices->pdata[2], ==, "AC97,audiodev=__snd0");
    g_assert_cmpuint(c->backends->len, ==, 2);
    const BackendConfig *net = c->backends->pdata[0], *snd = c->backends->pdata[1];
    g_assert_cmpstr(net->kind, ==, "netdev");
    g_assert_cmpstr(net->opts, ==, "user,id=__nic0");
    g_assert_cmpstr(snd->kind, ==, "audiodev");
    g_assert_true(g_str_has_suffix(snd->opts, ",id=__snd0"));
    g_assert_cmpstr(c->globals->pdata[0], ==, "isa-pcspk.audiodev=__snd0");
    /* HD Audio is a codec on its controller: both, the controller first. */
    g_autoptr(VmConfig) hda = parse_text(f, "[vm]\nsound=hda\n", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(hda->devices->len, ==, 2);
    g_assert_cmpstr(hda->devices->pdata[0], ==, "intel-hda");
    g_assert_cmpstr(hda->devices->pdata[1], ==, "hda-duplex,audiodev=__snd0");
    /* The host back end and the microphone: the audiodev says which and records the
     * default source; none records nothing. */
    g_autoptr(VmConfig) quiet = parse_text(f, "[vm]\nsound=sb16\naudio-backend=none\nmicrophone=true\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(((BackendConfig *)quiet->backends->pdata[0])->opts, ==, "none,id=__snd0");
#ifdef HAVE_PULSE
    g_autoptr(VmConfig) pa = parse_text(f, "[vm]\nsound=ac97\naudio-backend=pa\nmicrophone=true\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(((BackendConfig *)pa->backends->pdata[0])->opts, ==, "pa,id=__snd0,in.source=@DEFAULT_SOURCE@");
    g_autoptr(VmConfig) pa_quiet = parse_text(f, "[vm]\nsound=ac97\naudio-backend=pa\nmicrophone=false\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(((BackendConfig *)pa_quiet->backends->pdata[0])->opts, ==, "pa,id=__snd0");
#endif
#ifdef HAVE_SDL2
    g_autoptr(VmConfig) sdl = parse_text(f, "[vm]\nsound=hda\naudio-backend=sdl\nmicrophone=true\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(((BackendConfig *)sdl->backends->pdata[0])->opts, ==, "sdl,id=__snd0,in.source=default");
#endif
    g_autoptr(VmConfig) none = parse_text(f, "[vm]\nnetwork=none\nsound=none\n[network]\nforward=tcp::2222-:22\n", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(none->devices->len + none->backends->len + none->globals->len, ==, 0);
    /* [network] forward= rules become the NAT's hostfwd= options. */
    g_autoptr(VmConfig) fwd = parse_text(f, "[vm]\nnetwork=e1000\n[network]\n"
                                            "forward=tcp::2222-:22;udp:127.0.0.1:5353-:53;\n", &err);
    g_assert_no_error(err);
    const BackendConfig *fn = fwd->backends->pdata[0];
    g_assert_cmpstr(fn->opts, ==, "user,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-:53,id=__nic0");
    /* clipboard=true: the agent peer on a com.redhat.spice.0 port of its own card;
     * false adds nothing. */
    g_autoptr(VmConfig) clip = parse_text(f, "[vm]\nclipboard=true\n", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(clip->backends->len, ==, 1);
    g_assert_cmpstr(((BackendConfig *)clip->backends->pdata[0])->kind, ==, "chardev");
    g_assert_cmpstr(((BackendConfig *)clip->backends->pdata[0])->opts, ==, "qemu-vdagent,id=vireo-clipboard,clipboard=on");
    g_assert_cmpuint(clip->devices->len, ==, 2);
    g_assert_cmpstr(clip->devices->pdata[0], ==, "virtio-serial-pci,id=vireo-clipboard-serial");
    g_assert_cmpstr(clip->devices->pdata[1], ==,
                    "virtserialport,bus=vireo-clipboard-serial.0,chardev=vireo-clipboard,name=com.redhat.spice.0,id=vireo-clipboard-port");
    g_autoptr(VmConfig) noclip = parse_text(f, "[vm]\nclipboard=false\n", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(noclip->devices->len + noclip->backends->len, ==, 0);
}

static void test_bad_values(Fixture *f, gconstpointer data)
{
    g_autofree char *file = g_build_filename(f->dir, "vm.conf", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VmConfig) c = parse_text(f, bad_cases[i].text, &err);
        g_assert_null(c);
        g_assert_nonnull(err);
        g_test_message("%s", err->message);
        g_assert_true(g_str_has_prefix(err->message, file));
        g_assert_null(strchr(err->message, '\n'));
        for (const char *const *w = bad_cases[i].expect; *w; w++) {
            if (!strstr(err->message, *w))
                g_error("case %zu: '%s' lacks '%s'", i, err->message, *w);
        }
    }
}

/* Values are quoted shortened in errors: a huge value, key, path or line still gives one
 * short line (it used to be copied whole into the message). */
static void test_long_values_shortened(Fixture *f, gconstpointer data)
{
    g_autofree char *xs = g_strnfill(100000, 'x');
    g_autofree char *forty = g_strnfill(40, 'x');
    g_autofree char *shown = g_strdup_printf("[vm] memory=%s…: not a memory size", forty);
    const char *templates[] = { "[vm]\nmemory=%s\n", "[vm]\n%s=1\n", "[vm]\nkernel=%s\n",
                                "[vm]\n[drives]\nhda=%s\n" };
    for (size_t i = 0; i < G_N_ELEMENTS(templates); i++) {
        g_autofree char *text = g_strdup_printf(templates[i], xs);
        g_autoptr(GError) err = NULL;
        g_autoptr(VmConfig) c = parse_text(f, text, &err);
        g_assert_null(c);
        g_assert_nonnull(err);
        g_test_message("%.400s", err->message);
        g_assert_cmpuint(strlen(err->message), <, 500);
        g_assert_nonnull(strstr(err->message, "xxx…"));
        if (i == 0)
            g_assert_nonnull(strstr(err->message, shown));
    }
    /* An escaped newline in a value does not break the line. */
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, "[vm]\nappend=quiet\\nroot=/dev/sda\n", &err);
    g_assert_null(c);
    g_test_message("%s", err->message);
    g_assert_null(strchr(err->message, '\n'));
    g_assert_nonnull(strstr(err->message, "append=quiet\\nroot=/dev/sda: "));

    /* GKeyFile's own syntax error quotes the line: shortened as well. */
    g_autofree char *p = g_build_filename(f->dir, "vm.conf", NULL);
    g_autofree char *bad = g_strdup_printf("[vm]\n%s\n", xs);
    g_assert_true(g_file_set_contents(p, bad, -1, NULL));
    g_clear_error(&err);
    g_assert_null(vmconf_load(f->dir, &err));
    g_test_message("%s", err->message);
    g_assert_cmpuint(strlen(err->message), <, 500);
    g_assert_nonnull(strstr(err->message, "xxx…"));
}

/* vm.conf, vireo-run and the engine share their limits (config.h): the largest memory
 * and processor count the parser takes, the engine runs; one more is refused. */
static void test_limits_shared(Fixture *f, gconstpointer data)
{
    g_autofree char *max = g_strdup_printf("[vm]\nmemory=%dG\ncpus=%d\nboot=cda\n", VM_RAM_MAX_GIB,
                                           VM_CPUS_MAX);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, max, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(c->ram_size, ==, VM_RAM_MAX);
    /* The range is accepted; the host may still refuse to reserve 32 GiB of addresses. */
    GuestMemory *m = mem_new(c->ram_size, &err);
    if (err && err->code == VIREO_ERROR_FAILED)
        g_test_message("mem_new: %s", err->message);
    else
        g_assert_no_error(err);
    if (m)
        mem_free(m);
    uint64_t bytes;
    unsigned n;
    g_assert_true(vm_config_parse_ram("1M", &bytes, NULL));
    g_assert_false(vm_config_parse_ram("1023K", &bytes, NULL));
    g_autofree char *over = g_strdup_printf("%dM", (VM_RAM_MAX_GIB << 10) + 1);
    g_assert_false(vm_config_parse_ram(over, &bytes, NULL));
    g_assert_null(mem_new(VM_RAM_MAX + (1 << 20), NULL));
    g_autofree char *cpus = g_strdup_printf("%d", VM_CPUS_MAX + 1);
    g_assert_false(vm_config_parse_cpus(cpus, &n, NULL));
    g_assert_true(vm_config_check_boot_order("cda", NULL));
    g_assert_false(vm_config_check_boot_order("cdan", NULL));
}

/* -smp and vm.conf's cpus take QEMU's topology syntax; each bad value is refused with
 * a line that names the field. */
static void test_smp_syntax(void)
{
    /* With the topology QEMU 6.2+ derives for the pc machine: cores before sockets,
     * threads last. */
    static const struct {
        const char *text;
        unsigned n, sockets, cores, threads;
    } good[] = {
        { "1", 1, 1, 1, 1 }, { "4", 4, 1, 4, 1 }, { "16", 16, 1, 16, 1 }, { "cpus=2", 2, 1, 2, 1 },
        { "2,sockets=2", 2, 2, 1, 1 }, { "4,sockets=1,cores=2,threads=2", 4, 1, 2, 2 },
        { "sockets=2,cores=2", 4, 2, 2, 1 }, { "cores=8", 8, 1, 8, 1 }, { "4,maxcpus=4", 4, 1, 4, 1 },
        { "maxcpus=3", 3, 1, 3, 1 }, { "8,sockets=2,cores=2", 8, 2, 2, 2 }, { "6,threads=2", 6, 1, 3, 2 },
        { "6,cores=3", 6, 2, 3, 1 },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(good); k++) {
        unsigned n = 0;
        CpuTopology t = { 0 };
        g_autoptr(GError) err = NULL;
        g_assert_true(vm_config_parse_smp(good[k].text, &n, &t, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(n, ==, good[k].n);
        if (t.sockets != good[k].sockets || t.cores != good[k].cores || t.threads != good[k].threads)
            g_error("-smp %s: sockets=%u cores=%u threads=%u", good[k].text, t.sockets, t.cores, t.threads);
        g_assert_true(vm_config_parse_cpus(good[k].text, &n, NULL));
    }
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        { "0", "processor count must be a number from 1 to 16" },
        { "17", "from 1 to 16" },
        { "", "from 1 to 16" },
        { "two", "got 'two'" },
        { "2,cores=x", "cores must be a number" },
        { "2,sockets=0", "sockets must be a number from 1" },
        { "4,sockets=2,cores=2,threads=2", "sockets*cores*threads = 8, not the 4 processors" },
        { "3,cores=2", "cannot be split" },
        { "2,maxcpus=4", "CPU hot-plug is not supported" },
        { "2,dies=2", "unknown key 'dies'" },
        { "2,cpus=2", "cpus is given twice" },
        { "2,4", "is not KEY=VALUE" },
        { "sockets=4,cores=8", "the topology gives 32" },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(bad); k++) {
        unsigned n = 99;
        g_autoptr(GError) err = NULL;
        g_assert_false(vm_config_parse_cpus(bad[k].text, &n, &err));
        g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
        if (!strstr(err->message, bad[k].says))
            g_error("-smp %s: '%s' lacks '%s'", bad[k].text, err->message, bad[k].says);
        g_assert_null(strchr(err->message, '\n'));
        g_assert_cmpuint(n, ==, 99);
    }
}

/* vm.conf's sockets, cores and threads keys (what the app writes) beside cpus=: the
 * count and the topology as -smp would give them. */
static void test_topology_keys(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *text;
        unsigned n, sockets, cores, threads;
    } cases[] = {
        { "[vm]\ncpus=4\nsockets=2\ncores=2\nthreads=1\n", 4, 2, 2, 1 },
        { "[vm]\ncpus=4\nthreads=2\n", 4, 1, 2, 2 },
        { "[vm]\ncores=2\nthreads=2\n", 4, 1, 2, 2 },
        { "[vm]\ncpus=6\nsockets=3\n", 6, 3, 2, 1 },
        { "[vm]\ncpus=8,sockets=2,cores=2\n", 8, 2, 2, 2 },
        { "[vm]\ncpus=4\n", 4, 1, 4, 1 },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VmConfig) c = parse_text(f, cases[k].text, &err);
        g_assert_no_error(err);
        CpuTopology t = vm_config_topology(c);
        if (c->smp != cases[k].n || t.sockets != cases[k].sockets || t.cores != cases[k].cores ||
            t.threads != cases[k].threads)
            g_error("%s: %u CPUs, sockets=%u cores=%u threads=%u", cases[k].text, c->smp, t.sockets, t.cores,
                    t.threads);
    }
}

/* APIC IDs: thread, core and package numbers each in a field as wide as its count
 * needs, so 3 cores leave a gap (SDM vol. 3A 9.6.2; QEMU's numbering). */
static void test_smp_apic_ids(void)
{
    static const struct {
        CpuTopology t;
        unsigned ids[8];
    } cases[] = {
        { { 1, 4, 1 }, { 0, 1, 2, 3 } },
        { { 2, 3, 1 }, { 0, 1, 2, 4, 5, 6 } },
        { { 1, 3, 2 }, { 0, 1, 2, 3, 4, 5 } },
        { { 2, 1, 3 }, { 0, 1, 2, 4, 5, 6 } },
        { { 2, 2, 2 }, { 0, 1, 2, 3, 4, 5, 6, 7 } },
        { { 3, 1, 1 }, { 0, 1, 2 } },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        const CpuTopology *t = &cases[k].t;
        for (unsigned i = 0; i < t->sockets * t->cores * t->threads; i++)
            g_assert_cmpuint(cpu_topology_apic_id(t, i), ==, cases[k].ids[i]);
    }
    CpuTopology t = { 1, 3, 2 };
    g_assert_cmpuint(cpu_topology_thread_bits(&t), ==, 1);
    g_assert_cmpuint(cpu_topology_core_bits(&t), ==, 2);
    /* A VmConfig without a topology: one socket of smp cores. */
    VmConfig c = { .smp = 6 };
    t = vm_config_topology(&c);
    g_assert_cmpuint(t.sockets, ==, 1);
    g_assert_cmpuint(t.cores, ==, 6);
    g_assert_cmpuint(t.threads, ==, 1);
}

static void test_missing_disk_is_not_found(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, "[vm]\n[drives]\nfda=/nonexistent/dos.img\n", &err);
    g_assert_null(c);
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "/nonexistent/dos.img does not exist"));
}

/* vda-vdd are virtio disks 0-3 in the order written; an empty one is no drive, vde is
 * no key, a missing image is named. */
static void test_virtio_disks(Fixture *f, gconstpointer data)
{
    touch(f, "a.qcow2");
    touch(f, "c.img");
    touch(f, "d.img");
    touch(f, "ide.img");
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, "[vm]\n[drives]\nvdd=d.img\nhda=ide.img\nvda=a.qcow2\nvdb=\nvdc=c.img\n",
                                       &err);
    g_assert_no_error(err);
    g_assert_cmpuint(c->drives->len, ==, 4);
    static const char *const want[] = { "/a.qcow2", NULL, "/c.img", "/d.img" };
    int last = -1;
    for (guint i = 0; i < c->drives->len; i++) {
        const DriveConfig *d = c->drives->pdata[i];
        if (d->iface != DRIVE_IF_VIRTIO)
            continue;
        /* In slot order, so vda takes the first free PCI slot. */
        g_assert_cmpint(d->index, >, last);
        last = d->index;
        g_assert_cmpint(d->media, ==, DRIVE_MEDIA_DISK);
        g_assert_false(d->readonly);
        g_assert_nonnull(want[d->index]);
        g_assert_true(g_str_has_suffix(d->file, want[d->index]));
    }
    g_assert_cmpint(last, ==, 3);
    g_assert_null(find_drive(c, DRIVE_IF_VIRTIO, 1));
    g_assert_nonnull(find_drive(c, DRIVE_IF_IDE, 0));
    const VmconfDriveSlot *s = vmconf_drive_slot_find("vdc");
    g_assert_nonnull(s);
    g_assert_cmpint(s->iface, ==, DRIVE_IF_VIRTIO);
    g_assert_cmpint(s->index, ==, 2);
    g_assert_false(s->removable);

    for (guint i = 0; i < c->drives->len; i++)
        g_assert_false(((const DriveConfig *)c->drives->pdata[i])->boot_first);

    /* boot-disk= picks the hard disk the firmware boots; it must be one that is there. */
    g_autoptr(VmConfig) choice = parse_text(f, "[vm]\nboot-disk=vdc\n[drives]\nhda=ide.img\nvdc=c.img\n", &err);
    g_assert_no_error(err);
    g_assert_true(find_drive(choice, DRIVE_IF_VIRTIO, 2)->boot_first);
    g_assert_false(find_drive(choice, DRIVE_IF_IDE, 0)->boot_first);
    static const char *const bad_choices[][2] = {
        { "[vm]\nboot-disk=vdb\n[drives]\nvda=c.img\n", "boot-disk=vdb: [drives] has no vdb disk" },
        { "[vm]\nboot-disk=cdrom\n[drives]\ncdrom=\n", "boot-disk=cdrom: name a hard disk key" },
        { "[vm]\nboot-disk=fda\n[drives]\nfda=c.img\n", "boot-disk=fda: name a hard disk key" },
        { "[vm]\nboot-disk=sda\n", "boot-disk=sda: name a hard disk key" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_choices); i++) {
        g_autoptr(VmConfig) refused = parse_text(f, bad_choices[i][0], &err);
        g_assert_null(refused);
        g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
        g_test_message("%s", err->message);
        g_assert_nonnull(strstr(err->message, bad_choices[i][1]));
        g_clear_error(&err);
    }

    g_autoptr(VmConfig) bad = parse_text(f, "[vm]\n[drives]\nvde=c.img\n", &err);
    g_assert_null(bad);
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "vde"));
    g_clear_error(&err);
    g_autoptr(VmConfig) missing = parse_text(f, "[vm]\n[drives]\nvdb=/nonexistent/b.img\n", &err);
    g_assert_null(missing);
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "vdb"));
    g_assert_nonnull(strstr(err->message, "/nonexistent/b.img does not exist"));
}

/* [usb] filters: good ones are read as written and round-trip through the format the
 * app writes; each bad one is one line naming file, group, key and value, and the file
 * keeps everything (nothing is dropped or rewritten by reading it). */
static void test_usb_filters(Fixture *f, gconstpointer data)
{
    const char *text = "[vm]\n[usb]\nstick=vendor=0781, product=0x5567,serial=4C53 0001,connect=true\n"
                       "hid=class=03,connect=false\nkbd=vendor=16C0\n";
    GError *err = NULL;
    g_autoptr(VmConfig) c = parse_text(f, text, &err);
    g_assert_no_error(err);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_assert_true(g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, NULL));
    g_autoptr(GPtrArray) filters = vmconf_usb_filters(kf);
    g_assert_cmpuint(filters->len, ==, 3);
    const VmconfUsbFilter *stick = filters->pdata[0], *hid = filters->pdata[1], *kbd = filters->pdata[2];
    g_assert_cmpstr(stick->id, ==, "stick");
    g_assert_cmpint(stick->vendor, ==, 0x0781);
    g_assert_cmpint(stick->product, ==, 0x5567);
    g_assert_cmpstr(stick->serial, ==, "4C53 0001");
    g_assert_cmpint(stick->dev_class, ==, -1);
    g_assert_true(stick->connect);
    g_assert_cmpint(hid->dev_class, ==, 3);
    g_assert_false(hid->connect);
    g_assert_cmpint(kbd->vendor, ==, 0x16c0);
    g_assert_cmpint(kbd->product, ==, -1);
    g_assert_true(kbd->connect);
    g_autofree char *s = vmconf_usb_filter_format(stick);
    g_assert_cmpstr(s, ==, "vendor=0781,product=5567,serial=4C53 0001,connect=true");
    g_autoptr(VmconfUsbFilter) again = vmconf_usb_filter_parse("stick", s, &err);
    g_assert_no_error(err);
    g_assert_cmpint(again->vendor, ==, 0x0781);
    g_assert_cmpstr(again->serial, ==, "4C53 0001");
    g_autofree char *h = vmconf_usb_filter_format(hid);
    g_assert_cmpstr(h, ==, "class=03,connect=false");

    /* Matching: IDs, serial, and the class of the device or of one interface. */
    const uint8_t hid_if[] = { 3 }, disk_if[] = { 8 };
    g_assert_true(vmconf_usb_filter_matches(stick, 0x0781, 0x5567, "4C53 0001", 0, disk_if, 1));
    g_assert_false(vmconf_usb_filter_matches(stick, 0x0781, 0x5567, "other", 0, disk_if, 1));
    g_assert_false(vmconf_usb_filter_matches(stick, 0x0781, 0x5567, NULL, 0, disk_if, 1));
    g_assert_false(vmconf_usb_filter_matches(stick, 0x0781, 0x5568, "4C53 0001", 0, disk_if, 1));
    g_assert_true(vmconf_usb_filter_matches(hid, 0x046d, 0xc52b, NULL, 0, hid_if, 1));
    g_assert_true(vmconf_usb_filter_matches(hid, 0x046d, 0xc52b, NULL, 3, NULL, 0));
    g_assert_false(vmconf_usb_filter_matches(hid, 0x0781, 0x5567, NULL, 0, disk_if, 1));

    static const struct {
        const char *text, *error;
    } bad[] = {
        { "[vm]\n[usb]\nx=vendor=12345\n", "[usb] x=vendor=12345: vendor='12345': expected an ID of four hex digits" },
        { "[vm]\n[usb]\nx=vendor=zz\n", "[usb] x=vendor=zz: vendor='zz': expected an ID of four hex digits" },
        { "[vm]\n[usb]\nx=product=\n", "[usb] x=product=: product='': expected an ID" },
        { "[vm]\n[usb]\nx=class=100\n", "[usb] x=class=100: class='100': expected a class in hex, 00 to ff" },
        { "[vm]\n[usb]\nx=vendor=0781,connect=maybe\n", "connect='maybe': expected true or false" },
        { "[vm]\n[usb]\nx=vendor=0781,colour=red\n", "'colour' is not a filter field" },
        { "[vm]\n[usb]\nx=vendor=0781,serial=\n", "serial='': expected the serial number's text" },
        { "[vm]\n[usb]\nx=connect=true\n", "[usb] x=connect=true: a filter needs at least one of" },
        { "[vm]\n[usb]\nx=\n", "a filter needs at least one of" },
        { "[vm]\n[usb]\n9lives=class=08\n", "[usb] 9lives: an id starts with a letter" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GKeyFile) bk = g_key_file_new();
        /* A good filter beside the bad one: reading keeps both in the file. */
        g_autofree char *full = g_strconcat(bad[i].text, "good=vendor=0781\n", NULL);
        g_assert_true(g_key_file_load_from_data(bk, full, -1, G_KEY_FILE_NONE, NULL));
        g_autoptr(VmConfig) bc = vmconf_parse(bk, "test", f->dir, &err);
        g_assert_null(bc);
        g_assert_nonnull(err);
        g_test_message("%s", err->message);
        g_assert_nonnull(strstr(err->message, bad[i].error));
        g_assert_null(strchr(err->message, '\n'));
        g_assert_true(g_str_has_prefix(err->message, f->dir));
        g_clear_error(&err);
        g_autoptr(GPtrArray) good = vmconf_usb_filters(bk);
        g_assert_cmpuint(good->len, ==, 1);
        g_assert_cmpstr(((VmconfUsbFilter *)good->pdata[0])->id, ==, "good");
        g_autofree char *kept = g_key_file_to_data(bk, NULL, NULL);
        g_assert_nonnull(strstr(kept, "good=vendor=0781"));
    }
}

static void test_save_load_round_trip(Fixture *f, gconstpointer data)
{
    g_autoptr(GKeyFile) kf = vmconf_new();
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "os-name", "Debian GNU/Linux 12");
    g_key_file_set_string(kf, "ui", "scaling", "integer");
    g_autoptr(GError) err = NULL;
    g_assert_true(vmconf_save(kf, f->dir, &err));
    g_autoptr(GKeyFile) back = vmconf_load(f->dir, &err);
    g_assert_no_error(err);
    g_autofree char *os = g_key_file_get_string(back, VMCONF_GROUP_VM, "os-name", NULL);
    g_assert_cmpstr(os, ==, "Debian GNU/Linux 12");
    g_autofree char *sc = g_key_file_get_string(back, "ui", "scaling", NULL);
    g_assert_cmpstr(sc, ==, "integer");
}

static void test_load_errors(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_assert_null(vmconf_load(f->dir, &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    g_clear_error(&err);
    g_autofree char *p = g_build_filename(f->dir, "vm.conf", NULL);
    g_assert_true(g_file_set_contents(p, "memory = 1\n[vm\n", -1, NULL));
    g_assert_null(vmconf_load(f->dir, &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_assert_true(g_str_has_prefix(err->message, p));
}

/* vmconf_load on a thread of its own, so that a load that waits on a FIFO fails the
 * test instead of hanging it. */
typedef struct LoadJob {
    const char *dir;
    GKeyFile *kf;
    GError *err;
    gint done;
} LoadJob;

static gpointer load_thread(gpointer data)
{
    LoadJob *j = data;
    j->kf = vmconf_load(j->dir, &j->err);
    g_atomic_int_set(&j->done, 1);
    return NULL;
}

static bool load_within(LoadJob *j, const char *fifo, int ms)
{
    GThread *t = g_thread_new("vmconf-load", load_thread, j);
    for (int i = 0; i < ms && !g_atomic_int_get(&j->done); i++)
        g_usleep(1000);
    bool in_time = g_atomic_int_get(&j->done);
    if (!in_time && fifo) {
        /* A writer that goes away at once lets the blocked open() return. */
        int w = open(fifo, O_WRONLY | O_NONBLOCK);
        if (w >= 0)
            close(w);
    }
    g_thread_join(t);
    return in_time;
}

static void test_load_fifo(Fixture *f, gconstpointer data)
{
    g_autofree char *p = g_build_filename(f->dir, "vm.conf", NULL);
    g_assert_cmpint(mkfifo(p, 0600), ==, 0);
    LoadJob j = { f->dir, NULL, NULL, 0 };
    bool in_time = load_within(&j, p, 3000);
    if (j.kf)
        g_key_file_unref(j.kf);
    if (!in_time)
        g_error("vmconf_load waited for a writer on a FIFO vm.conf");
    g_assert_null(j.kf);
    g_assert_error(j.err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_test_message("%s", j.err->message);
    g_assert_true(g_str_has_prefix(j.err->message, p));
    g_assert_nonnull(strstr(j.err->message, "FIFO"));
    g_error_free(j.err);
}

/* A huge vm.conf is refused before it is read, in one short line. */
static void test_load_too_big(Fixture *f, gconstpointer data)
{
    g_autofree char *p = g_build_filename(f->dir, "vm.conf", NULL);
    size_t len = 2u << 20;
    g_autofree char *text = g_malloc(len);
    memset(text, 'x', len);
    memcpy(text, "[vm]\nmemory=", 12);
    text[len - 1] = '\n';
    g_assert_true(g_file_set_contents(p, text, (gssize)len, NULL));
    g_autoptr(GError) err = NULL;
    g_autoptr(GKeyFile) kf = vmconf_load(f->dir, &err);
    g_assert_null(kf);
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_test_message("%s", err->message);
    g_assert_true(g_str_has_prefix(err->message, p));
    g_assert_nonnull(strstr(err->message, "1.0 MiB"));
    g_assert_cmpuint(strlen(err->message), <, 200);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/vmconf/full", Fixture, NULL, fixture_setup, test_full, fixture_teardown);
    g_test_add("/vmconf/display-cirrus", Fixture, NULL, fixture_setup, test_display_cirrus, fixture_teardown);
    g_test_add("/vmconf/display-virtio", Fixture, NULL, fixture_setup, test_display_virtio, fixture_teardown);
    g_test_add("/vmconf/serial", Fixture, NULL, fixture_setup, test_serial, fixture_teardown);
    g_test_add("/vmconf/devices", Fixture, NULL, fixture_setup, test_devices, fixture_teardown);
    g_test_add("/vmconf/shorthands", Fixture, NULL, fixture_setup, test_shorthands, fixture_teardown);
    g_test_add("/vmconf/defaults", Fixture, NULL, fixture_setup, test_defaults, fixture_teardown);
    g_test_add("/vmconf/bad-values", Fixture, NULL, fixture_setup, test_bad_values, fixture_teardown);
    g_test_add("/vmconf/usb-filters", Fixture, NULL, fixture_setup, test_usb_filters, fixture_teardown);
    g_test_add_func("/vmconf/smp-syntax", test_smp_syntax);
    g_test_add("/vmconf/topology-keys", Fixture, NULL, fixture_setup, test_topology_keys, fixture_teardown);
    g_test_add_func("/vmconf/smp-apic-ids", test_smp_apic_ids);
    g_test_add("/vmconf/limits-shared", Fixture, NULL, fixture_setup, test_limits_shared, fixture_teardown);
    g_test_add("/vmconf/long-values", Fixture, NULL, fixture_setup, test_long_values_shortened,
               fixture_teardown);
    g_test_add("/vmconf/missing-disk", Fixture, NULL, fixture_setup, test_missing_disk_is_not_found,
               fixture_teardown);
    g_test_add("/vmconf/virtio-disks", Fixture, NULL, fixture_setup, test_virtio_disks, fixture_teardown);
    g_test_add("/vmconf/round-trip", Fixture, NULL, fixture_setup, test_save_load_round_trip,
               fixture_teardown);
    g_test_add("/vmconf/load-errors", Fixture, NULL, fixture_setup, test_load_errors, fixture_teardown);
    g_test_add("/vmconf/load-fifo", Fixture, NULL, fixture_setup, test_load_fifo, fixture_teardown);
    g_test_add("/vmconf/load-too-big", Fixture, NULL, fixture_setup, test_load_too_big, fixture_teardown);
    return g_test_run();
}
