#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""IDE and CD-ROM guest tests: builds the disk images and ISOs a scenario needs, runs the
guest through run-vm.py, then checks what the guest left in the image files.

Scenarios:
  ide           ide.asm (a -bios guest) on a pattern disk, a 160 GiB qcow2 and an ISO; the
                sectors it wrote must hold its pattern and nothing else may change
  ide-snapshot  the same with -snapshot: every image must be unchanged afterwards
  boot-disk     SeaBIOS boots boot-media.asm from an IDE disk (--format raw or qcow2), or
                with --bus virtio[-legacy] from a virtio-blk-pci disk, with --bus if-virtio
                from -drive if=virtio, with --bus boot-disk from a library VM's vda beside
                a blank hda (vm.conf boot-disk=vda)
  boot-cd       SeaBIOS boots boot-media.asm (-DCD) from an El Torito no-emulation ISO
  linux-cd      Linux from an ISOLINUX CD (mkmedia.sh) runs the workload under -accel tcg
  linux-disk    Linux from a SYSLINUX qcow2 disk (ata_piix, vfat) writes a file; a second boot on an overlay
                reads it back; a third with -snapshot leaves the overlay unchanged;
                vireo-img check passes on both images
  options       drive options and image errors: one line on stderr, exit status 2 for a
                bad option, 1 for an image that cannot be used

