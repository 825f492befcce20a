#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# spanalloc's numbers reconcile exactly when the system is quiet (stats read
# the same before and after the other files), checked while the example
# client holds objects and again after it freed them:
#   stats:   objects_in_use == allocs - frees,
#            pages_held == pages_in_spans + pages_free,
#            chunks == the sum of chunks_order_0..8;
#   classes: the rows sum to Total; in each row inuse == allocs - frees,
#            inuse + free == (partial + full + cached) * objs,
#            bytes_inuse == inuse * size;
#   caches:  the rows sum to Total; in each row inuse == allocs - frees;
#   stats == classes Total + caches Total + large objects:
#            objects_in_use == inuse + inuse + large_objects,
#            allocs - frees of the large ones (what is left of stats' allocs
#            and frees) == large_objects,
#            spans_in_use == partial + full + cached + spans + large_objects;
#   heap:    the rows sum to Total; in each row in_spans == held - free;
#            Total chunks, held, in_spans, free, returned == stats' chunks,
#            pages_held, pages_in_spans, pages_free, pages_returned.

. "$(dirname "$0")/lib.sh"

N=${SPANALLOC_WORKLOAD:-500}

require example
ktap_plan 13

cleanup() {
	unload_module spanalloc_example
	if [ "${loaded_spanalloc:-}" = 1 ]; then
		unload_module spanalloc
	fi
}

# Prints "GROUP: problem" lines for the last snapshot.
reconcile() {
	printf '@stats\n%s\n@classes\n%s\n@caches\n%s\n@heap\n%s\n' \
		"$s_stats" "$s_classes" "$s_caches" "$s_heap" | awk '
	function want(g, what, got, wanted) {
		if (got != wanted)
			print g ": " what " is " got ", want " wanted
	}
	/^@/ { sec = substr($0, 2); hdr = 1; next }
	sec == "stats" { split($0, kv, ": "); st[kv[1]] = kv[2] + 0; next }
	hdr { for (i = 1; i <= NF; i++) col[sec, $i] = i; hdr = 0; next }
	sec == "classes" {
		c = "classes"
		if ($1 == "Total") {
			for (i = 5; i <= 13; i++)
				if (i != 11)
					ctot[i] = $i + 0
			next
		}
		for (i = 5; i <= 13; i++)
			csum[i] += $i
		want(c, "class " $1 " inuse", $col[c, "inuse"],
		     $col[c, "allocs"] - $col[c, "frees"])
		want(c, "class " $1 " inuse + free",
		     $col[c, "inuse"] + $col[c, "free"],
		     ($col[c, "partial"] + $col[c, "full"] + $col[c, "cached"]) * $col[c, "objs"])
		want(c, "class " $1 " bytes_inuse", $col[c, "bytes_inuse"],
		     $col[c, "inuse"] * $col[c, "size"])
		next
	}
	sec == "caches" {
		c = "caches"
		if ($1 == "Total") {
			for (i = col[c, "inuse"]; i <= NF; i++)
				htot[i] = $i + 0
			next
		}
		for (i = col[c, "inuse"]; i <= NF; i++)
			hsum[i] += $i
		want(c, $1 " inuse", $col[c, "inuse"], $col[c, "allocs"] - $col[c, "frees"])
		want(c, $1 " inuse <= spans * objs",
		     ($col[c, "inuse"] <= $col[c, "spans"] * $col[c, "objs"]), 1)
		next
	}
	sec == "heap" {
		c = "heap"
		if ($1 == "Total") {
			for (i = 2; i <= 6; i++)
				ptot[i] = $i + 0
			next
		}
		for (i = 2; i <= 6; i++)
			psum[i] += $i
		want(c, "node " $1 " in_spans", $col[c, "in_spans"],
		     $col[c, "held"] - $col[c, "free"])
		next
	}
	END {
		want("stats", "objects_in_use", st["objects_in_use"],
		     st["allocs"] - st["frees"])
		want("stats", "pages_held", st["pages_held"],
		     st["pages_in_spans"] + st["pages_free"])
		for (o = 0; o <= 8; o++)
			ch += st["chunks_order_" o]
		want("stats", "chunks", st["chunks"], ch)

		for (i = 5; i <= 13; i++)
			if (i != 11)
				want("classes", "Total column " i, ctot[i], csum[i])
		for (i = col["caches", "inuse"]; i <= col["caches", "frees"]; i++)
			want("caches", "Total column " i, htot[i], hsum[i])

		cl = "classes"
		ca = "caches"
		ci = col[cl, "inuse"]
		ki = col[ca, "inuse"]
		want("sum", "objects_in_use", st["objects_in_use"],
		     ctot[ci] + htot[ki] + st["large_objects"])
		la = st["allocs"] - ctot[col[cl, "allocs"]] - htot[col[ca, "allocs"]]
		lf = st["frees"] - ctot[col[cl, "frees"]] - htot[col[ca, "frees"]]
		if (la < 0 || lf < 0)
			print "sum: stats allocs/frees below classes + caches: large allocs " la ", frees " lf
		want("sum", "large allocs - large frees", la - lf, st["large_objects"])
		want("sum", "spans_in_use", st["spans_in_use"],
		     ctot[col[cl, "partial"]] + ctot[col[cl, "full"]] + ctot[col[cl, "cached"]] +
		     htot[col[ca, "spans"]] + st["large_objects"])

		for (i = 2; i <= 6; i++)
			want("heap", "Total column " i, ptot[i], psum[i])
		want("heap", "Total chunks vs stats", ptot[col["heap", "chunks"]], st["chunks"])
		want("heap", "Total held vs stats pages_held", ptot[col["heap", "held"]],
		     st["pages_held"])
		want("heap", "Total in_spans vs stats pages_in_spans",
		     ptot[col["heap", "in_spans"]], st["pages_in_spans"])
		want("heap", "Total free vs stats pages_free", ptot[col["heap", "free"]],
		     st["pages_free"])
		want("heap", "Total returned vs stats pages_returned",
		     ptot[col["heap", "returned"]], st["pages_returned"])
		print "done"
	}'
}

