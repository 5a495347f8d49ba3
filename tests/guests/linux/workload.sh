# SPDX-License-Identifier: GPL-2.0-or-later
# The Linux test workload. Sourced by the guest's /init and run on the host by the amd64
# build of the same busybox to compute the expected output, so every line must depend
# only on the input.
# stamp NAME marks phase boundaries (a no-op on the host).
command -v stamp >/dev/null 2>&1 || stamp() { :; }

yes "Vireo runs Linux: 0123456789abcdefghijklmnopqrstuvwxyz" | head -c 67108864 > /tmp/vireo-data
stamp fill
# Four jobs at once, one per CPU with -smp 4 (Linux spreads them): gzip, then the hashes
# and size of its output; the MD5 of the data; its SHA-256; shell arithmetic. Each job
# writes its results to a file of its own, printed in a fixed order once all are done.
# busybox's time applet notes the wall, user and system seconds of the gzip, md5sum,
# sha256sum and arithmetic processes (VIREO-TIME lines: bench/linux-boot sets them
# beside the same work on the host; they are not results).
r=/tmp/vireo-jobs.$$
mkdir -p "$r"
tf="%e %U %S"
{
    time -o "$r/t-gzip" -f "$tf" gzip -c /tmp/vireo-data > /tmp/vireo-data.gz
    md5sum < /tmp/vireo-data.gz | cut -d' ' -f1 > "$r/md5gz"
    sha256sum < /tmp/vireo-data.gz | cut -d' ' -f1 > "$r/shagz"
    wc -c < /tmp/vireo-data.gz > "$r/gzsize"
} &
{ time -o "$r/t-md5" -f "$tf" md5sum < /tmp/vireo-data | cut -d' ' -f1 > "$r/md5"; } &
{ time -o "$r/t-sha256" -f "$tf" sha256sum < /tmp/vireo-data | cut -d' ' -f1 > "$r/sha"; } &
{
    time -o "$r/t-arith" -f "$tf" sh -c '
    i=0
    s=7
    while [ $i -lt 100000 ]; do
        s=$(( (s * 31 + i) % 1000003 ))
        i=$((i + 1))
    done
    echo "$s"' > "$r/arith"
} &
wait
stamp jobs
echo "RESULT md5 $(cat "$r/md5") $(cat "$r/md5gz")"
echo "RESULT sha256 $(cat "$r/sha") $(cat "$r/shagz")"
echo "RESULT gzsize $(cat "$r/gzsize")"
echo "RESULT arith $(cat "$r/arith")"
for t in gzip md5 sha256 arith; do
    echo "VIREO-TIME $t $(cat "$r/t-$t")"
done
rm -rf "$r"
rm -f /tmp/vireo-data /tmp/vireo-data.gz
