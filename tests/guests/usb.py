#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""USB as a user sees it, through the control socket:

  linux    Debian's kernel with uhci-hcd, usbhid, hid-generic, evdev, usb-storage and
           sd_mod (mkusb.sh) on the board's UHCI (usb-tablet, usb-kbd) and a second UHCI
           added with -device (usb-storage, and usb-mouse behind a full-speed usb-hub, on
           usb-bus.1), one boot under
           -accel tcg: the four devices enumerate with their products; the USB disk's
           size and first 64 KiB read right, a file written to it is read back and is
           in the image afterwards; QMP input-send-event abs moves, buttons and the
           wheel arrive at the tablet's event device with the coordinates sent; rel
           motion arrives at the USB mouse (the newest relative pointer); a key typed
           with send-key arrives at the USB keyboard and not at the PS/2 one. Then the
           VM state is saved while the guest waits, the guest finishes, the state is
           loaded and new tablet positions and keys arrive again.
  linux-ehci  the same boot and checks with ehci_hcd on a usb-ehci: tablet, keyboard
           and storage on its root ports and the mouse behind a usb-hub, all at 480 Mb/s
           (x-query-usb's port-path of each device matches its sysfs port in both boots);
           savevm/loadvm then carry the EHCI, the hub and the devices.
  linux-xhci  the same kit on a qemu-xhci controller alone (-machine usb=off), one boot
           under -accel tcg: Linux's xhci-hcd/xhci-pci bind it (USB 2 and USB 3 root
           hubs), usb-tablet, usb-kbd, usb-storage and a usb-hub with a usb-mouse behind
           it enumerate on its USB 2 ports, each at 480 Mb/s in sysfs; xhci_hcd
           interrupts through MSI-X (its IRQ's msi_irqs mode, /proc/interrupts); the
           USB disk reads right and a file written to it is in the image, which
           vireo-img check finds clean; QMP input-send-event abs positions and buttons
           arrive at the tablet's event device, rel motion at the mouse behind the
           hub and a key at the USB keyboard; savevm
           while the guest waits, loadvm after it finished, and a new position and key
           arrive again.
  boot-storage  SeaBIOS boots the kit's SYSLINUX disk (mkmedia.sh) from usb-storage (no
           IDE disk): SYSLINUX loads the kernel and initrd through SeaBIOS's USB mass
           storage driver and Linux starts.
  hotplug  one Linux boot with no USB device: QMP device_add of usb-kbd and usb-storage
           (an existing -drive if=none) at run time, each enumerates in the guest, the
           keyboard's key reaches its event device, the disk reads right; x-query-usb
           and HMP info usb list them with the guest's ports; savevm/loadvm with them
           plugged, and a key arrives after; device_del of each, the
           guest sees them go (the disk while the guest reads it) and DEVICE_DELETED follows; a keyboard plugged again
           enumerates again; bad device_add/device_del arguments are one error each.
  passthrough, passthrough-ehci, passthrough-xhci  one boot under each controller (the
           board's UHCI; usb-ehci, where the full-speed mocks sit behind a usb-hub; qemu-xhci),
           each with a usb-hub. usb-host against a mock HID keyboard (tests/usbmock: umockdev's testbed
           with an ioctl handler playing usbfs; vireo-run runs under umockdev-wrapper
           and vireo-usbmock): device_add usb-host with the mock's ids, the guest
           enumerates it with its own descriptors and strings, a key the mock sends
           reaches the guest's event device; device_del with its interrupt transfer in
           flight returns the device to the host's driver; added again behind the hub,
           a key comes through it, then the mock leaves the host: the guest sees it go
           through the hub's port change and the listing keeps the hub alone. A mock
           bulk-only disk (001/003): the guest reads it, writes a file at 1 MiB that
           the mock's own copy of the disk holds, and it leaves the host while the
           guest reads it.
  boot-storage-ehci  the same with the disk on a usb-ehci (SeaBIOS's EHCI driver).
  options  USB option mistakes are one-line errors; -machine usb=off, -usb, -usbdevice.
  seabios  FreeDOS booted by SeaBIOS with a usb-kbd and a usb-tablet attached: SeaBIOS
           drives the UHCI and the keyboard, so a command typed on the USB keyboard
           runs at the DOS prompt.

  usb.py --vireo PATH --vireo-img PATH --accel tcg --scenario NAME [--linux-kit DIR]
Exit codes: 0 pass, 1 fail, 77 skip."""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import hmp  # noqa: E402
from vmtest import TestFailure  # noqa: E402
from floppy import private_copy, screen_text, type_line, wait_screen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "guests"))
# The end of a guest's report line on the console it shares with the kernel: a
# printk may land before its newline ("VIREO-USB-SPEED 1-3 480[    5.99] scsi ...").
KMSG_TAIL = r"\s*(?:\[ *\d+\.\d+\].*)?$"

EV_SYN, EV_KEY, EV_REL, EV_ABS, EV_MSC = 0, 1, 2, 3, 4
ABS_X, ABS_Y = 0, 1
REL_X, REL_Y, REL_WHEEL, REL_WHEEL_HI_RES = 0, 1, 8, 11
BTN_LEFT, KEY_A, KEY_B = 0x110, 30, 48


def abs_event(**axes):
    return [{"type": "abs", "data": {"axis": a, "value": v}} for a, v in axes.items()]


def btn_event(button, down):
    return [{"type": "btn", "data": {"button": button, "down": down}}]


def decode_events(text):
    """The last round of VIREO-EV records: device -> [(type, code, value)] without the
    sync and scan code records."""  # noqa: D401
    text = text.replace("\r", "")
    end = text.rfind("VIREO-USB-DONE")
    start = max(text.rfind("VIREO-USB-READY", 0, end), text.rfind("VIREO-USB-DONE", 0, end))
    text = text[:end]
    devices = {}
    for m in re.finditer(r"^VIREO-EV-BEGIN (\S+)", text[start:], re.M):
        devices[m.group(1)] = []
    for m in re.finditer(r"^VIREO-EV (\S+) ([\d ]+)$", text[start:], re.M):
        w = [int(x) for x in m.group(2).split()]
        if len(w) != 8:
            continue
        value = w[6] | w[7] << 16
        if value >= 1 << 31:
            value -= 1 << 32
        # Newer kernels add a high-resolution copy of each wheel notch: not ours to check.
        if w[4] not in (EV_SYN, EV_MSC) and (w[4], w[5]) != (EV_REL, REL_WHEEL_HI_RES):
            devices.setdefault(m.group(1), []).append((w[4], w[5], value))
    return devices


def without_autorepeat(events):
    """Events with the input layer's autorepeats (value 2 while the key is down) left out:
    Linux repeats a key held past its 250 ms delay, which a busy host can cause between a
    mock's press and release reports."""
    down, kept = set(), []
    for ev in events:
        if ev[0] == EV_KEY and ev[2] == 2 and ev[1] in down:
            continue
        if ev[0] == EV_KEY:
            (down.add if ev[2] == 1 else down.discard)(ev[1])
        kept.append(ev)
    return kept


def input_names(text):
    return {m.group(2).strip(): m.group(1) for m in re.finditer(r"^VIREO-INPUT (\S+) (.*)$", text, re.M)}


def check_round(vm, text, want, failures, what):
    names = input_names(text)
    ev = decode_events(text)
    for dev, expected in want.items():
        node = names.get(dev)
        if node is None:
            failures.append("%s: no input device named %r (have %s)" % (what, dev, sorted(names)))
            continue
        got = ev.get(node)
        if got is not None:
            got = without_autorepeat(got)
        if got != expected:
            failures.append("%s: %s (%s) got %s, expected %s" % (what, dev, node, got, expected))
        else:
            print("ok: %s: %s received %s" % (what, dev, expected))


# The two Linux boots: the devices, vireo.usb= (how many "QEMU USB" products to wait
# for), and each product's expected sysfs port (a regex), vendor:product and speed.
# On UHCI the mouse sits behind a full-speed usb-hub.
UHCI_BOOT = (["-device", "usb-tablet", "-device", "usb-kbd",
              "-device", "piix3-usb-uhci,id=uhci2", "-device", "usb-hub,bus=usb-bus.1,port=2",
              "-device", "usb-mouse,bus=usb-bus.1,port=2.1",
              "-device", "usb-storage,drive=usbdisk,bus=usb-bus.1,port=1"], 5,
             (("QEMU USB Tablet", "1-1", "0627:0001", "12"), ("QEMU USB Keyboard", "1-2", "0627:0001", "12"),
              ("QEMU USB Hub", "2-2", "0409:55aa", "12"), ("QEMU USB Mouse", r"2-2\.1", "0627:0001", "12"),
              ("QEMU USB HARDDRIVE", "2-1", "0627:0001", "12")))
# EHCI (usb-bus.1, also named ehci.0 after its id) is Linux's bus 1: ehci_hcd loads
# first. The mouse sits behind a usb-hub at root port 4.
EHCI_BOOT = (["-device", "usb-ehci,id=ehci", "-device", "usb-tablet,bus=ehci.0,port=1",
              "-device", "usb-kbd,bus=ehci.0,port=2",
              "-device", "usb-storage,drive=usbdisk,bus=ehci.0,port=3",
              "-device", "usb-hub,bus=ehci.0,port=4", "-device", "usb-mouse,bus=usb-bus.1,port=4.2"], 5,
             (("QEMU USB Tablet", "1-1", "0627:0001", "480"), ("QEMU USB Keyboard", "1-2", "0627:0001", "480"),
              ("QEMU USB HARDDRIVE", "1-3", "0627:0001", "480"), ("QEMU USB Hub", "1-4", "0409:55aa", "480"),
              ("QEMU USB Mouse", r"1-4\.2", "0627:0001", "480")))


def loadvm_round(vm, tag, failures, what):
    """After the guest's first round: back to snapshot tag (taken while the guest waited
    for its second round), a tablet position and a key sent, and the second round's
    events checked: the controller, its ports and the devices carry on from the save."""
    vm.wait_serial(r"VIREO-USB-DONE[\s\S]*(reboot: Power down|Power down)", 30)
    hmp(vm, "loadvm " + tag)
    vm.command("cont")
    print("ok: loadvm")
    before = len(vm.serial())
    vm.command("input-send-event", events=abs_event(x=100, y=200))
    time.sleep(0.3)
    vm.send_key("b", hold_time=50)
    deadline = time.monotonic() + 120
    while "VIREO-USB-DONE" not in vm.serial()[before:]:
        if time.monotonic() > deadline:
            raise TestFailure("no second round after loadvm:\n" + vm.serial()[-2000:])
        time.sleep(0.2)
    check_round(vm, vm.serial(), {
        "QEMU QEMU USB Tablet": [(EV_ABS, ABS_X, 100), (EV_ABS, ABS_Y, 200)],
        "QEMU QEMU USB Keyboard": [(EV_KEY, KEY_B, 1), (EV_KEY, KEY_B, 0)],
    }, failures, what)


def build_usb_kit(kit):
    """The Linux kit and its USB initramfs (linux/mkkit.sh, mkusb.sh): None when they are
    built, else the scenario's exit status (SKIP when the kit cannot be had, 1)."""
    for script in ("mkkit.sh", "mkusb.sh"):
        r = subprocess.run(["sh", os.path.join(HERE, "linux", script), kit])
        if r.returncode == vmtest.SKIP:
            return vmtest.SKIP
        if r.returncode:
            print("FAIL: %s failed" % script)
            return 1
    return None


def scenario_linux(o, tmp):
    return linux_boot(o, tmp, UHCI_BOOT)


def scenario_linux_ehci(o, tmp):
    return linux_boot(o, tmp, EHCI_BOOT)


def linux_boot(o, tmp, boot):
    devices, count, products = boot
    kit = o.linux_kit
    status = build_usb_kit(kit)
    if status is not None:
        return status
    disk = os.path.join(tmp, "state.qcow2")
    subprocess.run([o.vireo_img, "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
    # The USB disk: 8 MiB with a pattern in its first 64 KiB, as qcow2 (savevm needs it).
    raw = os.path.join(tmp, "usb.raw")
    pattern = bytes((i * 131 + (i >> 9)) & 0xff for i in range(65536))
    with open(raw, "wb") as f:
        f.write(pattern)
        f.truncate(8 << 20)
    usbdisk = os.path.join(tmp, "usb.qcow2")
    subprocess.run([o.vireo_img, "convert", "-q", "-f", "raw", "-O", "qcow2", raw, usbdisk], check=True)
    with open(os.path.join(kit, "modules-usb", "usbcore.ko"), "rb") as f:
        payload = f.read()
    args = ["-m", "256", "-no-shutdown", "-kernel", os.path.join(kit, "vmlinuz"),
            "-initrd", os.path.join(kit, "initrd-usb.img"),
            "-append", "console=ttyS0 vireo.usb=%d vireo.usbdisk=1" % count,
            "-drive", "file=%s,if=ide,format=qcow2" % disk,
            "-drive", "if=none,id=usbdisk,format=qcow2,file=" + usbdisk] + devices
    failures = []
    vm = vmtest.Vm(o.vireo, o.accel, args, tmp)
    try:
        vm.wait_serial(r"^VIREO-USB-READY", o.timeout)
        text = vm.serial()
        for product, port, ids, speed in products:
            m = re.search(r"^VIREO-USB-PRODUCT (%s) %s %s%s" % (port, ids, product, KMSG_TAIL), text, re.M)
            if not m:
                failures.append("%s did not enumerate on port %s" % (product, port))
                continue
            m2 = re.search(r"^VIREO-USB-SPEED %s (\d+)%s" % (re.escape(m.group(1)), KMSG_TAIL), text, re.M)
            if not m2 or m2.group(1) != speed:
                failures.append("%s at %s: speed %s, expected %s Mb/s"
                                % (product, m.group(1), m2.group(1) if m2 else None, speed))
            else:
                print("ok: %s enumerated at %s, %s Mb/s" % (product, m.group(1), speed))
            # x-query-usb names the same way to the device, through the hub for the
            # mouse: Linux's "2-2.1" is port-path "2.1".
            listed = [e["port-path"] for e in vm.command("x-query-usb") if e["product"] == product]
            guest_path = m.group(1).split("-", 1)[1]
            if listed != [guest_path]:
                failures.append("x-query-usb: %s at port-path %s, the guest has it at %s" % (product, listed, guest_path))
            else:
                print("ok: x-query-usb: %s at port-path %s" % (product, guest_path))
        want_read = hashlib.md5(pattern).hexdigest()
        want_wrote = "%d %s" % (len(payload), hashlib.md5(payload).hexdigest())
        for what, want in (("SIZE", "16384"), ("READ", want_read), ("WROTE", want_wrote)):
            m = re.search(r"^VIREO-USB-DISK-%s (.*?)\s*(-)?\s*$" % what, text.replace("\r", ""), re.M)
            got = m.group(1).strip() if m else None
            if got != want:
                failures.append("USB disk %s: the guest says %r, expected %r" % (what, got, want))
            else:
                print("ok: USB disk %s %s" % (what.lower(), want))
        # Saved while the guest waits for the keyboard's signal; loaded after round 1.
        hmp(vm, "savevm usbwait")
        print("ok: savevm with the USB devices attached")

        vm.command("input-send-event", events=abs_event(x=16384, y=8192))
        time.sleep(0.3)
        vm.command("input-send-event", events=abs_event(x=32767, y=0) + btn_event("left", True))
        time.sleep(0.3)
        vm.command("input-send-event", events=btn_event("left", False) + btn_event("wheel-down", True))
        time.sleep(0.3)
        vm.command("input-send-event", events=[{"type": "rel", "data": {"axis": "x", "value": 10}},
                                               {"type": "rel", "data": {"axis": "y", "value": -5}}])
        time.sleep(0.3)
        vm.send_key("a", hold_time=50)
        vm.wait_serial(r"^VIREO-USB-DONE", 120)
        text = vm.serial()
        check_round(vm, text, {
            "QEMU QEMU USB Tablet": [(EV_ABS, ABS_X, 16384), (EV_ABS, ABS_Y, 8192),
                                     (EV_KEY, BTN_LEFT, 1), (EV_ABS, ABS_X, 32767), (EV_ABS, ABS_Y, 0),
                                     (EV_KEY, BTN_LEFT, 0), (EV_REL, REL_WHEEL, -1)],
            "QEMU QEMU USB Mouse": [(EV_REL, REL_X, 10), (EV_REL, REL_Y, -5)],
            "QEMU QEMU USB Keyboard": [(EV_KEY, KEY_A, 1), (EV_KEY, KEY_A, 0)],
            "AT Translated Set 2 keyboard": [],
        }, failures, "round 1")

        # Back to the saved moment: the controllers, ports and devices carry on.
        loadvm_round(vm, "usbwait", failures, "after loadvm")
    except TestFailure as e:
        failures.append(str(e))
        print(vm.serial()[-3000:])
    finally:
        vm.close()
    # What the guest wrote through usb-storage is in the image (the snapshot kept it).
    out = os.path.join(tmp, "usb-after.raw")
    subprocess.run([o.vireo_img, "convert", "-q", "-f", "qcow2", "-O", "raw", usbdisk, out], check=True)
    with open(out, "rb") as f:
        head = f.read(65536)
        f.seek(1 << 20)
        written = f.read(len(payload))
    if head != pattern or written != payload:
        failures.append("the USB disk image lacks the guest's write at 1 MiB (or lost its pattern)")
    else:
        print("ok: the image holds the %d bytes the guest wrote at 1 MiB" % len(payload))
    if failures:
        print("--- serial (VIREO lines) ---")
        print("\n".join(l for l in vm.serial().splitlines() if l.startswith("VIREO")))
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


def usb_lists(text):
    """Every VIREO-USB-LIST line of the hot plug guest, as sets of port:vid:pid:product."""
    return [set(m.group(1).split()) for m in re.finditer(r"^VIREO-USB-LIST(.*)$", text.replace("\r", ""), re.M)]


def wait_list(vm, pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        lists = usb_lists(vm.serial())
        if lists and pred(lists[-1]):
            return lists[-1]
        if time.monotonic() > deadline:
            raise TestFailure("%s: the guest's last USB list is %s" % (what, lists[-1] if lists else None))
        time.sleep(0.2)


def scenario_hotplug(o, tmp):
    kit = o.linux_kit
    status = build_usb_kit(kit)
    if status is not None:
        return status
    raw = os.path.join(tmp, "hot.raw")
    pattern = bytes((i * 37 + (i >> 8)) & 0xff for i in range(65536))
    with open(raw, "wb") as f:
        f.write(pattern)
        f.truncate(4 << 20)
    # qcow2 disks, so savevm can hold the state with the devices plugged.
    hot = os.path.join(tmp, "hot.qcow2")
    subprocess.run([o.vireo_img, "convert", "-q", "-f", "raw", "-O", "qcow2", raw, hot], check=True)
    state = os.path.join(tmp, "state.qcow2")
    subprocess.run([o.vireo_img, "create", "-q", "-f", "qcow2", state, "16M"], check=True)
    args = ["-m", "256", "-no-shutdown", "-kernel", os.path.join(kit, "vmlinuz"),
            "-initrd", os.path.join(kit, "initrd-usb.img"),
            "-append", "console=ttyS0 vireo.usbhotplug=1",
            "-drive", "file=%s,if=ide,format=qcow2" % state,
            "-drive", "if=none,id=hotdisk,format=qcow2,file=" + hot]
    failures = []

    def check(ok, good, bad):
        if ok:
            print("ok:", good)
        else:
            failures.append(bad)

    vm = vmtest.Vm(o.vireo, o.accel, args, tmp)
    try:
        vm.wait_serial(r"^VIREO-USB-READY", o.timeout)
        check(vm.command("x-query-usb") == [], "no USB device at boot", "x-query-usb lists devices at boot")
        # Mistakes: one error line each, nothing plugged.
        for bad, want in (({"driver": "usb-nope"}, "'usb-nope' is not one"),
                          ({"driver": "isa-debug-exit"}, "cannot be hot-plugged"),
                          ({"driver": "usb-storage", "id": "s9"}, "needs drive=ID"),
                          ({"driver": "usb-storage", "id": "s9", "drive": "nodisk"}, "no -drive if=none,id=nodisk"),
                          ({"driver": "usb-kbd", "id": "k9", "port": "7"}, "has ports 1 to 2"),
                          ({"driver": "usb-kbd", "id": "k9", "bogus": "1"}, "bogus"),
                          ({"driver": "usb-host", "id": "h9", "vendorid": "0x10000"}, "vendorid"),
                          ({"driver": "usb-host", "id": "h9"}, "needs vendorid= and productid="),
                          ({"driver": "usb-kbd", "id": "9bad"}, "9bad")):
            try:
                vm.command("device_add", **bad)
                failures.append("device_add %s succeeded" % bad)
            except TestFailure as e:
                msg = str(e)
                check(want in msg and "\n" not in msg, "device_add %s -> %s" % (bad, msg),
                      "device_add %s: %r lacks %r or is not one line" % (bad, msg, want))
        for bad, want in (({"id": "nothere"}, "Device 'nothere' not found"),
                          ({"id": "usb"}, "cannot be unplugged")):
            try:
                vm.command("device_del", **bad)
                failures.append("device_del %s succeeded" % bad)
            except TestFailure as e:
                check(want in str(e), "device_del %s -> %s" % (bad, e), "device_del %s: %s" % (bad, e))
        check(vm.command("x-query-usb") == [], "the mistakes plugged nothing", "a failed device_add left a device")

        vm.command("device_add", driver="usb-kbd", id="hkbd")
        lst = wait_list(vm, lambda l: any("QEMU_USB_Keyboard" in e for e in l), "usb-kbd plugged")
        print("ok: usb-kbd enumerated after device_add:", sorted(lst))
        vm.wait_serial(r"^VIREO-INPUT \S+ QEMU QEMU USB Keyboard", 30)
        time.sleep(1)
        vm.send_key("a", hold_time=50)
        vm.wait_serial(r"^VIREO-USB-DONE", 60)
        got = [e for evs in decode_events(vm.serial()).values() for e in evs]
        got = without_autorepeat(got)
        check(got == [(EV_KEY, KEY_A, 1), (EV_KEY, KEY_A, 0)], "the key reached the plugged keyboard",
              "plugged keyboard's events: %s" % got)

        vm.command("device_add", driver="usb-storage", id="hdisk", drive="hotdisk")
        lst = wait_list(vm, lambda l: any("QEMU_USB_HARDDRIVE" in e for e in l), "usb-storage plugged")
        print("ok: usb-storage enumerated after device_add:", sorted(lst))
        m = vm.wait_serial(r"^VIREO-USB-DISK-READ (\w+)", 60, whole_lines=True)
        check(m.group(1) == hashlib.md5(pattern).hexdigest(), "the plugged disk's first 64 KiB read right",
              "plugged disk read %s" % m.group(1))
        m = vm.wait_serial(r"^VIREO-USB-DISK-SIZE (\d+)", 5, whole_lines=True)
        check(m.group(1) == "8192", "the plugged disk has 8192 sectors", "plugged disk size %s" % m.group(1))

        listing = vm.command("x-query-usb")
        guest = {e.split(":")[3]: e.split(":")[0] for e in usb_lists(vm.serial())[-1]}
        want = {"hkbd": ("QEMU USB Keyboard", "usb-kbd"), "hdisk": ("QEMU USB HARDDRIVE", "usb-storage")}
        for dev in listing:
            prod, typ = want.pop(dev["id"], (None, None))
            gport = guest.get((prod or "").replace(" ", "_"))
            check(prod == dev["product"] and typ == dev["type"] and dev["bus"] == "usb-bus.0" and
                  dev["speed"] == "full" and dev["address"] > 0 and gport == "1-%d" % dev["port"],
                  "x-query-usb: %s matches the guest (port %s)" % (dev, gport),
                  "x-query-usb entry %s does not match the guest's %s" % (dev, guest))
        check(not want, "x-query-usb lists both", "x-query-usb lacks %s" % want)
        info = hmp(vm, "info usb")
        check("Product QEMU USB Keyboard, ID: hkbd" in info and "Product QEMU USB HARDDRIVE, ID: hdisk" in info,
              "info usb: %s" % info.strip().replace("\r\n", " | "), "info usb: %r" % info)

        # The plugged devices' state goes into savevm and comes back with loadvm: the
        # keyboard goes on delivering keys.
        hmp(vm, "savevm plugged")
        hmp(vm, "loadvm plugged")
        vm.command("cont")
        print("ok: savevm/loadvm with the plugged devices")
        before = vm.serial().count("VIREO-USB-DONE")
        vm.send_key("b", hold_time=50)
        deadline = time.monotonic() + 60
        while vm.serial().count("VIREO-USB-DONE") == before:
            if time.monotonic() > deadline:
                raise TestFailure("no key from the plugged keyboard after loadvm")
            time.sleep(0.2)
        got = [e for evs in decode_events(vm.serial()).values() for e in evs]
        got = without_autorepeat(got)
        check(got == [(EV_KEY, KEY_B, 1), (EV_KEY, KEY_B, 0)], "a key reached the plugged keyboard after loadvm",
              "plugged keyboard's events after loadvm: %s" % got)

        # The guest reads the disk in a loop: the device goes with its transfers in flight.
        before = vm.serial().count("VIREO-USB-DISK-READER-END")
        vm.command("device_del", id="hdisk")
        wait_list(vm, lambda l: not any("HARDDRIVE" in e for e in l) and any("Keyboard" in e for e in l),
                  "usb-storage unplugged")
        print("ok: usb-storage is gone from the guest after device_del")
        deadline = time.monotonic() + 30
        while vm.serial().count("VIREO-USB-DISK-READER-END") == before and time.monotonic() < deadline:
            time.sleep(0.2)
        check(vm.serial().count("VIREO-USB-DISK-READER-END") > before,
              "the guest's reader of the unplugged disk failed and ended", "the guest's disk reader did not end")
        vm.command("device_del", id="hkbd")
        wait_list(vm, lambda l: not l, "usb-kbd unplugged")
        print("ok: usb-kbd is gone from the guest after device_del")
        check(vm.command("x-query-usb") == [], "x-query-usb is empty again", "x-query-usb after device_del")
        deleted = sorted(e["data"]["device"] for e in vm.events if e.get("event") == "DEVICE_DELETED")
        check(deleted == ["hdisk", "hkbd"], "DEVICE_DELETED for hdisk and hkbd", "DEVICE_DELETED events: %s" % deleted)
        # Plugged again, on the port the disk left: it enumerates again.
        vm.command("device_add", driver="usb-kbd", id="hkbd2", port="2")
        lst = wait_list(vm, lambda l: any(e.startswith("1-2:") and "Keyboard" in e for e in l), "usb-kbd replugged")
        print("ok: a keyboard plugged again enumerates on port 2:", sorted(lst))
    except TestFailure as e:
        failures.append(str(e))
        print(vm.serial()[-3000:])
    finally:
        vm.close()
    if failures:
        print("--- serial (VIREO lines) ---")
        print("\n".join(l for l in vm.serial().splitlines() if l.startswith("VIREO")))
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


# Passthrough under each controller: its extra options and where the mock devices go
# (device_add's bus/port), with the port Linux names for the keyboard, the disk and the
# keyboard plugged again by hostbus/hostaddr. Each has a usb-hub; the second keyboard
# sits behind it, so its leaving the host is a change of the hub's port. A companion-free
# EHCI carries high speed only: the full-speed mocks sit behind its hub (its transaction
# translator) all along.
PASSTHROUGH = {
    "uhci": ([("-device", "usb-hub,port=2")],
             {"bus": "usb-bus.0", "port": "1"}, {"bus": "usb-bus.0", "port": "2.2"}, {"bus": "usb-bus.0", "port": "2.1"},
             ("1-1", "1-2.2", "1-2.1")),
    "ehci": ([("-machine", "pc,usb=off"), ("-device", "usb-ehci,id=ehci"), ("-device", "usb-hub,bus=ehci.0,port=1")],
             {"bus": "ehci.0", "port": "1.1"}, {"bus": "ehci.0", "port": "1.2"}, {"bus": "ehci.0", "port": "1.3"},
             ("1-1.1", "1-1.2", "1-1.3")),
    "xhci": ([("-machine", "pc,usb=off"), ("-device", "qemu-xhci,id=xhci"), ("-device", "usb-hub,bus=xhci.0,port=4")],
             {"bus": "xhci.0", "port": "1"}, {"bus": "xhci.0", "port": "2"}, {"bus": "xhci.0", "port": "4.1"},
             ("1-1", "1-2", "1-4.1")),
}


def without_hub(lst):
    return {e for e in lst if ":0409:55aa:" not in e}


def scenario_passthrough(o, tmp):
    return passthrough(o, tmp, "uhci")


def scenario_passthrough_ehci(o, tmp):
    return passthrough(o, tmp, "ehci")


def scenario_passthrough_xhci(o, tmp):
    return passthrough(o, tmp, "xhci")


def passthrough(o, tmp, controller):
    extra, kbd_at, disk_at, kbd2_at, guest_ports = PASSTHROUGH[controller]
    mock = o.usbmock
    wrapper = shutil.which("umockdev-wrapper")
    if not mock or not os.path.exists(mock) or not wrapper:
        print("SKIP: needs umockdev-wrapper and vireo-usbmock (Debian umockdev, libumockdev-dev)")
        return vmtest.SKIP
    kit = o.linux_kit
    status = build_usb_kit(kit)
    if status is not None:
        return status
    pattern = bytes((i * 37 + (i >> 8)) & 0xff for i in range(65536))
    with open(os.path.join(kit, "modules-usb", "usbcore.ko"), "rb") as f:
        payload = f.read(65536)
    ctl = os.path.join(tmp, "mock.ctl")
    stats_path = os.path.join(tmp, "mock.stats")
    os.mkfifo(ctl)
    run = os.path.join(tmp, "vireo-under-mock")
    with open(run, "w") as f:
        f.write("#!/bin/sh\nexec %s %s %s %s -- %s \"$@\"\n" % (wrapper, mock, ctl, stats_path, os.path.abspath(o.vireo)))
    os.chmod(run, 0o755)
    ctl_fd = os.open(ctl, os.O_RDWR)

    def send(line):
        os.write(ctl_fd, (line + "\n").encode())

    def stats():
        try:
            os.unlink(stats_path)
        except FileNotFoundError:
            pass
        send("stats")
        deadline = time.monotonic() + 10
        while not os.path.exists(stats_path):
            if time.monotonic() > deadline:
                raise TestFailure("the mock wrote no stats")
            time.sleep(0.05)
        with open(stats_path) as f:
            return dict(kv.split("=") for kv in f.read().split())

    args = ["-m", "256", "-no-shutdown", "-kernel", os.path.join(kit, "vmlinuz"),
            "-initrd", os.path.join(kit, "initrd-usb.img"),
            "-append", "console=ttyS0 vireo.usbhotplug=1"] + [a for pair in extra for a in pair]
    failures = []

    def check(ok, good, bad):
        if ok:
            print("ok:", good)
        else:
            failures.append(bad)

    vm = vmtest.Vm(run, o.accel, args, tmp)
    try:
        vm.wait_serial(r"^VIREO-USB-READY", o.timeout)
        hub = wait_list(vm, lambda l: any(":0409:55aa:QEMU_USB_Hub" in e for e in l), "the usb-hub at boot")
        print("ok: %s: the usb-hub enumerated: %s" % (controller, sorted(hub)))
        st = stats()
        check(st["driver_bound"] == "1", "the host's driver holds the mock before", "mock stats before: %s" % st)
        vm.command("device_add", driver="usb-host", id="pass", vendorid="0x16c0", productid="0x27db", **kbd_at)
        st = stats()
        check(st["driver_bound"] == "0" and st["disconnects"] == "1" and st["claimed"] == "1",
              "attach detached the host's driver and claimed the interface", "mock stats after attach: %s" % st)
        want_kbd = "%s:16c0:27db:Mock_USB_Keyboard" % guest_ports[0]
        lst = wait_list(vm, lambda l: want_kbd in l, "usb-host plugged at %s" % guest_ports[0])
        print("ok: the passed-through device enumerated in the guest:", sorted(lst))
        vm.wait_serial(r"^VIREO-INPUT \S+ Vireo Mock USB Keyboard", 60)
        listing = [d for d in vm.command("x-query-usb") if d["type"] != "usb-hub"]
        check(len(listing) == 1 and listing[0]["product"] == "Mock USB Keyboard" and listing[0]["type"] == "usb-host"
              and listing[0]["speed"] == "full",
              "x-query-usb: %s" % listing, "x-query-usb: %s" % listing)
        time.sleep(1)
        send("key 04")
        vm.wait_serial(r"^VIREO-USB-DONE", 60)
        got = [e for evs in decode_events(vm.serial()).values() for e in evs]
        got = without_autorepeat(got)
        check(got == [(EV_KEY, KEY_A, 1), (EV_KEY, KEY_A, 0)], "the mock's key reached the guest's input layer",
              "events from the passed-through keyboard: %s" % got)
        st = stats()
        check(int(st["set_idle"]) >= 1 and int(st["report_desc"]) >= 1 and int(st["reports"]) == 2,
              "usbhid's class requests reached the mock (%s)" % st, "mock stats: %s" % st)

        # The mock disk (bulk-only transport): the guest reads it, writes /payload at 1 MiB
        # and reads that back; the mock's own copy of the disk must hold it.
        vm.command("device_add", driver="usb-host", id="pdisk", vendorid="0x16c0", productid="0x27dc", **disk_at)
        want_disk = "%s:16c0:27dc:Mock_USB_Disk" % guest_ports[1]
        lst = wait_list(vm, lambda l: want_disk in l, "mock disk plugged at %s" % guest_ports[1])
        print("ok: the mock disk enumerated:", sorted(lst))
        m = vm.wait_serial(r"^VIREO-USB-DISK-READ (\w+)", 300, whole_lines=True)
        check(m.group(1) == hashlib.md5(pattern[:65536]).hexdigest(), "the guest read the mock disk's first 64 KiB right",
              "mock disk read %s" % m.group(1))
        m = vm.wait_serial(r"^VIREO-USB-DISK-WROTE (\d+) (\w+)", 600, whole_lines=True)
        want = "%d %s" % (len(payload), hashlib.md5(payload).hexdigest())
        check("%s %s" % (m.group(1), m.group(2)) == want, "the guest wrote and read back %s bytes" % m.group(1),
              "guest's write to the mock disk: %s %s, expected %s" % (m.group(1), m.group(2), want))
        dump = os.path.join(tmp, "mockdisk.raw")
        send("dump " + dump)
        deadline = time.monotonic() + 10
        while not os.path.exists(dump) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(dump, "rb") as f:
            disk = f.read()
        check(disk[(1 << 20):(1 << 20) + len(payload)] == payload and disk[:65536] == pattern[:65536],
              "the mock's disk holds the payload at 1 MiB and its pattern before",
              "the mock's disk lacks the guest's write")
        st = stats()
        print("ok: mock disk counters:", {k: v for k, v in st.items() if k.startswith("disk_")})
        # Unplugged from the host while the guest reads it in a loop.
        send("unplug disk")
        wait_list(vm, lambda l: not any("27dc" in e for e in l), "mock disk unplugged from the host")
        print("ok: the disk leaving the host mid-transfer left the guest")
        # (Not anchored: the guest's console may have put other output before it.)
        vm.wait_serial(r"VIREO-USB-DISK-READER-END", 60)
        print("ok: the guest's reader of the unplugged disk ended")

        # Its interrupt IN transfer is always in flight: device_del cancels it.
        vm.command("device_del", id="pass")
        wait_list(vm, lambda l: not without_hub(l), "usb-host unplugged with device_del")
        print("ok: device_del removed it from the guest")
        st = stats()
        check(st["driver_bound"] == "1" and st["connects"] == "1" and st["claimed"] == "0",
              "device_del released it and reattached the host's driver", "mock stats after device_del: %s" % st)

        # Plugged again by the host's bus and address, behind the hub this time: a key
        # goes through the hub's port, and leaving the host is the hub's port change.
        vm.command("device_add", driver="usb-host", id="pass2", hostbus="1", hostaddr="2", **kbd2_at)
        want_kbd = "%s:16c0:27db:Mock_USB_Keyboard" % guest_ports[2]
        wait_list(vm, lambda l: want_kbd in l, "usb-host plugged again at %s" % guest_ports[2])
        print("ok: plugged again by hostbus/hostaddr behind the hub, at", guest_ports[2])
        before = vm.serial().count("VIREO-USB-DONE")
        vm.wait_serial(r"^VIREO-INPUT \S+ Vireo Mock USB Keyboard", 60)
        time.sleep(1)
        send("key 05")
        deadline = time.monotonic() + 60
        while vm.serial().count("VIREO-USB-DONE") == before:
            if time.monotonic() > deadline:
                raise TestFailure("no key from the keyboard behind the hub")
            time.sleep(0.2)
        got = [e for evs in decode_events(vm.serial()).values() for e in evs]
        got = without_autorepeat(got)
        check(got == [(EV_KEY, KEY_B, 1), (EV_KEY, KEY_B, 0)], "a key through the hub reached the guest",
              "events from the keyboard behind the hub: %s" % got)
        send("unplug kbd")
        lst = wait_list(vm, lambda l: not without_hub(l), "mock unplugged from the host")
        check(any(":0409:55aa:" in e for e in lst), "the device behind the hub leaving the host left the guest; "
              "the hub stays: %s" % sorted(lst), "the hub went too: %s" % sorted(lst))
        listing = vm.command("x-query-usb")
        check([d["type"] for d in listing] == ["usb-hub"], "x-query-usb lists the hub alone after the host unplug",
              "x-query-usb after the host unplug: %s" % listing)
        try:
            vm.command("device_add", driver="usb-host", id="pass3", vendorid="0x16c0", productid="0x27db")
            failures.append("device_add of the unplugged device succeeded")
        except TestFailure as e:
            check("no host USB device 16c0:27db" in str(e), "adding it again: %s" % e, "adding it again: %s" % e)
        vm.sock.sendall(b'{"execute": "quit"}\n')
        out = vm.output()
    except TestFailure as e:
        failures.append(str(e))
        print(vm.serial()[-3000:])
        out = ""
    finally:
        vm.close()
        os.close(ctl_fd)
    check("the device left the host; unplugged from the guest" in out, "vireo-run said the device left",
          "vireo-run's output lacks the host-unplug line: %r" % out[-500:])
    if failures:
        print("--- serial (VIREO lines) ---")
        print("\n".join(l for l in vm.serial().splitlines() if l.startswith("VIREO")))
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


def scenario_usbredir(o, tmp):
    """usb-redir on a TCP socket chardev, fed by Debian's usbredirect redirecting the mock
    keyboard and disk of tests/usbmock (umockdev's testbed), each on its own usb-redir:
    the guest enumerates them by name, the key reaches the guest's input layer, the disk's
    pattern reads back and a write to it reads back, killing usbredirect unplugs the
    keyboard."""
    mock = o.usbmock
    wrapper = shutil.which("umockdev-wrapper")
    redirect = shutil.which("usbredirect")
    if not mock or not os.path.exists(mock) or not wrapper or not redirect:
        print("SKIP: needs umockdev-wrapper, vireo-usbmock and usbredirect (Debian umockdev, usbredirect)")
        return vmtest.SKIP
    kit = o.linux_kit
    status = build_usb_kit(kit)
    if status is not None:
        return status
    port = port2 = vmtest.free_port()
    while port2 == port:
        port2 = vmtest.free_port()
    pattern = bytes((i * 37 + (i >> 8)) & 0xff for i in range(65536))
    with open(os.path.join(kit, "modules-usb", "usbcore.ko"), "rb") as f:
        payload = f.read(65536)
    ctl = os.path.join(tmp, "mock.ctl")
    ctl2 = os.path.join(tmp, "mock2.ctl")
    os.mkfifo(ctl)
    os.mkfifo(ctl2)
    ctl_fd = os.open(ctl, os.O_RDWR)
    ctl2_fd = os.open(ctl2, os.O_RDWR)
    args = ["-m", "256", "-no-shutdown", "-kernel", os.path.join(kit, "vmlinuz"),
            "-initrd", os.path.join(kit, "initrd-usb.img"),
            "-append", "console=ttyS0 vireo.usbhotplug=1",
            "-chardev", "socket,id=ur,host=127.0.0.1,port=%d,server=on,wait=off" % port,
            "-device", "usb-redir,chardev=ur,id=redir,port=1",
            "-chardev", "socket,id=ur2,host=127.0.0.1,port=%d,server=on,wait=off" % port2,
            "-device", "usb-redir,chardev=ur2,id=redir2,port=2"]
    failures = []

    def check(ok, good, bad):
        if ok:
            print("ok:", good)
        else:
            failures.append(bad)

    vm = vmtest.Vm(os.path.abspath(o.vireo), o.accel, args, tmp)
    peer = None
    peers = []
    try:
        vm.wait_serial(r"^VIREO-USB-READY", o.timeout)
        peer = subprocess.Popen([wrapper, mock, ctl, os.path.join(tmp, "mock.stats"), "--", redirect,
                                 "--device", "16c0:27db", "--to", "127.0.0.1:%d" % port],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        want = "1-1:16c0:27db:Mock_USB_Keyboard"
        lst = wait_list(vm, lambda l: want in l, "the redirected keyboard at 1-1")
        print("ok: the redirected keyboard enumerated in the guest:", sorted(lst))
        listing = [d for d in vm.command("x-query-usb") if d["product"] != "Mock USB Disk"]
        check(len(listing) == 1 and listing[0]["type"] == "usb-redir" and listing[0]["product"] == "Mock USB Keyboard",
              "x-query-usb: %s" % listing, "x-query-usb: %s" % listing)
        before = vm.serial().count("VIREO-USB-DONE")
        vm.wait_serial(r"^VIREO-INPUT \S+ Vireo Mock USB Keyboard", 60)
        time.sleep(1)
        os.write(ctl_fd, b"key 04\n")
        deadline = time.monotonic() + 60
        while vm.serial().count("VIREO-USB-DONE") == before:
            if time.monotonic() > deadline:
                raise TestFailure("no key from the redirected keyboard")
            time.sleep(0.2)
        got = [e for evs in decode_events(vm.serial()).values() for e in evs]
        got = without_autorepeat(got)
        check(got == [(EV_KEY, KEY_A, 1), (EV_KEY, KEY_A, 0)], "the mock's key reached the guest through usbredir",
              "events from the redirected keyboard: %s" % got)

        # The mock disk (bulk-only transport) through a second usb-redir, added at run
        # time: the guest reads its pattern, writes /payload at 1 MiB and reads it back.
        disk = subprocess.Popen([wrapper, mock, ctl2, os.path.join(tmp, "mock2.stats"), "--", redirect,
                                 "--device", "16c0:27dc", "--to", "127.0.0.1:%d" % port2],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peers.append(disk)
        lst = wait_list(vm, lambda l: "1-2:16c0:27dc:Mock_USB_Disk" in l, "the redirected disk at 1-2")
        print("ok: the redirected disk enumerated:", sorted(lst))
        m = vm.wait_serial(r"^VIREO-USB-DISK-READ (\w+)", 300, whole_lines=True)
        check(m.group(1) == hashlib.md5(pattern).hexdigest(), "the guest read the redirected disk's first 64 KiB right",
              "redirected disk read %s" % m.group(1))
        m = vm.wait_serial(r"^VIREO-USB-DISK-WROTE (\d+) (\w+)", 600, whole_lines=True)
        want = "%d %s" % (len(payload), hashlib.md5(payload).hexdigest())
        check("%s %s" % (m.group(1), m.group(2)) == want, "the guest wrote and read back %s bytes" % m.group(1),
              "guest's write to the redirected disk: %s %s, expected %s" % (m.group(1), m.group(2), want))

        peer.terminate()
        peer.wait(timeout=30)
        wait_list(vm, lambda l: not any("27db" in e for e in l), "usbredirect killed")
        print("ok: killing usbredirect unplugged the keyboard from the guest")
        vm.sock.sendall(b'{"execute": "quit"}\n')
        out = vm.output()
    except TestFailure as e:
        failures.append(str(e))
        print(vm.serial()[-3000:])
        out = ""
    finally:
        for p in peers + ([peer] if peer else []):
            if p.poll() is None:
                p.kill()
                p.wait()
        vm.close()
        os.close(ctl_fd)
        os.close(ctl2_fd)
    check("usb-redir redir: the usbredir peer went away; unplugged from the guest" in out
          or "usb-redir redir: the peer's device left; unplugged from the guest" in out,
          "vireo-run said the peer left", "vireo-run's output lacks the unplug line: %r" % out[-500:])
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


def scenario_linux_xhci(o, tmp):
    kit = o.linux_kit
    status = build_usb_kit(kit)
    if status is not None:
        return status
    raw = os.path.join(tmp, "usb.raw")
    pattern = bytes((i * 97 + (i >> 10)) & 0xff for i in range(65536))
    with open(raw, "wb") as f:
        f.write(pattern)
        f.truncate(8 << 20)
    usbdisk = os.path.join(tmp, "usb.qcow2")
    subprocess.run([o.vireo_img, "convert", "-q", "-f", "raw", "-O", "qcow2", raw, usbdisk], check=True)
    with open(os.path.join(kit, "modules-usb", "usbcore.ko"), "rb") as f:
        payload = f.read()
    disk = os.path.join(tmp, "state.qcow2")
    subprocess.run([o.vireo_img, "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
    args = ["-m", "256", "-no-shutdown", "-machine", "pc,usb=off", "-kernel", os.path.join(kit, "vmlinuz"),
            "-initrd", os.path.join(kit, "initrd-usb.img"),
            "-append", "console=ttyS0 vireo.usb=5 vireo.usbdisk=1",
            "-device", "qemu-xhci,id=xhci", "-device", "usb-tablet", "-device", "usb-kbd",
            "-drive", "if=none,id=usbdisk,format=qcow2,file=" + usbdisk,
            "-drive", "file=%s,if=ide,format=qcow2" % disk,
            "-device", "usb-storage,drive=usbdisk,bus=xhci.0,port=3",
            "-device", "usb-hub,bus=xhci.0,port=4", "-device", "usb-mouse,bus=xhci.0,port=4.1"]
    failures = []
    vm = vmtest.Vm(o.vireo, o.accel, args, tmp)
    try:
        vm.wait_serial(r"^VIREO-USB-READY", o.timeout)
        text = vm.serial()
        # The USB 2 ports carry high speed: the devices with a high-speed mode take it,
        # the hub too, and the mouse behind it.
        for product, port, ids, speed in (("xHCI Host Controller", "usb1", "1d6b:0002", "480"),
                                          ("xHCI Host Controller", "usb2", "1d6b:0003", "5000"),
                                          ("QEMU USB Tablet", "1-1", "0627:0001", "480"),
                                          ("QEMU USB Keyboard", "1-2", "0627:0001", "480"),
                                          ("QEMU USB HARDDRIVE", "1-3", "0627:0001", "480"),
                                          ("QEMU USB Hub", "1-4", "0409:55aa", "480"),
                                          ("QEMU USB Mouse", r"1-4\.1", "0627:0001", "480")):
            if not re.search(r"^VIREO-USB-PRODUCT %s %s %s" % (port, ids, product), text, re.M):
                failures.append("%s did not enumerate as %s" % (product, port))
                continue
            m = re.search(r"^VIREO-USB-SPEED %s (\d+)%s" % (port, KMSG_TAIL), text, re.M)
            if not m or m.group(1) != speed:
                failures.append("%s at %s: speed %s, expected %s Mb/s" % (product, port, m and m.group(1), speed))
            else:
                print("ok: %s enumerated as %s at %s Mb/s" % (product, port, speed))
        want_read = hashlib.md5(pattern).hexdigest()
        want_wrote = "%d %s" % (len(payload), hashlib.md5(payload).hexdigest())
        for what, want in (("SIZE", "16384"), ("READ", want_read), ("WROTE", want_wrote)):
            m = re.search(r"^VIREO-USB-DISK-%s (.*?)\s*(-)?\s*$" % what, text.replace("\r", ""), re.M)
            got = m.group(1).strip() if m else None
            if got != want:
                failures.append("USB disk %s: the guest says %r, expected %r" % (what, got, want))
            else:
                print("ok: USB disk %s %s" % (what.lower(), want))
        # Linux's xhci_hcd takes MSI-X when offered: its IRQ is a message vector of mode
        # msix, and it counted interrupts there (the disk's transfers at least).
        modes = dict(re.findall(r"^VIREO-USB-MSI (\d+) (\w+)", text, re.M))
        irqs = [(irq, sum(int(c) for c in counts.split()), chip)
                for irq, counts, chip in re.findall(r"^VIREO-USB-IRQ (\d+):((?:\s+\d+)+)\s+(\S+).*xhci_hcd", text, re.M)]
        if not irqs:
            failures.append("no xhci_hcd line in /proc/interrupts")
        for irq, n, chip in irqs:
            if modes.get(irq) != "msix" or n == 0 or "MSI" not in chip:
                failures.append("xhci_hcd IRQ %s: mode %s, %d interrupts on %s; expected MSI-X with interrupts"
                                % (irq, modes.get(irq), n, chip))
            else:
                print("ok: xhci_hcd interrupts through MSI-X (IRQ %s, %s, %d interrupts)" % (irq, chip, n))
        # Saved while the guest waits for the keyboard's signal (its interrupt TRBs
        # pending on the xHCI); loaded after round 1.
        hmp(vm, "savevm xhciwait")
        print("ok: savevm with the xHCI and its devices")
        vm.command("input-send-event", events=abs_event(x=16384, y=8192))
        time.sleep(0.3)
        vm.command("input-send-event", events=abs_event(x=32767, y=0) + btn_event("left", True))
        time.sleep(0.3)
        vm.command("input-send-event", events=btn_event("left", False))
        time.sleep(0.3)
        vm.command("input-send-event", events=[{"type": "rel", "data": {"axis": "x", "value": 10}},
                                               {"type": "rel", "data": {"axis": "y", "value": -5}}])
        time.sleep(0.3)
        vm.send_key("a", hold_time=50)
        vm.wait_serial(r"^VIREO-USB-DONE", 120)
        check_round(vm, vm.serial(), {
            "QEMU QEMU USB Tablet": [(EV_ABS, ABS_X, 16384), (EV_ABS, ABS_Y, 8192),
                                     (EV_KEY, BTN_LEFT, 1), (EV_ABS, ABS_X, 32767), (EV_ABS, ABS_Y, 0),
                                     (EV_KEY, BTN_LEFT, 0)],
            "QEMU QEMU USB Mouse": [(EV_REL, REL_X, 10), (EV_REL, REL_Y, -5)],
            "QEMU QEMU USB Keyboard": [(EV_KEY, KEY_A, 1), (EV_KEY, KEY_A, 0)],
            "AT Translated Set 2 keyboard": [],
        }, failures, "xHCI")
        loadvm_round(vm, "xhciwait", failures, "xHCI after loadvm")
    except TestFailure as e:
        failures.append(str(e))
        print(vm.serial()[-3000:])
    finally:
        vm.close()
    r = subprocess.run([o.vireo_img, "check", usbdisk], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode:
        failures.append("vireo-img check of the USB disk: status %d: %s"
                        % (r.returncode, r.stdout.decode("latin-1").strip()))
    else:
        print("ok: vireo-img check: the USB disk is clean")
    out = os.path.join(tmp, "usb-after.raw")
    subprocess.run([o.vireo_img, "convert", "-q", "-f", "qcow2", "-O", "raw", usbdisk, out], check=True)
    with open(out, "rb") as f:
        head = f.read(65536)
        f.seek(1 << 20)
        written = f.read(len(payload))
    if head != pattern or hashlib.md5(written).digest() != hashlib.md5(payload).digest():
        failures.append("the USB disk image lacks the guest's write at 1 MiB (or lost its pattern)")
    else:
        print("ok: the image holds the %d bytes the guest wrote at 1 MiB (md5 %s)"
              % (len(payload), hashlib.md5(written).hexdigest()))
    if failures:
        print("--- serial (VIREO lines) ---")
        print("\n".join(l for l in vm.serial().splitlines() if l.startswith("VIREO")))
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


def scenario_seabios(o, tmp):
    image = os.path.join(SHARED, "freedos", "freedos.boot.disk.1.4MB.img")
    if not os.path.exists(image):
        print("SKIP: %s is absent (the shared guest images live in ../shared/guests)" % image)
        return vmtest.SKIP
    args = ["-m", "16", "-fda", private_copy(image, tmp), "-device", "usb-kbd", "-device", "usb-tablet"]
    failures = []
    vm = vmtest.Vm(o.vireo, o.accel, args, tmp)
    try:
        wait_screen(vm, "A:\\>", o.timeout, "A:\\> prompt")
        # Keys go to the newest keyboard, the USB one, which only SeaBIOS's driver reads.
        type_line(vm, "ver\n")
        text, _ = wait_screen(vm, lambda t: t.count("A:\\>") >= 2 and "FreeCom version" in t,
                              60, "output of VER typed on the USB keyboard")
        print("ok: VER typed on usb-kbd ran:", [l.strip() for l in text.splitlines() if "version" in l.lower()])
        log = open(vm.debugcon_path, "rb").read().decode("latin-1")
        for needle in ("UHCI init", "USB keyboard initialized"):
            if needle not in log:
                failures.append("SeaBIOS's log (port 0x402) lacks %r" % needle)
            else:
                print("ok: SeaBIOS log has %r" % needle)
    except TestFailure as e:
        failures.append(str(e))
        print(screen_text(vm) if vm.proc.poll() is None else "")
    finally:
        vm.close()
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


def scenario_boot_storage(o, tmp):
    return boot_storage(o, tmp, [], "UHCI init")


def scenario_boot_storage_ehci(o, tmp):
    return boot_storage(o, tmp, ["-device", "usb-ehci,id=ehci"], "EHCI init", ",bus=ehci.0")


def boot_storage(o, tmp, controller, init_line, bus=""):
    kit = o.linux_kit
    for script, extra in (("mkkit.sh", []), ("mkmedia.sh", [o.vireo_img])):
        r = subprocess.run(["sh", os.path.join(HERE, "linux", script), kit] + extra)
        if r.returncode == vmtest.SKIP:
            return vmtest.SKIP
        if r.returncode:
            print("FAIL: %s failed" % script)
            return 1
    # The controller before the device on it.
    args = ["-m", "256", "-snapshot",
            "-drive", "if=none,id=stick,format=qcow2,file=" + os.path.join(kit, "linux-disk.qcow2")] + \
        controller + ["-device", "usb-storage,drive=stick" + bus]
    failures = []
    vm = vmtest.Vm(o.vireo, o.accel, args, tmp)
    try:
        vm.wait_serial(r"VIREO-LINUX-BOOT-OK", o.timeout)
        text = vm.serial()
        log = open(vm.debugcon_path, "rb").read().decode("latin-1")
        for needle, where, what in ((init_line, log, "SeaBIOS drove the controller"),
                                    ("USB MSC vendor='VIREO'", log, "SeaBIOS found the USB disk"),
                                    ("Booting from Hard Disk", log, "SeaBIOS booted it"),
                                    ("SYSLINUX", text, "SYSLINUX ran from it"),
                                    ("VIREO-LINUX-BOOT-OK", text, "the kernel and initrd it loaded run")):
            if needle not in where:
                failures.append("%s: %r missing" % (what, needle))
            else:
                print("ok: %s (%r)" % (what, needle))
    except TestFailure as e:
        failures.append(str(e))
    finally:
        vm.close()
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


def scenario_options(o, tmp):
    """USB options: each mistake is one line naming the problem and a non-zero status;
    -machine usb=off leaves the controller out, -usbdevice adds a tablet."""
    img = os.path.join(tmp, "one.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    cases = [
        (["-drive", "if=none,file=" + img], "needs id="),
        (["-drive", "if=none,id=a,file=%s" % img, "-drive", "if=none,id=a,file=%s" % img], "two drives have id=a"),
        (["-device", "usb-storage"], "needs drive=ID"),
        (["-device", "usb-storage,drive=nope"], "no -drive if=none,id=nope"),
        (["-drive", "if=none,id=a,file=%s" % img, "-device", "usb-storage,drive=a",
          "-device", "usb-storage,drive=a"], "drive a is in use"),
        (["-machine", "usb=off", "-device", "usb-tablet"], "no USB bus 'usb-bus.0'"),
        (["-device", "usb-kbd,port=3"], "has ports 1 to 2"),
        (["-device", "usb-kbd,port=1.2"], "no usb-hub at port 1 of usb-bus.0"),
        (["-device", "usb-hub", "-device", "usb-kbd,port=1.9"], "has ports 1 to 8"),
        (["-device", "usb-hub", "-device", "usb-kbd,port=1.x"], "has ports 1 to 8"),
        (["-device", "usb-ehci,id=e", "-device", "usb-kbd,bus=e.0,port=7"], "e.0 has ports 1 to 6"),
        (["-device", "usb-kbd", "-device", "usb-mouse", "-device", "usb-tablet"], "all 2 ports"),
        (["-device", "qemu-xhci,p2=0"], "property 'p2' must be a number from 0x1 to 0xf"),
        (["-machine", "usb=off", "-device", "qemu-xhci,id=x", "-device", "usb-kbd,bus=x.0,port=5"],
         "x.0 has ports 1 to 4"),
        (["-machine", "pc,foo=1"], "unknown option 'foo=1'"),
        (["-machine", "usb=maybe"], "expected on or off"),
        (["-usbdevice", "joystick"], "expected tablet, mouse or keyboard"),
        (["-device", "usb-host"], "usb-host needs vendorid= and productid="),
        (["-device", "usb-host,vendorid=0x10000"], "'vendorid' must be a number from 0x0 to 0xffff"),
        # No such device, or (a host without /dev/bus/usb) no libusb: one line either way.
        (["-device", "usb-host,vendorid=0x1234,productid=0x5678"], "usb-host: "),
    ]
    failures = []
    for args, want in cases:
        r = subprocess.run([o.vireo, "-S", "-display", "none", "-accel", o.accel] + args,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        out = r.stdout.decode("latin-1").strip()
        if r.returncode == 0 or want not in out or len(out.splitlines()) != 1:
            failures.append("%s: status %d, output %r (expected one line with %r)"
                            % (" ".join(args), r.returncode, out, want))
        else:
            print("ok: %s -> %s" % (" ".join(args), out))
    for args, has_uhci, has_tablet in ((["-machine", "pc,usb=off"], False, False),
                                       (["-machine", "type=pc", "-usb", "-usbdevice", "tablet"], True, True)):
        vm = vmtest.Vm(o.vireo, o.accel, ["-S"] + args, tmp)
        try:
            qtree = hmp(vm, "info qtree")
        finally:
            vm.close()
        if ("piix3-usb-uhci" in qtree) != has_uhci or ("usb-tablet" in qtree) != has_tablet:
            failures.append("%s: info qtree has UHCI %s, tablet %s; expected %s, %s"
                            % (" ".join(args), "piix3-usb-uhci" in qtree, "usb-tablet" in qtree,
                               has_uhci, has_tablet))
        else:
            print("ok: %s: UHCI %s, tablet %s" % (" ".join(args), has_uhci, has_tablet))
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


SCENARIOS = {"linux": scenario_linux, "linux-ehci": scenario_linux_ehci, "linux-xhci": scenario_linux_xhci,
             "hotplug": scenario_hotplug, "passthrough": scenario_passthrough, "usbredir": scenario_usbredir,
             "passthrough-ehci": scenario_passthrough_ehci, "passthrough-xhci": scenario_passthrough_xhci, "options": scenario_options,
             "seabios": scenario_seabios, "boot-storage": scenario_boot_storage,
             "boot-storage-ehci": scenario_boot_storage_ehci}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--vireo-img", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--linux-kit", default=None)
    ap.add_argument("--usbmock", default=None)
    ap.add_argument("--timeout", type=float, default=400)
    o = ap.parse_args()
    why = vmtest.kvm_skip_reason(o.accel)
    if why:
        print("SKIP:", why)
        return vmtest.SKIP
    with vmtest.temp_dir() as tmp:
        return SCENARIOS[o.scenario](o, tmp)


if __name__ == "__main__":
    sys.exit(main())