check_all() {	# WHEN
	snapshot_quiet || diag "spanalloc did not get quiet within 15 s"
	r=$(reconcile)
	# An awk that fails (or is not awk enough) must not pass everything.
	if [ "$(echo "$r" | tail -n 1)" = "done" ]; then
		r=$(echo "$r" | sed '$d')
	else
		r="$r
stats: the check did not run
classes: the check did not run
caches: the check did not run
sum: the check did not run
heap: the check did not run"
	fi
	t_result "$1: stats: objects_in_use == allocs - frees, pages_held == pages_in_spans + pages_free, chunks by order" \
		"$(echo "$r" | grep '^stats: ')"
	t_result "$1: classes: rows sum to Total, each row consistent" \
		"$(echo "$r" | grep '^classes: ')"
	t_result "$1: caches: rows sum to Total, each row consistent" \
		"$(echo "$r" | grep '^caches: ')"
	t_result "$1: stats == classes + caches + large objects" \
		"$(echo "$r" | grep '^sum: ')"
	t_result "$1: heap: rows sum to Total, Total == stats" \
		"$(echo "$r" | grep '^heap: ')"
	if [ -n "$r" ]; then
		diag "stats: $(echo "$s_stats" | tr '\n' ' ')"
		echo "$s_heap" | sed 's/^/# /'
		echo "$s_caches" | sed 's/^/# /'
		echo "$s_classes" | awk 'NR == 1 || $1 == "Total" || $8 > 0 || $12 > 0' |
			sed 's/^/# /'
	fi
}

if load_module spanalloc && load_module spanalloc_example && [ -d "$EX" ]; then
	t_pass "spanalloc and spanalloc_example loaded"
else
	t_fail "spanalloc and spanalloc_example loaded"
	skip_rest "modules did not load"
fi

if echo "$N" >"$EX/run"; then
	t_pass "echo $N > run"
else
	t_fail "echo $N > run"
	skip_rest "the workload failed"
fi
check_all "holding $(held_of objects) objects"

if echo 1 >"$EX/free"; then
	t_pass "echo 1 > free"
else
	t_fail "echo 1 > free"
fi
check_all "after free"

finish
