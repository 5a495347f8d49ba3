# SPDX-License-Identifier: GPL-2.0-or-later
# The Linux test workload. Sourced by the guest's /init and run on the host by the amd64
# build of the same busybox to compute the expected output, so every line must depend
# only on the input.
# stamp NAME marks phase boundaries (a no-op on the host).
command -v stamp >/dev/null 2>&1 || stamp() { :; }

yes "Vireo runs Linux: 0123456789abcdefghijklmnopqrstuvwxyz" | head -c 67108864 > /tmp/vireo-data
stamp fill
gzip -c /tmp/vireo-data > /tmp/vireo-data.gz
stamp gzip
echo "RESULT md5 $(md5sum < /tmp/vireo-data | cut -d' ' -f1) $(md5sum < /tmp/vireo-data.gz | cut -d' ' -f1)"
echo "RESULT sha256 $(sha256sum < /tmp/vireo-data | cut -d' ' -f1) $(sha256sum < /tmp/vireo-data.gz | cut -d' ' -f1)"
echo "RESULT gzsize $(wc -c < /tmp/vireo-data.gz)"
stamp hash
i=0
s=7
while [ $i -lt 100000 ]; do
    s=$(( (s * 31 + i) % 1000003 ))
    i=$((i + 1))
done
echo "RESULT arith $s"
stamp arith
rm -f /tmp/vireo-data /tmp/vireo-data.gz
