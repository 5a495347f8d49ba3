#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""vireo-run's options that name files or limits: a bad one ends vireo-run at once with
exit status 2 and one line saying what is accepted. -m, -smp and -boot take the limits
vm.conf takes, in the same words.

Files: -kernel, -initrd and -bios are sized before they are read, so a 2 GiB sparse file
is refused in a moment and without memory (vireo-run runs with 1 GiB of address space
here; it used to read the whole file first: 20 s and 2.1 GB), and a FIFO is refused
instead of waiting for a writer. A Multiboot ELF kernel with 2 GiB of data it does not
load still boots.

usage: option-errors.py VIREO-RUN BZIMAGE MULTIBOOT-ELF MODULE"""
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

GIB = 1 << 30


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))


def run(vireo, args, timeout=10):
    """Exit status, stderr and seconds, or None for the status when it did not end."""
    start = time.monotonic()
    try:
        if "-serial" not in args:
            args = ["-serial", "none"] + args
        r = subprocess.run([vireo, "-accel", "interp", "-display", "none"] + args,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        return None, "", time.monotonic() - start
    return r.returncode, r.stderr.decode(errors="replace"), time.monotonic() - start


def sparse(path, head, size):
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)


def main():
    vireo, bzimage, mb_elf, module = sys.argv[1:5]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        def p(name):
            return os.path.join(tmp, name)

        with open(bzimage, "rb") as f:
            bz_head = f.read()
        sparse(p("huge.initrd"), b"", 2 * GIB)
        sparse(p("huge-bzimage"), bz_head, 2 * GIB)
        sparse(p("huge.bios"), b"", 2 * GIB)
        os.mkfifo(p("fifo"))
        with open(p("disk.img"), "wb") as f:
            f.truncate(1 << 20)

        cases = [
            (["-kernel", bzimage, "-initrd", p("huge.initrd")], 2,
             r"-initrd: a 2097152 KiB initrd does not fit below \d+ MiB"),
            (["-kernel", p("huge-bzimage")], 2, r"-kernel: a \d+ KiB kernel does not fit in \d+ MiB of RAM"),
            (["-kernel", p("fifo")], 2, r"-kernel: .*/fifo is a FIFO \(named pipe\), not a regular file"),
            (["-kernel", bzimage, "-initrd", p("fifo")], 2, r"-initrd: .*/fifo is a FIFO"),
            (["-kernel", mb_elf, "-initrd", p("fifo")], 2, r"-initrd module: .*/fifo is a FIFO"),
            (["-kernel", mb_elf, "-initrd", p("huge.initrd")], 2,
             r"the kernel and its modules do not fit in the VM's RAM"),
            (["-bios", p("huge.bios")], 2, r"firmware .*huge.bios: size 2147483648 is not a multiple of 64 KiB"),
            (["-bios", p("fifo")], 2, r"firmware: .*/fifo is a FIFO"),
            (["-kernel", os.path.join(tmp, "missing")], 1, r"-kernel: .*missing.*No such file or directory"),
            # The limits are vm.conf's (config.h): the same words for the same values.
            (["-m", "64G", "-S"], 2, r"^vireo-run: -m 64G: not a memory size between 1M and 32G"),
            (["-m", "0", "-S"], 2, r"^vireo-run: -m 0: not a memory size between 1M and 32G"),
            (["-smp", "17", "-S"], 2, r"^vireo-run: -smp 17: the processor count must be a number from 1 to 16"),
            (["-smp", "4,sockets=2,cores=3", "-S"], 2, r"^vireo-run: -smp 4,sockets=2,cores=3: 4 processors cannot be split"),
            (["-boot", "acdn", "-S"], 2, r"^vireo-run: -boot acdn: a boot order is 1 to 3 of a \(floppy\)"),
            (["-boot", "order=cc", "-S"], 2, r"-boot order=cc: 'c' appears twice in the boot order"),
            # Devices created by name: checked before the VM exists, or by the board.
            (["-device", "isa-serial,bogus=1", "-S"], 2,
             r"^vireo-run: -device isa-serial,bogus=1: isa-serial: no property 'bogus'"),
            (["-device", "isa-serial,irq=16", "-S"], 2, r"property 'irq' must be a number from 0x0 to 0xf"),
            (["-device", "isa-serial,id=9x", "-S"], 2, r"id '9x': start with a letter"),
            # One if=none drive, two devices of different kinds claiming it.
            (["-drive", "if=none,id=d0,format=raw,file=" + p("disk.img"), "-device", "virtio-blk-pci,drive=d0",
              "-device", "usb-storage,drive=d0", "-S"], 2,
             r"-device usb-storage,drive=d0: usb-storage\.0: drive d0 is in use by virtio-blk-pci\.0"),
            (["-serial", "null", "-device", "isa-serial", "-S"], 2,
             r"^vireo-run: -device isa-serial: isa-serial.1: port 0x3f8 is taken by serial@0x3f8$"),
            (["-global", "isa-serial.strict-out2=maybe", "-S"], 2,
             r"^vireo-run: -global isa-serial.strict-out2=maybe: .*cannot be 'maybe'"),
            (["-global", "isa-serial", "-S"], 2, r"expected DRIVER.PROPERTY=VALUE"),
            # Network: the back end's options, the card's, and what the board finds.
            (["-netdev", "user,id=n0,hostfwd=tcp::70000-:22", "-S"], 2,
             r"^vireo-run: -netdev user,id=n0,hostfwd=tcp::70000-:22: hostfwd .*bad port '70000'"),
            (["-netdev", "user,id=n0,net=10.0.2.0/24,dns=10.0.9.3", "-S"], 2,
             r"dns=10.0.9.3 is not a host address of the network"),
            (["-netdev", "vde,id=n0", "-S"], 2, r"unknown netdev type 'vde' \(this build has: user, tap\)"),
            (["-netdev", "tap,id=n0,vnet_hdr=on", "-S"], 2,
             r"^vireo-run: -netdev tap,id=n0,vnet_hdr=on: unknown option 'vnet_hdr=on' \(tap takes ifname"),
            (["-netdev", "tap,id=n0,ifname=a/b", "-S"], 2, r"ifname=a/b: an interface name is 1 to 15 characters"),
            (["-netdev", "tap,id=n0,ifname=abcdefghijklmnop", "-S"], 2, r"an interface name is 1 to 15 characters"),
            (["-netdev", "tap,id=n0,script=" + p("no-ifup"), "-S"], 2, r"script=.*no-ifup: no such executable file"),
            (["-netdev", "tap,id=n0,downscript=" + p("disk.img"), "-S"], 2,
             r"downscript=.*disk.img: no such executable file"),
            # Network boot: the card's ROM and -boot n without a card that has one.
            (["-device", "e1000,romfile=" + p("missing.rom"), "-S"], 1, r"e1000.0: romfile: .*missing.rom.*No such file"),
            (["-device", "virtio-net-pci,romfile=" + p("disk.img"), "-S"], 2,
             r"romfile .*disk.img is not an option ROM \(no 55 AA signature"),
            (["-device", "e1000,bootindex=first", "-S"], 2, r"bootindex=first: expected a number from 0 to 65535"),
            (["-boot", "n", "-S"], 2, r"^vireo-run: -boot n: network boot needs a PCI network card with a boot ROM"),
            (["-boot", "once=n", "-device", "ne2k_isa", "-S"], 2, r"network boot needs a PCI network card"),
            (["-boot", "n", "-device", "e1000,romfile=none", "-S"], 2, r"network boot needs a PCI network card"),
            (["-netdev", "user", "-S"], 2, r"^vireo-run: -netdev user: needs an id=ID"),
            (["-nic", "user,model=rtl9999", "-S"], 2, r"unknown network card 'rtl9999'"),
            (["-device", "e1000,mac=01:00:00:00:00:01", "-S"], 2, r"a multicast address cannot be a card's"),
            # A back end that is missing is found when the VM is built (status 1, as for a
            # missing file).
            (["-device", "e1000,netdev=nosuch", "-S"], 1, r"no netdev 'nosuch' \(add -netdev"),
            (["-netdev", "user,id=n0", "-device", "e1000,netdev=n0", "-device", "ne2k_pci,netdev=n0", "-S"], 2,
             r"netdev 'n0' is already used by 'e1000.0'"),
            (["-device", "ne2k_isa,iobase=0x3f0", "-S"], 2, r"port 0x3f.* is taken"),
            # Sound: back ends, the speaker's and the SB16's references to them.
            (["-audiodev", "oss,id=a", "-S"], 2, r"^vireo-run: -audiodev oss,id=a: 'oss' is not an audio back end"),
            (["-audiodev", "none", "-S"], 2, r"^vireo-run: -audiodev none: needs an id=ID$"),
            (["-audiodev", "wav,id=a", "-S"], 2, r"^vireo-run: -audiodev wav,id=a: wav needs path=FILE$"),
            (["-audiodev", "none,id=a,out.frequency=1M", "-S"], 2, r"out.frequency=1M: not a number from 8000 to 192000"),
            (["-audiodev", "none,id=a", "-audiodev", "none,id=a", "-S"], 2, r"id 'a' is used twice"),
            (["-audiodev", "wav,id=a,path=" + p("no/dir/x.wav"), "-S"], 2, r"-audiodev wav,id=a,path=.*: cannot create"),
            (["-machine", "pc,pcspk-audiodev=a", "-S"], 2, r"^vireo-run: -machine pcspk-audiodev=a: no -audiodev with id=a$"),
            (["-machine", "pc,spk=a", "-S"], 2, r"^vireo-run: -machine pc,spk=a: unknown option 'spk=a'"),
            (["-machine", "pc,hpet=maybe", "-S"], 2, r"^vireo-run: -machine pc,hpet=maybe: hpet=maybe: expected on or off$"),
            (["-global", "hpet.hpet-intcap=0", "-S"], 2, r"^vireo-run: hpet: hpet-intcap 0x0 names no I/O APIC input 0-23$"),
            (["-device", "sb16", "-S"], 2, r"sb16.0: needs audiodev=ID"),
            # A back end the configuration lacks is found missing when the VM is made.
            (["-audiodev", "none,id=a", "-device", "sb16,audiodev=b", "-S"], 1, r"sb16: no audiodev 'b'"),
            (["-audiodev", "none,id=a", "-device", "sb16,audiodev=a,irq=3", "-S"], 2, r"irq=3: the card offers 2, 5, 7 and 10"),
            (["-audiodev", "none,id=a", "-device", "sb16,audiodev=a,iobase=0x3f8", "-S"], 2, r"property 'iobase' must be"),
            (["-device", "adlib", "-S"], 2, r"adlib.0: needs audiodev=ID"),
            (["-audiodev", "none,id=a", "-device", "adlib,audiodev=a,iobase=0x38a", "-S"], 2,
             r"iobase=0x38a is not a multiple of 4"),
            # QEMU's adlib sits at 0x220; Vireo's SB16 has its own FM chip there.
            (["-audiodev", "none,id=a", "-device", "adlib,audiodev=a,iobase=0x220", "-device", "sb16,audiodev=a",
              "-S"], 2, r"sb16.0: port 0x220 is taken by adlib.0"),
        ]
        # Several vCPUs under KVM start the APs through the kernel's local APICs, which
        # kernel-irqchip=off leaves out (only where KVM exists: elsewhere -accel kvm fails
        # earlier, for lack of /dev/kvm).
        if os.access("/dev/kvm", os.R_OK | os.W_OK):
            cases.append((["-accel", "kvm,kernel-irqchip=off", "-smp", "2", "-S"], 1,
                          r"^vireo-run: 2 processors under KVM need its in-kernel irqchip \(not kernel-irqchip=off\)$"))
        for args, status, rx in cases:
            code, err, secs = run(vireo, args)
            shown = " ".join(a.replace(tmp + "/", "") for a in args)
            lines = [l for l in err.splitlines() if l.strip()]
            print("# %s -> %s in %.1f s: %s" % (shown, code, secs, err.strip()[:300]))
            if code is None:
                failures.append("%s: still running after 10 s" % shown)
            elif code != status or len(lines) != 1 or not re.search(rx, lines[0]):
                failures.append("%s: want exit %d and one line matching /%s/" % (shown, status, rx))

        # The ELF's program headers say what to load; 2 GiB more in the file is not read.
        big_elf = p("multiboot-big.elf")
        shutil.copy(mb_elf, big_elf)
        with open(big_elf, "r+b") as f:
            f.truncate(2 * GIB)
        serial = p("serial.txt")
        code, err, secs = run(vireo, ["-m", "64", "-kernel", big_elf, "-initrd", module,
                                      "-device", "isa-debug-exit", "-serial", "file:" + serial], 60)
        text = open(serial, errors="replace").read() if os.path.exists(serial) else ""
        print("# Multiboot ELF with 2 GiB of unloaded data -> %s in %.1f s: %s" % (code, secs, err.strip()[:300]))
        if code != 33 or "multiboot: memory=64 MiB" not in text:
            failures.append("the Multiboot kernel with a 2 GiB file did not boot (exit %s):\n%s"
                            % (code, text[-1000:]))
    for f in failures:
        print("FAIL: " + f)
    total = len(cases) + 1
    print("%d passed, %d failed" % (total - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
