#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the demo VM (packed into the initramfs by scripts/demo.sh; busybox
# only). Loads spanalloc, shows its debugfs tables, loads the example client
# (tests/example) and runs its workload on every CPU, shows the tables again,
# frees everything, shows them once more, unloads both, and powers off.
#
# The demo's text goes to ttyS1, which the host prints as it comes; the
# kernel log goes to the console (ttyS0). The last line is "DEMO-OK", or
# "DEMO-FAIL: why" after the first step that went wrong.

export PATH=/bin:/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t debugfs debugfs /sys/kernel/debug
[ -d /sys/kernel/tracing ] && mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1

lib=/lib/spanalloc
SA=/sys/kernel/debug/spanalloc
EX=/sys/kernel/debug/spanalloc_example
N=2000
[ -f /etc/demo-objects ] && read -r N </etc/demo-objects
step=0

say() { echo "$*" >&3; }
title() {
	step=$((step + 1))
	say ""
	say "== $step. $*"
}
# Show a command, run it, show its output indented.
run() {
	say "\$ $*"
	o=$("$@" 2>&1)
	rc=$?
	[ -z "$o" ] || echo "$o" | sed 's/^/  /' >&3
	return $rc
}
bye() {
	say "$1"
	exec 3>&-
	sleep 1
	poweroff -f
}
fail() { bye "DEMO-FAIL: $*"; }

# The size classes table: the header, the classes in use (the TOP with the
# most bytes in use, in class order, when more are), and Total.
classes() {	# TOP
	top=$1
	say "\$ cat $SA/classes   # classes in use (top $top by bytes_inuse), Total"
	awk -v top="$top" '
		NR == 1 { print "  " $0; next }
		$1 == "Total" { total = $0; next }
		$12 > 0 { used++ }
		$8 > 0 { row[$1] = $0; bytes[$1] = $10; n++ }
		END {
			for (k = 0; k < top && k < n; k++) {
				best = ""
				for (c in bytes)
					if (!(c in shown) && (best == "" || bytes[c] > bytes[best]))
						best = c
				shown[best] = 1
			}
			for (c = 1; c <= 67; c++)
				if (c in shown)
					print "  " row[c]
			print "  " total
			if (n > top)
				print "  (" n - top " more classes with objects in use not shown)"
			if (!n)
				print "  (" used + 0 " of 67 classes used so far, none has objects in use)"
		}' "$SA/classes" >&3
}

# stats side by side: one column per snapshot taken so far.
snap() {	# LABEL
	cat "$SA/stats" >"/tmp/stats.$1"
	labels="$labels $1"
}
stats() {
	say "\$ cat $SA/stats   # side by side; chunks_order_N only when not 0"
	files=
	for l in $labels; do files="$files /tmp/stats.$l"; done
	# shellcheck disable=SC2086
	awk -F': ' -v labels="$labels" '
		FNR == 1 { f++ }
		{ v[$1, f] = $2; if (f == 1) name[++n] = $1 }
		END {
			k = split(labels, lab, " ")
			line = sprintf("  %-22s", "")
			for (j = 1; j <= k; j++) line = line sprintf(" %12s", lab[j])
			print line
			for (i = 1; i <= n; i++) {
				nz = 0
				for (j = 1; j <= k; j++) if (v[name[i], j] != 0) nz = 1
				if (name[i] ~ /^chunks_order_/ && !nz) continue
				line = sprintf("  %-22s", name[i])
				for (j = 1; j <= k; j++) line = line sprintf(" %12s", v[name[i], j])
				print line
			}
		}' $files >&3
}

# Wait (up to 15 s) until the scavenger, which gives free pages back in the
# background after frees, has stopped moving pages.
settle() {
	a=$(grep '^pages_held:' $SA/stats)
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		sleep 1.5
		b=$(grep '^pages_held:' $SA/stats)
		[ "$a" = "$b" ] && return
		a=$b
	done
}

memfree() {
	awk '$1 == "MemFree:" { print $2 }' /proc/meminfo
}

nodes=$(find /sys/devices/system/node -maxdepth 1 -name "node[0-9]*" 2>/dev/null | wc -l)
mem0=$(memfree)
title "Booted Linux $(uname -r): $(nproc) CPUs, $nodes NUMA nodes, MemFree $mem0 KiB"

title "Load spanalloc"
run insmod $lib/spanalloc.ko || fail "insmod spanalloc.ko"
dmesg | grep 'spanalloc: ' | tail -n 1 | sed 's/^/  /' >&3
say "\$ ls $SA"
say "  $(cd $SA && echo *)"
[ -f $SA/stats ] || fail "no $SA/stats"

title "Its tables, before anyone allocates"
classes 12
snap loaded
stats

title "Load the example client and run its workload on each of the $(nproc) CPUs"
say "  (tests/example/spanalloc_example.c: in a kthread on each CPU, $N objects of"
say "  8 B to 64 KiB, a quarter from its cache \"example_obj\", each filled with a"
say "  pattern; then a third of them freed from another CPU than their own)"
run insmod $lib/spanalloc_example.ko || fail "insmod spanalloc_example.ko"
say "\$ echo $N > $EX/run"
echo "$N" >"$EX/run" || fail "the workload failed"
dmesg | grep 'spanalloc_example: run' | tail -n 1 | sed 's/^[^]]*] /  /' >&3
run cat $EX/held

title "The tables while the client holds its objects"
classes 12
run cat $SA/caches
run cat $SA/heap
snap after_run
stats

title "Free everything: the client checks every pattern first"
say "\$ echo 1 > $EX/free"
echo 1 >"$EX/free" || fail "free failed"
run cat $EX/held
run cat $EX/errors
grep -q '^pattern_mismatches: 0$' $EX/errors || fail "pattern mismatches"
grep -q '^alloc_failures: 0$' $EX/errors || fail "allocation failures"

title "The tables once more: nothing in use, some pages kept for reuse"
say "  (after the scavenger has given back the free pages above its goal)"
settle
classes 12
run cat $SA/heap
snap after_free
stats
grep -q '^objects_in_use: 0$' $SA/stats || fail "objects still in use after free"

title "Unload both: spanalloc gives every page back"
run rmmod spanalloc_example || fail "rmmod spanalloc_example"
held=$(awk '$1 == "pages_held:" { print $2 }' $SA/stats)
before=$(memfree)
run rmmod spanalloc || fail "rmmod spanalloc"
after=$(memfree)
say "  spanalloc held $held pages ($((held * 4)) KiB) before rmmod;"
say "  MemFree went from $before to $after KiB: +$((after - before)) KiB"
say "  (its pages and the module itself; MemFree after boot: $mem0 KiB)"
if dmesg | grep -E 'spanalloc.*(still|leak|error|destroyed with)'; then
	fail "spanalloc complained at unload"
fi

say ""
bye "DEMO-OK"