Exit codes: 0 pass, 1 fail, 77 skip.
"""
import argparse
import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
RUN_VM = os.path.join(HERE, "..", "run-vm.py")
SECTOR = 512
HIGH_LBA = 300000000             # past 128 GiB: LBA48 only
PATTERN_DISK_SECTORS = 131072    # 64 MiB
BIG_DISK = 160 << 30

# Sectors ide.asm writes on the primary master and the slave.
MASTER_WRITES = list(range(1000, 1003)) + list(range(1010, 1018)) + list(range(2000, 2016))
SLAVE_WRITES = [HIGH_LBA + 100, HIGH_LBA + 101]


def pattern(lba, base=0):
    """Sector lba: dword j is ((lba << 12) | base) + j, modulo 2^32 (as the guest computes)."""
    v = ((lba << 12) & 0xffffffff) | base
    return struct.pack("<128I", *[(v + j) & 0xffffffff for j in range(128)])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), r.stdout.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def make_iso(tmp, boot_image=None):
    xorriso = shutil.which("xorriso")
    if not xorriso:
        return None
    tree = os.path.join(tmp, "iso")
    os.makedirs(tree, exist_ok=True)
    with open(os.path.join(tree, "README.TXT"), "w") as f:
        f.write("A CD image for Vireo's IDE tests.\n")
    iso = os.path.join(tmp, "cd.iso")
    cmd = [xorriso, "-as", "mkisofs", "-quiet", "-o", iso]
    if boot_image:
        shutil.copy(boot_image, os.path.join(tree, "boot.bin"))
        cmd += ["-b", "boot.bin", "-no-emul-boot", "-boot-load-size", "16"]
    # xorriso itself once died of SIGSEGV here in a clean-clone run (2026-12-06, not
    # reproducible): a host tool's crash says nothing about Vireo, so once more.
    try:
        run(cmd + [tree])
    except RuntimeError as e:
        if "UNIX-SIGNAL" not in str(e):
            raise
        print("xorriso crashed (%s); building the ISO again" % str(e).strip().splitlines()[-1])
        run(cmd + [tree])
    return iso


def make_pattern_disk(path, sectors=PATTERN_DISK_SECTORS, first=4096):
    with open(path, "wb") as f:
        f.write(b"".join(pattern(i) for i in range(first)))
        f.truncate(sectors * SECTOR)


def make_big_qcow2(tmp, vireo_img):
    raw = os.path.join(tmp, "big.raw")
    with open(raw, "wb") as f:
        f.truncate(BIG_DISK)
        f.seek(HIGH_LBA * SECTOR)
        f.write(b"".join(pattern(i) for i in range(HIGH_LBA, HIGH_LBA + 8)))
    q = os.path.join(tmp, "big.qcow2")
    run([vireo_img, "convert", "-f", "raw", "-O", "qcow2", raw, q])
    os.remove(raw)
    return q


def run_guest(o, serial_has, vm_args):
    cmd = [sys.executable, RUN_VM, "--vireo", o.vireo, "--accel", o.accel,
           "--timeout", str(o.timeout), "--expect-exit", "33"]
    for rx in serial_has:
        cmd += ["--serial-has", rx]
    cmd += ["--serial-lacks", "FAIL", "--"] + vm_args
    r = subprocess.run(cmd)
    return r.returncode


def scenario_ide(o, tmp, snapshot):
    iso = make_iso(tmp)
    if not iso:
        print("SKIP: xorriso is not installed (Debian package xorriso)")
        return SKIP
    disk = os.path.join(tmp, "disk.img")
    make_pattern_disk(disk)
    big = make_big_qcow2(tmp, o.vireo_img)
    before = {p: sha256(p) for p in (disk, big, iso)}
    has = ["PIIX3 IDE 8086:7010 enabled", "signatures: disk, disk, ATAPI",
           "master model VIREO HARDDISK",
           "master LBA28 sectors %d" % PATTERN_DISK_SECTORS,
           "slave LBA48 sectors %d" % (BIG_DISK // SECTOR),
           "slave LBA28 sectors %d" % 0x0fffffff,
           "slave max LBA %d" % (BIG_DISK // SECTOR - 1),
           "cd sectors %d" % (os.path.getsize(iso) // 2048),
           "PIO read LBA28 OK", "PIO read CHS OK", "READ MULTIPLE OK", "PIO write OK",
           "LBA48 OK", "DMA read OK", "DMA write OK", "DMA read with IRQ 14 OK",
           "DMA read LBA48 OK",
           "bad PRD: error status, no crash", "ATAPI PIO READ\\(10\\) OK",
           "ATAPI DMA READ\\(10\\) OK", "IDE test passed"]
    args = ["-bios", o.guest, "-drive", "file=%s,format=raw,index=0" % disk,
            "-drive", "file=%s,index=1" % big, "-cdrom", iso]
    if snapshot:
        args.append("-snapshot")
    rc = run_guest(o, has, args)
    if rc:
        return rc

    failures = []
    if snapshot:
        for p, h in before.items():
            if sha256(p) != h:
                failures.append("%s changed under -snapshot" % os.path.basename(p))
    else:
        # The pattern disk: exactly the written sectors differ from the original.
        with open(disk, "rb") as f:
            data = bytearray(f.read())
        for lba in range(4096):
            want = pattern(lba, 0xc0000000) if lba in MASTER_WRITES else pattern(lba)
            if data[lba * SECTOR:(lba + 1) * SECTOR] != want:
                failures.append("disk.img sector %d does not hold what the guest wrote" % lba
                                if lba in MASTER_WRITES else "disk.img sector %d changed" % lba)
                if len(failures) > 5:
                    break
        if any(data[4096 * SECTOR:]):
            failures.append("disk.img: bytes past sector 4096 are no longer zero")
        # The qcow2 must stay valid and hold the two sectors written past 128 GiB.
        out = subprocess.run([o.vireo_img, "check", big], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if out.returncode:
            failures.append("vireo-img check big.qcow2: %s" % out.stdout.decode().strip())
        raw = os.path.join(tmp, "back.raw")
        run([o.vireo_img, "convert", "-O", "raw", big, raw])
        with open(raw, "rb") as f:
            for lba in range(HIGH_LBA, HIGH_LBA + 8):
                f.seek(lba * SECTOR)
                got = f.read(SECTOR)
                want = pattern(lba, 0xc0000000 if lba in SLAVE_WRITES else 0)
                if got != want:
                    failures.append("big.qcow2 sector %d is wrong" % lba)
            f.seek(HIGH_LBA * SECTOR + 102 * SECTOR)
            if any(f.read(SECTOR * 16)):
                failures.append("big.qcow2: sectors after the written ones are not zero")
        os.remove(raw)
        if sha256(iso) != before[iso]:
            failures.append("the ISO changed")
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print("PASS: image contents checked")
    return 0


def scenario_boot_disk(o, tmp):
    with open(o.guest, "rb") as f:
        boot = f.read()
    raw = os.path.join(tmp, "boot.img")
    with open(raw, "wb") as f:
        f.write(boot)
        f.seek(100 * SECTOR)
        f.write(struct.pack("<I", 100) + bytes(504) + struct.pack("<I", 0x5a5a0064))
        f.truncate(PATTERN_DISK_SECTORS * SECTOR)
    disk = raw
    if o.format == "qcow2":
        disk = os.path.join(tmp, "boot.qcow2")
        run([o.vireo_img, "convert", "-O", "qcow2", raw, disk])
    # --bus virtio: the disk is the only one, on virtio-blk-pci, which SeaBIOS drives
    # through the modern interface (virtio-legacy: the legacy one).
    # --bus if-virtio: -drive if=virtio as QEMU users write it, with a second virtio disk
    # after it that must not take the boot.
    if o.bus == "ide":
        media = ["-hda", disk]
    elif o.bus == "boot-disk":
        # A library VM with a blank IDE disk and the boot disk on virtio: vm.conf's
        # boot-disk=vda makes SeaBIOS boot the virtio one (the IDE disk would be 80h).
        root = os.path.join(tmp, "data")
        vm_dir = os.path.join(root, "vireo", "vms", "Both")
        os.makedirs(vm_dir)
        shutil.copy(disk, os.path.join(vm_dir, "boot." + o.format))
        with open(os.path.join(vm_dir, "blank.img"), "wb") as f:
            f.truncate(2048 * SECTOR)
        with open(os.path.join(vm_dir, "vm.conf"), "w") as f:
            if o.boot_disk == "only":
                # vda alone: boot=c reaches it without boot-disk=.
                f.write("[vm]\nmemory=16M\nboot=c\n[drives]\nvda=boot.%s\n" % o.format)
            else:
                f.write("[vm]\nmemory=16M\nboot=c\nboot-disk=%s\n[drives]\nhda=blank.img\nvda=boot.%s\n"
                        % (o.boot_disk, o.format))
        os.environ["XDG_DATA_HOME"] = root
        media = ["--vm", "Both"]
    elif o.bus == "if-virtio":
        blank = os.path.join(tmp, "blank.img")
        with open(blank, "wb") as f:
            f.truncate(2048 * SECTOR)
        media = ["-drive", "if=virtio,index=0,format=%s,file=%s" % (o.format, disk),
                 "-drive", "file=%s,format=raw,if=virtio" % blank]
        # The QEMU command line keeps both on virtio, in the same order.
        line = subprocess.run([o.vireo, "--print-qemu-command"] + media, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True).stdout
        drives = re.findall(r"-drive '?file=([^,]*),if=virtio", line)
        if drives != [disk, blank]:
            print("FAIL: --print-qemu-command's virtio drives are %r: %s" % (drives, line))
            return 1
    else:
        media = ["-drive", "if=none,id=vd0,format=%s,file=%s" % (o.format, disk),
                 "-device", "virtio-blk-pci,drive=vd0" + (",disable-modern=on" if o.bus == "virtio-legacy" else "")]
    return run_guest(o, ["disk boot: drive 0x80", "sector size 512",
                         "sectors %d" % PATTERN_DISK_SECTORS, "read sector 100",
                         "boot test passed"], media)


def scenario_boot_cd(o, tmp):
    iso = make_iso(tmp, o.guest)
    if not iso:
        print("SKIP: xorriso is not installed (Debian package xorriso)")
        return SKIP
    return run_guest(o, ["CD boot: drive 0xe0", "sector size 2048",
                         "read the primary volume descriptor", "boot test passed"],
                     ["-cdrom", iso])


def scenario_options(o, tmp):
    disk = os.path.join(tmp, "disk.img")
    make_pattern_disk(disk, sectors=2048, first=16)
    short_qcow2 = os.path.join(tmp, "short.qcow2")
    with open(short_qcow2, "wb") as f:
        f.write(b"QFI\xfb\0\0\0\3" + bytes(40))
    tiny = os.path.join(tmp, "tiny.img")
    with open(tiny, "wb") as f:
        f.write(b"x" * 100)
    missing = os.path.join(tmp, "missing.img")
    cases = [
        (["-hda", missing], 1, "disk image.*missing.img.*No such file"),
        (["-hda", short_qcow2], 1, "disk image.*short.qcow2.*qcow2"),
        (["-hda", tiny], 1, "tiny.img: smaller than one 512-byte sector"),
        (["-cdrom", missing], 1, "CD-ROM image.*missing.img"),
        (["-drive", "file=%s,if=scsi" % disk], 2, "if=scsi is not supported"),
        (["-drive", "file=%s,index=4" % disk], 2, "index=4"),
        (["-drive", "file=%s,format=qed" % disk], 2, "format=qed is not supported"),
        (["-drive", "file=%s,format=vmdk" % disk], 1, "opens vmdk images read-only"),
        (["-drive", "file=%s,readonly=maybe" % disk], 2, "readonly=maybe"),
        (["-drive", "file=%s,cache=fast" % disk], 2, "cache=fast"),
        (["-drive", "file=%s,aio=native" % disk], 2, "unknown parameter 'aio'"),
        (["-drive", "if=ide,media=disk"], 2, "a disk needs file="),
        (["-hda", disk, "-drive", "file=%s,index=0" % disk], 2, "two drives want IDE index 0"),
        (["-hdc", disk, "-cdrom", disk], 2, "-cdrom and -hdc both want IDE index 2"),
        (["-hda", disk, "-hdb", disk, "-hdc", disk, "-hdd", disk, "-drive", "file=%s" % disk],
         2, "too many IDE drives"),
        (["-drive", "file=%s,if=floppy,media=cdrom" % disk], 2, "floppy drive cannot hold a CD"),
        # if=virtio: each drive a virtio-blk-pci of its own, named virtioN as in QEMU.
        (["-drive", "file=%s,if=virtio,media=cdrom" % disk], 2, "virtio disk cannot be a CD-ROM"),
        (["-drive", "if=virtio"], 2, "a disk needs file="),
        (["-drive", "file=%s,if=virtio,index=16" % disk], 2, "index=16.*0-15 for virtio"),
        (["-drive", "file=%s,if=ide,index=5" % disk], 2, "IDE index is 0 to 3"),
        (["-drive", "file=%s,if=virtio,index=1" % disk, "-drive", "file=%s,if=virtio,index=1" % disk],
         2, "two drives want virtio index 1"),
        (["-drive", "if=virtio,file=%s" % missing], 1, "disk image.*missing.img.*No such file"),
        (["-drive", "if=virtio,file=%s" % disk, "-device", "virtio-blk-pci,drive=virtio0"], 2,
         "drive virtio0 is in use by virtio-blk-pci"),
    ]
    failures = []
    for args, status, rx in cases:
        r = subprocess.run([o.vireo, "-accel", o.accel if o.accel != "kvm-userirq" else "kvm",
                            "-display", "none", "-serial", "none"] + args,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        err = r.stderr.decode(errors="replace")
        lines = [l for l in err.splitlines() if l.strip()]
        print("%s -> %d: %s" % (" ".join(a.replace(tmp + "/", "") for a in args), r.returncode,
                                err.strip()))
        if r.returncode != status:
            failures.append("%s: exit status %d, expected %d" % (args, r.returncode, status))
        if len(lines) != 1 or not re.search(rx, lines[0]):
            failures.append("%s: stderr is not one line matching /%s/: %r" % (args, rx, err))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


FPU_MISSING = "This kernel requires the following features not present on the CPU"


def run_linux(o, tmp, name, args, timeout):
    """Boots until the workload is done or the kernel refuses the CPU; returns the serial
    output, or None when vireo-run failed or timed out (printed)."""
    serial = os.path.join(tmp, name + ".serial")
    cmd = [o.vireo, "-accel", o.accel, "-m", "256", "-display", "none", "-no-reboot",
           "-serial", "file:" + serial] + args
    print("running:", " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    start = time.monotonic()
    text = ""
    while p.poll() is None and time.monotonic() - start < timeout:
        time.sleep(0.2)
        try:
            with open(serial, "rb") as f:
                text = f.read().decode("latin-1")
        except FileNotFoundError:
            pass
        if FPU_MISSING in text:
            break
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.wait(10)
    with open(serial, "rb") as f:
        text = f.read().decode("latin-1")
    print("--- %s: %.0f s, exit status %s ---" % (name, time.monotonic() - start, p.returncode))
    print(text[-3000:])
    out = p.stdout.read().decode("latin-1")
    if out.strip():
        print("--- vireo-run ---\n" + out)
    return text


def linux_media(o, tmp):
    """Builds the kit and the media; returns the kit directory or an exit code."""
    kit = o.linux_kit
    for script, extra in (("mkkit.sh", []), ("mkmedia.sh", [o.vireo_img])):
        r = subprocess.run(["sh", os.path.join(HERE, "linux", script), kit] + extra)
        if r.returncode == SKIP:
            return SKIP
        if r.returncode:
            print("FAIL: %s failed" % script)
            return 1
    return kit


def check_workload(kit, text, failures):
    with open(os.path.join(kit, "expected.txt")) as f:
        for line in f.read().splitlines():
            if line not in text:
                failures.append("workload output lacks %r" % line)
    if "VIREO-WORKLOAD-DONE" not in text:
        failures.append("the workload did not finish")


def scenario_linux_cd(o, tmp):
    kit = linux_media(o, tmp)
    if not isinstance(kit, str):
        return kit
    text = run_linux(o, tmp, "cd", ["-cdrom", os.path.join(kit, "linux-cd.iso")], o.timeout)
    if FPU_MISSING in text:
        print("SKIP: the kernel needs an x87 FPU, which this CPU back end lacks (ISOLINUX "
              "loaded it from the CD)")
        return SKIP
    failures = []
    if "ISOLINUX" not in text:
        failures.append("ISOLINUX did not start from the CD")
    check_workload(kit, text, failures)
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS: Linux ran its workload from the CD")
    return 1 if failures else 0


def scenario_linux_disk(o, tmp):
    kit = linux_media(o, tmp)
    if not isinstance(kit, str):
        return kit
    base = os.path.join(tmp, "linux-disk.qcow2")
    shutil.copy(os.path.join(kit, "linux-disk.qcow2"), base)
    failures = []
    text = run_linux(o, tmp, "boot1", ["-hda", base], o.timeout)
    if FPU_MISSING in text:
        print("SKIP: the kernel needs an x87 FPU, which this CPU back end lacks (SYSLINUX "
              "loaded it from the disk)")
        return SKIP
    if "VIREO-DISK-WROTE 1" not in text:
        failures.append("boot 1 did not write its file")
    overlay = os.path.join(tmp, "overlay.qcow2")
    run([o.vireo_img, "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay])
    base_hash = sha256(base)
    text = run_linux(o, tmp, "boot2", ["-hda", overlay], o.timeout)
    if "VIREO-DISK-READ 1" not in text or "VIREO-DISK-WROTE 2" not in text:
        failures.append("boot 2 on the overlay did not read boot 1's file and write its own")
    if sha256(base) != base_hash:
        failures.append("boot 2 changed the overlay's backing file")
    overlay_hash = sha256(overlay)
    text = run_linux(o, tmp, "boot3", ["-hda", overlay, "-snapshot"], o.timeout)
    if "VIREO-DISK-READ 2" not in text or "VIREO-DISK-WROTE 3" not in text:
        failures.append("boot 3 (-snapshot) did not read boot 2's file and write its own")
    if sha256(overlay) != overlay_hash or sha256(base) != base_hash:
        failures.append("-snapshot changed an image")
    for img in (base, overlay):
        r = subprocess.run([o.vireo_img, "check", img], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode:
            failures.append("vireo-img check %s: %s" % (os.path.basename(img),
                                                        r.stdout.decode().strip()))
        qemu_img = shutil.which("qemu-img")
        if qemu_img:
            r = subprocess.run([qemu_img, "check", img], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            if r.returncode:
                failures.append("qemu-img check %s: %s" % (os.path.basename(img),
                                                           r.stdout.decode().strip()))
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS: written, read back through an overlay, -snapshot left the images alone")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--vireo-img", required=True)
    ap.add_argument("--accel", default="kvm")
    ap.add_argument("--scenario", required=True,
                    choices=["ide", "ide-snapshot", "boot-disk", "boot-cd", "options",
                             "linux-cd", "linux-disk"])
    ap.add_argument("--linux-kit", default=None, help="where mkkit.sh builds the kit")
    ap.add_argument("--guest", default=None)
    ap.add_argument("--format", default="raw", choices=["raw", "qcow2"])
    ap.add_argument("--bus", default="ide", choices=["ide", "virtio", "virtio-legacy", "if-virtio", "boot-disk"])
    ap.add_argument("--boot-disk", default="vda", help="vm.conf's boot-disk= with --bus boot-disk ('only': vda and no IDE disk)")
    ap.add_argument("--timeout", type=float, default=120)
    o = ap.parse_args()
    # The 160 GiB image is sparse: it takes a few hundred KiB of $TMPDIR.
    with tempfile.TemporaryDirectory(prefix="vireo-storage-") as tmp:
        if o.scenario == "ide":
            return scenario_ide(o, tmp, False)
        if o.scenario == "ide-snapshot":
            return scenario_ide(o, tmp, True)
        if o.scenario == "boot-disk":
            return scenario_boot_disk(o, tmp)
        if o.scenario == "options":
            return scenario_options(o, tmp)
        if o.scenario == "linux-cd":
            return scenario_linux_cd(o, tmp)
        if o.scenario == "linux-disk":
            return scenario_linux_disk(o, tmp)
        return scenario_boot_cd(o, tmp)


if __name__ == "__main__":
    sys.exit(main())
