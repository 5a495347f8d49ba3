#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Moving VMs in and out of the library from the command line (vireo-run --import,
--export-libvirt).

A library VM with a qcow2 hard disk and a floppy is exported: the domain XML passes
virt-xml-validate (Debian's libvirt-clients), the exported qcow2 disks pass qemu-img
check and hold the VM's data. The XML imports back as a new VM with the same settings
and disks. An OVA assembled here (an OVF descriptor and stream-optimized VMDKs, as
VMware and VirtualBox write them) imports with its memory, its two CPUs and its disks; with the FreeDOS floppy of ../shared it then boots to A:\\>. Bad input
(not a domain, a missing member, a cut-off tar, a taken name) is one line and leaves
nothing in the library.

usage: vm-transfer.py VIREO-RUN VIREO-IMG"""
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import TestFailure  # noqa: E402

FREEDOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                       "guests", "freedos", "freedos.boot.disk.1.4MB.img")

OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References>
    <File ovf:href="disk1.vmdk" ovf:id="file1"/>
    <File ovf:href="%(floppy_href)s" ovf:id="file2"/>
  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
    <Disk ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1"
          ovf:fileRef="file1"
          ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="appliance-id">
    <Info>A virtual machine</Info>
    <Name>Test Appliance</Name>
    <VirtualHardwareSection>
      <Info>Virtual hardware</Info>
      <Item><rasd:ElementName>2 CPUs</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>48</rasd:VirtualQuantity></Item>
      <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType></Item>
      <Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:HostResource>ovf:/file/file2</rasd:HostResource><rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceType>14</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


VIRSH = """<domain type='kvm' id='3'>
  <name>debian12</name>
  <uuid>6f1e3c52-3f0b-4c6e-a0a4-8d0d1f5f1c11</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='GiB'>1</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='cdrom'/>
    <boot dev='hd'/>
  </os>
  <features><acpi/><apic/><vmport state='off'/></features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/></clock>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='%(iso)s'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <interface type='network'><source network='default'/><model type='virtio'/></interface>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <video><model type='virtio' heads='1' primary='yes'/></video>
  </devices>
</domain>
"""


def run(cmd, env, ok=True):
    r = subprocess.run(cmd, env=env, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    if ok and r.returncode != 0:
        raise TestFailure("%s: status %d\n%s%s" % (" ".join(cmd), r.returncode, out, err))
    return r.returncode, out, err


def same_disk(a, b, what):
    r = subprocess.run(["qemu-img", "compare", "-q", a, b], capture_output=True)
    if r.returncode != 0:
        raise TestFailure("%s: %s and %s differ (%s)" % (what, a, b, r.stderr.decode().strip()))


def qcheck(path):
    r = subprocess.run(["qemu-img", "check", path], capture_output=True)
    if r.returncode != 0:
        raise TestFailure("qemu-img check %s: %s" % (path, r.stdout.decode() + r.stderr.decode()))


def read_conf(lib, name):
    with open(os.path.join(lib, name, "vm.conf")) as f:
        return f.read()


def one_line_failure(vireo, args, env, lib, words, what):
    before = sorted(os.listdir(lib))
    rc, out, err = run([vireo] + args, env, ok=False)
    lines = [l for l in err.splitlines() if l.strip()]
    if rc == 0 or len(lines) != 1 or words not in err:
        raise TestFailure("%s: status %d, stderr %r" % (what, rc, err))
    if sorted(os.listdir(lib)) != before:
        raise TestFailure("%s left something in the library: %s" % (what, sorted(os.listdir(lib))))
    print("ok: %s: %s" % (what, lines[0]))


def boot_to_prompt(vireo, env, name, tmp):
    vm = vmtest.Vm(vireo, "tcg", ["--vm", name, "-snapshot"], tmp, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                text = "\n".join(vm.command("x-screen-text")["lines"])
            except TestFailure:
                text = ""
            if "A:\\>" in text:
                print("ok: the imported appliance boots FreeDOS to A:\\>")
                return
            if time.monotonic() > deadline:
                raise TestFailure("the imported appliance shows no A:\\> prompt:\n" + text)
            time.sleep(0.2)
    finally:
        vm.close()


def main():
    vireo, vimg = sys.argv[1:3]
    if not shutil.which("qemu-img"):
        print("SKIP: qemu-img not found (install the Debian package qemu-utils)")
        return vmtest.SKIP
    with vmtest.temp_dir() as tmp:
        env = dict(os.environ, XDG_DATA_HOME=os.path.join(tmp, "data"))
        lib = os.path.join(tmp, "data", "vireo", "vms")
        vm_dir = os.path.join(lib, "Source")
        os.makedirs(vm_dir)
        # The source VM: a hard disk with data at its start and end, and a floppy.
        pattern = os.path.join(tmp, "pattern.raw")
        with open(pattern, "wb") as f:
            f.write(os.urandom(70000))
            f.seek(16 * 1024 * 1024 - 4096)
            f.write(os.urandom(4096))
        subprocess.run([vimg, "convert", "-O", "qcow2", pattern, os.path.join(vm_dir, "disk.qcow2")],
                       check=True)
        floppy = os.path.join(vm_dir, "floppy.img")
        if os.path.exists(FREEDOS):
            shutil.copy(FREEDOS, floppy)
        else:
            with open(floppy, "wb") as f:
                f.write(os.urandom(1474560))
        with open(os.path.join(vm_dir, "vm.conf"), "w") as f:
            f.write("[vm]\nmemory=40M\ncpus=1\nboot=ac\nrtc=utc\nboot-menu=true\n"
                    "[drives]\nhda=disk.qcow2\nfda=floppy.img\ncdrom=\n")
        try:
            # Export.
            out_dir = os.path.join(tmp, "export")
            _, out, _ = run([vireo, "--vm", "Source", "--export-libvirt", out_dir], env)
            xml = out.strip()
            if xml != os.path.join(out_dir, "Source.xml") or not os.path.exists(xml):
                raise TestFailure("--export-libvirt printed %r" % out)
            text = open(xml).read()
            for want in ("<memory unit='KiB'>40960</memory>", "<clock offset='utc'/>",
                         "<boot dev='fd'/>", "<bootmenu enable='yes'/>",
                         "<target dev='hda' bus='ide'/>", "<target dev='fda' bus='fdc'/>"):
                if want not in text:
                    raise TestFailure("the exported XML lacks %s:\n%s" % (want, text))
            if shutil.which("virt-xml-validate"):
                r = subprocess.run(["virt-xml-validate", xml, "domain"], capture_output=True)
                if r.returncode != 0:
                    raise TestFailure("virt-xml-validate: %s%s" % (r.stdout.decode(), r.stderr.decode()))
                print("ok: virt-xml-validate: " + (r.stdout + r.stderr).decode().strip())
            else:
                print("skip (part): virt-xml-validate not found (Debian package libvirt-clients)")
            for slot, orig in (("hda", os.path.join(vm_dir, "disk.qcow2")), ("fda", floppy)):
                exported = os.path.join(out_dir, "Source-%s.qcow2" % slot)
                qcheck(exported)
                same_disk(exported, orig, "export of " + slot)
            print("ok: exported disks pass qemu-img check and hold the VM's data")
            one_line_failure(vireo, ["--vm", "Source", "--export-libvirt", out_dir], env, lib,
                             "exists already", "exporting over an earlier export")

            # The XML back in.
            _, out, _ = run([vireo, "--import", xml, "-name", "Back"], env)
            conf = read_conf(lib, "Back")
            for want in ("memory=40M", "boot=ac", "boot-menu=true", "rtc=utc", "hda=hda.qcow2",
                         "fda=fda.qcow2"):
                if want not in conf:
                    raise TestFailure("the re-imported vm.conf lacks %s:\n%s" % (want, conf))
            same_disk(os.path.join(lib, "Back", "hda.qcow2"), pattern, "re-imported hda")
            same_disk(os.path.join(lib, "Back", "fda.qcow2"), floppy, "re-imported fda")
            print("ok: the exported XML imports back with its settings and disks")

            # A domain as virsh dumpxml writes it for a virt-manager VM: virtio and SATA
            # buses, units, elements Vireo has no use for.
            iso = os.path.join(tmp, "install.iso")
            with open(iso, "wb") as f:
                f.write(b"\0" * 65536)
            virsh_xml = os.path.join(tmp, "debian12.xml")
            with open(virsh_xml, "w") as f:
                f.write(VIRSH % {"disk": os.path.join(vm_dir, "disk.qcow2"), "iso": iso})
            _, out, _ = run([vireo, "--import", virsh_xml], env)
            if "x86_64" not in out:
                raise TestFailure("--import of the virsh XML printed %r" % out)
            conf = read_conf(lib, "debian12")
            for want in ("memory=1024M", "cpus=4", "boot=dc", "rtc=utc", "vda=vda.qcow2", "cdrom=" + iso,
                         "display=virtio"):
                if want not in conf:
                    raise TestFailure("the virsh XML's vm.conf lacks %s:\n%s" % (want, conf))
            if re.search(r"^hd[abd]=", conf, re.M):
                raise TestFailure("the virsh XML's virtio disk became an IDE one:\n%s" % conf)
            same_disk(os.path.join(lib, "debian12", "vda.qcow2"), pattern, "the virsh XML's disk")
            print("ok: a virsh dumpxml domain imports (virtio disk as vda, SATA CD as cdrom, 1 GiB, virtio video as display=virtio)")

            # An OVA made as VMware writes them: descriptor first, stream-optimized VMDKs.
            ova_dir = os.path.join(tmp, "ova")
            os.makedirs(ova_dir)
            disk_vmdk = os.path.join(ova_dir, "disk1.vmdk")
            fd_vmdk = os.path.join(ova_dir, "fd.vmdk")
            subprocess.run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized",
                            pattern, disk_vmdk], check=True)
            subprocess.run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized",
                            floppy, fd_vmdk], check=True)
            ova = os.path.join(tmp, "appliance.ova")
            with tarfile.open(ova, "w", format=tarfile.USTAR_FORMAT) as t:
                data = (OVF % {"floppy_href": "fd.vmdk"}).encode()
                info = tarfile.TarInfo("appliance.ovf")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
                t.add(disk_vmdk, "disk1.vmdk")
                t.add(fd_vmdk, "fd.vmdk")
            _, out, _ = run([vireo, "--import", ova], env)
            if "CPUs" in out or "Imported 'Test Appliance'" not in out:
                raise TestFailure("--import of the OVA printed %r" % out)
            conf = read_conf(lib, "Test Appliance")
            for want in ("memory=48M", "cpus=2", "hda=hda.qcow2", "fda=fda.qcow2"):
                if want not in conf:
                    raise TestFailure("the OVA's vm.conf lacks %s:\n%s" % (want, conf))
            qcheck(os.path.join(lib, "Test Appliance", "hda.qcow2"))
            same_disk(os.path.join(lib, "Test Appliance", "hda.qcow2"), pattern, "the OVA's disk")
            same_disk(os.path.join(lib, "Test Appliance", "fda.qcow2"), floppy, "the OVA's floppy")
            leftovers = [n for n in os.listdir(os.path.join(lib, "Test Appliance"))
                         if n not in ("vm.conf", "hda.qcow2", "fda.qcow2")]
            if leftovers:
                raise TestFailure("the import left %s in the VM's folder" % leftovers)
            print("ok: the OVA imports: 48M, two CPUs, its disks as qcow2")
            # The OVF beside its files imports too.
            ovf = os.path.join(ova_dir, "appliance.ovf")
            with open(ovf, "w") as f:
                f.write(OVF % {"floppy_href": "fd.vmdk"})
            run([vireo, "--import", ovf, "-name", "From OVF"], env)
            same_disk(os.path.join(lib, "From OVF", "hda.qcow2"), pattern, "the OVF's disk")
            print("ok: an .ovf with its files beside it imports")
            if os.path.exists(FREEDOS):
                boot_to_prompt(vireo, env, "Test Appliance", tmp)
            else:
                print("skip (part): ../shared/guests/freedos is absent; the OVA was not booted")

            # Bad input.
            not_domain = os.path.join(tmp, "other.xml")
            with open(not_domain, "w") as f:
                f.write("<network><name>default</name></network>\n")
            one_line_failure(vireo, ["--import", not_domain], env, lib, "not a libvirt domain",
                             "an XML that is no domain")
            missing = os.path.join(tmp, "missing.ova")
            with tarfile.open(missing, "w", format=tarfile.USTAR_FORMAT) as t:
                data = (OVF % {"floppy_href": "nowhere.vmdk"}).encode()
                info = tarfile.TarInfo("appliance.ovf")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
                t.add(disk_vmdk, "disk1.vmdk")
            one_line_failure(vireo, ["--import", missing, "-name", "Missing"], env, lib,
                             "nowhere.vmdk", "an OVA without a file its descriptor names")
            cut = os.path.join(tmp, "cut.ova")
            with open(ova, "rb") as src, open(cut, "wb") as dst:
                dst.write(src.read(os.path.getsize(ova) // 2))
            one_line_failure(vireo, ["--import", cut, "-name", "Cut"], env, lib, "cut.ova",
                             "a cut-off OVA")
            one_line_failure(vireo, ["--import", ova], env, lib, "already a VM called",
                             "an OVA whose name is taken")
        except TestFailure as e:
            print("FAIL:", e)
            return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
