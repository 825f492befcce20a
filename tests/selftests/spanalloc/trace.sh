#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The trace events spanalloc:alloc and spanalloc:free fire, one per object,
# with their fields: a small workload of the example client runs with both
# enabled, and the trace buffer must hold a line per allocation and per free
# (as counted by spanalloc's stats), alloc lines with call_site, ptr,
# bytes_req, bytes_alloc, gfp_flags, node, free lines with the fields their
# format declares, call sites in the client, and every freed pointer one that
# was allocated. Skipped when tracefs or the events are absent.

. "$(dirname "$0")/lib.sh"

N=${SPANALLOC_TRACE_WORKLOAD:-50}
ALLOC_FIELDS="call_site ptr bytes_req bytes_alloc gfp_flags node"

require example
ktap_plan 7

T=
cleanup() {
	if [ -n "$T" ]; then
		echo 0 >"$T/events/spanalloc/enable" 2>/dev/null
		[ -n "${tracing_on0:-}" ] && echo "$tracing_on0" >"$T/tracing_on"
		echo >"$T/trace"
	fi
	unload_module spanalloc_example
	if [ "${loaded_spanalloc:-}" = 1 ]; then
		unload_module spanalloc
	fi
}

if load_module spanalloc && load_module spanalloc_example && [ -d "$EX" ]; then
	t_pass "spanalloc and spanalloc_example loaded"
else
	t_fail "spanalloc and spanalloc_example loaded"
	skip_rest "modules did not load"
fi

# tracefs: mounted, or mountable at /sys/kernel/tracing.
for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
	if [ -f "$d/trace" ]; then
		T=$d
		break
	fi
done
if [ -z "$T" ] && [ -d /sys/kernel/tracing ] &&
   mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null; then
	T=/sys/kernel/tracing
fi
if [ -z "$T" ]; then
	skip_rest "no tracefs (CONFIG_TRACING)"
fi
E=$T/events/spanalloc
if [ ! -d "$E/alloc" ] || [ ! -d "$E/free" ]; then
	T_keep=$T
	T=
	skip_rest "no events/spanalloc/alloc and free in $T_keep"
fi

# The fields each event declares in its format.
fields_of() {	# EVENT
	sed -n 's/^[[:space:]]*field:[^;]*[[:space:]*]\([a-z_][a-z0-9_]*\);.*/\1/p' \
		"$E/$1/format" | grep -v '^common_'
}
alloc_fields=$(fields_of alloc | tr '\n' ' ')
free_fields=$(fields_of free | tr '\n' ' ')
diag "alloc fields: $alloc_fields"
diag "free fields: $free_fields"
problems=
for f in $ALLOC_FIELDS; do
	case " $alloc_fields" in
	*" $f "*) ;;
	*) problems="${problems:+$problems
}spanalloc:alloc has no field $f" ;;
	esac
done
for f in call_site ptr; do
	case " $free_fields" in
	*" $f "*) ;;
	*) problems="${problems:+$problems
}spanalloc:free has no field $f" ;;
	esac
done
t_result "formats: alloc has $ALLOC_FIELDS; free has call_site, ptr" "$problems"

tracing_on0=$(cat "$T/tracing_on")
echo 0 >"$T/tracing_on"
echo >"$T/trace"
echo 1 >"$E/alloc/enable"
echo 1 >"$E/free/enable"
snapshot
allocs0=$(stat_of allocs)
frees0=$(stat_of frees)
echo 1 >"$T/tracing_on"
ok=1
echo "$N" >"$EX/run" || ok=
echo 1 >"$EX/free" || ok=
echo 0 >"$T/tracing_on"
echo 0 >"$E/alloc/enable"
echo 0 >"$E/free/enable"
snapshot
allocs=$(($(stat_of allocs) - allocs0))
frees=$(($(stat_of frees) - frees0))
trace=$(grep -E ' (alloc|free): ' "$T/trace")
if [ -n "$ok" ]; then
	t_pass "workload ran with the events enabled: $allocs allocs, $frees frees"
else
	t_fail "workload ran with the events enabled"
fi

n_alloc=$(echo "$trace" | grep -c ' alloc: ')
n_free=$(echo "$trace" | grep -c ' free: ')
diag "trace: $n_alloc alloc lines, $n_free free lines"
echo "$trace" | grep -m1 ' alloc: ' | sed 's/^/# /'
echo "$trace" | grep -m1 ' free: ' | sed 's/^/# /'
problems=
[ "$n_alloc" = "$allocs" ] || problems="$n_alloc alloc lines, want $allocs (stats allocs grew by that)"
[ "$n_free" = "$frees" ] || problems="${problems:+$problems
}$n_free free lines, want $frees (stats frees grew by that)"
lost=$(awk '/entries-in-buffer\/entries-written:/ { split($3, a, "/");
	if (a[1] != a[2]) print $0 }' "$T/trace")
[ -z "$lost" ] || problems="${problems:+$problems
}the trace buffer lost events: $lost"
t_result "a trace line per allocation and per free" "$problems"

# Every line of an event has each of its fields as "name=".
missing() {	# EVENT FIELDS
	echo "$trace" | grep " $1: " | awk -v f="$2" '
		BEGIN { n = split(f, want, " ") }
		{ for (i = 1; i <= n; i++) if (index($0, " " want[i] "=") == 0) bad[want[i]]++ }
		END { for (k in bad) print bad[k] " lines without " k "=" }'
}
problems=$(missing alloc "$ALLOC_FIELDS")
[ "$n_alloc" -gt 0 ] || problems="no alloc lines"
t_result "alloc lines have $ALLOC_FIELDS" "$problems"
problems=$(missing free "$free_fields")
[ "$n_free" -gt 0 ] || problems="no free lines"
t_result "free lines have $free_fields" "$problems"

# call_site is the client's code; bytes_alloc >= bytes_req; each freed
# pointer was allocated in this trace.
problems=$(echo "$trace" | awk '
	function field(name,   i) {
		for (i = 1; i <= NF; i++)
			if (index($i, name "=") == 1)
				return substr($i, length(name) + 2)
		return ""
	}
	# "call_site=example_alloc_fn+0x2b7/0x468 [spanalloc_example]"
	function client() {
		return $0 ~ /call_site=[^ ]* \[spanalloc_example\]/ ||
		       $0 ~ /call_site=example_/
	}
	/ alloc: / {
		p = field("ptr")
		live[p] = 1
		if (!client())
			bad_site++
		if (field("bytes_alloc") + 0 < field("bytes_req") + 0)
			bad_size++
	}
	/ free: / {
		p = field("ptr")
		if (!(p in live))
			unknown++
		if (!client())
			bad_site++
	}
	END {
		if (bad_site)
			print bad_site " lines with a call_site outside spanalloc_example"
		if (bad_size)
			print bad_size " alloc lines with bytes_alloc < bytes_req"
		if (unknown)
			print unknown " free lines of a pointer not allocated in the trace"
		print "done"
	}')
if [ "$(echo "$problems" | tail -n 1)" = "done" ]; then
	problems=$(echo "$problems" | sed '$d')
else
	problems="$problems
the check did not run"
fi
t_result "call sites in spanalloc_example, bytes_alloc >= bytes_req, frees match allocs" \
	"$problems"

finish
