#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# spanalloc's debugfs files exist, are 0444, and parse as documented: "stats"
# is "name: value" lines with every documented name; "classes", "caches" and
# "heap" are tables with their header, a row per size class (1..67), named
# cache or NUMA node, and a final Total row.

. "$(dirname "$0")/lib.sh"

require spanalloc
ktap_plan 6

cleanup() {
	if [ "${loaded_spanalloc:-}" = 1 ]; then
		unload_module spanalloc
	fi
}

if load_module spanalloc; then
	t_pass "spanalloc loaded"
else
	t_fail "spanalloc loaded" "cannot load spanalloc"
	skip_rest "spanalloc did not load"
fi

problems=
for f in stats classes caches heap; do
	if [ ! -f "$SA/$f" ]; then
		problems="$problems$SA/$f is missing
"
	elif [ "$(stat -c %a "$SA/$f")" != 444 ]; then
		problems="$problems$SA/$f has mode $(stat -c %a "$SA/$f"), want 444
"
	fi
done
t_result "debugfs files stats, classes, caches, heap exist with mode 0444" "$problems"
[ -z "$problems" ] || skip_rest "debugfs files missing"

snapshot

required="objects_in_use bytes_in_use bytes_in_cpu_caches spans_in_use spans_free
pages_held pages_in_spans pages_free pages_returned chunks chunks_order_0
chunks_order_1 chunks_order_2 chunks_order_3 chunks_order_4 chunks_order_5
chunks_order_6 chunks_order_7 chunks_order_8 large_objects large_bytes allocs
frees refills flushes errors"
problems=$(echo "$s_stats" | awk -v req="$required" '
	BEGIN { n = split(req, r, /[ \n]+/) }
	!/^[a-z][a-z0-9_]*: [0-9]+$/ { print "stats line " NR " does not parse: " $0; next }
	{
		split($0, kv, ": ")
		if (kv[1] in seen)
			print "stats: " kv[1] " appears twice"
		seen[kv[1]] = 1
	}
	END { for (i = 1; i <= n; i++) if (!(r[i] in seen)) print "stats: no " r[i] }')
t_result "stats parses (name: value lines, $(echo "$required" | wc -w) documented names)" \
	"$problems"

problems=$(echo "$s_classes" | awk '
	function num(i) { return $i ~ /^[0-9]+$/ }
	NR == 1 {
		$1 = $1
		want = "class size pages objs partial full cached inuse free bytes_inuse waste% allocs frees"
		if ($0 != want)
			print "classes header: \"" $0 "\", want \"" want "\""
		next
	}
	total { print "classes line " NR " after the Total row"; next }
	NF != 13 { print "classes line " NR ": " NF " fields, want 13: " $0; next }
	$1 == "Total" {
		total = NR
		for (i = 1; i <= 13; i++) {
			dash = (i >= 2 && i <= 4) || i == 11
			if (i > 1 && dash && $i != "-")
				print "classes Total: column " i " is \"" $i "\", want -"
			if (i > 1 && !dash && !num(i))
				print "classes Total: column " i " is not a number: " $i
		}
		next
	}
	{
		rows++
		for (i = 1; i <= 13; i++)
			if (!num(i))
				print "classes line " NR ": field " i " is not a number: " $0
		if ($1 != rows)
			print "classes line " NR ": class " $1 ", want " rows
		if ($2 + 0 <= last)
			print "classes line " NR ": size " $2 " not above " last
		last = $2 + 0
		if ($11 > 100)
			print "classes line " NR ": waste% " $11 " above 100"
	}
	END {
		if (rows != 67)
			print "classes: " rows " class rows, want 67"
		if (!total)
			print "classes: no Total row"
	}')
t_result "classes parses (header, 67 class rows, Total)" "$problems"

problems=$(echo "$s_caches" | awk -v page="$(getconf PAGESIZE 2>/dev/null || echo 4096)" '
	function num(i) { return $i ~ /^[0-9]+$/ }
	NR == 1 {
		$1 = $1
		want = "name size align ctor objsize pages objs inuse spans allocs frees"
		if ($0 != want)
			print "caches header: \"" $0 "\", want \"" want "\""
		next
	}
	total { print "caches line " NR " after the Total row"; next }
	NF != 11 { print "caches line " NR ": " NF " fields, want 11: " $0; next }
	$1 == "Total" {
		total = NR
		for (i = 2; i <= 7; i++)
			if ($i != "-")
				print "caches Total: columns 2 to 7 should be -: " $0
		for (i = 8; i <= 11; i++)
			if (!num(i))
				print "caches Total: column " i " is not a number: " $i
		next
	}
	{
		if (!num(2) || !num(3) || ($4 != "yes" && $4 != "no"))
			print "caches line " NR ": bad size, align or ctor: " $0
		for (i = 5; i <= 11; i++)
			if (!num(i))
				print "caches line " NR ": field " i " is not a number: " $0
		# The geometry: objects of at least the size, that fit the span.
		if ($5 < $2 || $5 % $3 || $7 < 1 || $6 * page < $5 * $7)
			print "caches line " NR ": bad objsize, pages or objs: " $0
	}
	END { if (!total) print "caches: no Total row" }')
t_result "caches parses (header, a row per cache, Total)" "$problems"

# NUMA nodes: from sysfs ("0-1", "0,2-3"), else assume one.
nodes=1
if [ -r /sys/devices/system/node/possible ]; then
	nodes=$(awk -F, '{ for (i = 1; i <= NF; i++) { n = split($i, r, "-");
		c += (n == 2) ? r[2] - r[1] + 1 : 1 } } END { print c }' \
		/sys/devices/system/node/possible)
fi
problems=$(echo "$s_heap" | awk -v nodes="$nodes" '
	NR == 1 {
		$1 = $1
		want = "node chunks held in_spans free returned"
		if ($0 != want)
			print "heap header: \"" $0 "\", want \"" want "\""
		next
	}
	total { print "heap line " NR " after the Total row"; next }
	NF != 6 { print "heap line " NR ": " NF " fields, want 6: " $0; next }
	{
		for (i = 2; i <= 6; i++)
			if ($i !~ /^[0-9]+$/)
				print "heap line " NR ": field " i " is not a number: " $0
	}
	$1 == "Total" { total = NR; next }
	$1 !~ /^[0-9]+$/ { print "heap line " NR ": bad node " $1; next }
	{ rows++ }
	END {
		if (!total)
			print "heap: no Total row"
		if (rows != nodes)
			print "heap: " rows " node rows, want " nodes " (possible nodes)"
	}')
t_result "heap parses (header, a row per node ($nodes), Total)" "$problems"

if [ "$ktap_fails" -gt 0 ]; then
	diag "stats:"
	echo "$s_stats" | sed 's/^/#   /'
fi
finish
