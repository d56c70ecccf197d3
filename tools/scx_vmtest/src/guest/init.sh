#!/bin/sh
# /init of the scx_vmtest guest (generated initramfs; see tools/scx_vmtest/README.md).
#
# The kernel console is ttyS0. The test's own output goes to the second serial port
# (ttyS1) framed by markers, so the host can tell it apart from kernel messages:
#   <MARK> BEGIN / script output / <MARK> END rc=<status> / <MARK> DMESG / dmesg / <MARK> DONE

/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /tmp /run /root
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
hostname scx-vmtest
ip link set lo up 2>/dev/null

. /vmtest/env

OUT=/dev/ttyS1
stty -F "$OUT" 115200 raw -echo 2>/dev/null

{
	echo "$VMTEST_MARK BEGIN"
	cd /root
	/bin/sh /vmtest/script.sh </dev/null 2>&1
	rc=$?
	echo
	echo "$VMTEST_MARK END rc=$rc"
	echo "$VMTEST_MARK DMESG"
	dmesg
	echo "$VMTEST_MARK DONE"
} >"$OUT"

sync
poweroff -f
