/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace events spanalloc:alloc and spanalloc:free, in the style of the
 * kernel's kmem:kmalloc and kmem:kfree. Enabled, each turns sa_hooks on
 * (sa_trace_reg()), which sends the fast paths to the full ones, which trace.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM spanalloc

#if !defined(_SPANALLOC_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _SPANALLOC_TRACE_H

#include <linux/tracepoint.h>
#include <trace/events/mmflags.h>

int sa_trace_reg(void);
void sa_trace_unreg(void);

TRACE_EVENT_FN(alloc,
	       TP_PROTO(unsigned long call_site, const void *ptr, size_t bytes_req,
			size_t bytes_alloc, gfp_t gfp_flags, int node),
	       TP_ARGS(call_site, ptr, bytes_req, bytes_alloc, gfp_flags, node),
	       TP_STRUCT__entry(__field(unsigned long, call_site)
				__field(const void *, ptr)
				__field(size_t, bytes_req)
				__field(size_t, bytes_alloc)
				__field(unsigned long, gfp_flags)
				__field(int, node)),
	       TP_fast_assign(__entry->call_site = call_site;
			      __entry->ptr = ptr;
			      __entry->bytes_req = bytes_req;
			      __entry->bytes_alloc = bytes_alloc;
			      __entry->gfp_flags = (__force unsigned long)gfp_flags;
			      __entry->node = node;),
	       TP_printk("call_site=%pS ptr=%p bytes_req=%zu bytes_alloc=%zu gfp_flags=%s node=%d",
			 (void *)__entry->call_site, __entry->ptr, __entry->bytes_req,
			 __entry->bytes_alloc, show_gfp_flags(__entry->gfp_flags), __entry->node),
	       sa_trace_reg, sa_trace_unreg
);

TRACE_EVENT_FN(free,
	       TP_PROTO(unsigned long call_site, const void *ptr, size_t bytes_alloc),
	       TP_ARGS(call_site, ptr, bytes_alloc),
	       TP_STRUCT__entry(__field(unsigned long, call_site)
				__field(const void *, ptr)
				__field(size_t, bytes_alloc)),
	       TP_fast_assign(__entry->call_site = call_site;
			      __entry->ptr = ptr;
			      __entry->bytes_alloc = bytes_alloc;),
	       TP_printk("call_site=%pS ptr=%p bytes_alloc=%zu",
			 (void *)__entry->call_site, __entry->ptr, __entry->bytes_alloc),
	       sa_trace_reg, sa_trace_unreg
);

#endif /* _SPANALLOC_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE spanalloc_trace
#include <trace/define_trace.h>
