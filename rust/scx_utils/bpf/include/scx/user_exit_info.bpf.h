/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * BPF side of the exit report: SCX_UEI_DEFINE() once per scheduler, scx_uei_record(ei) from
 * ops.exit. Kept in a map (not a global) so that any loader can find it by name without knowing
 * the scheduler's skeleton.
 */
#ifndef __SCX_USER_EXIT_INFO_BPF_H
#define __SCX_USER_EXIT_INFO_BPF_H

#include "user_exit_info.h"

#define SCX_UEI_DEFINE()                                                                           \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__uint(max_entries, 1);                                                            \
		__type(key, u32);                                                                  \
		__type(value, struct scx_uei);                                                     \
	} scx_uei SEC(".maps")

/* Copy @ei into the scx_uei map. Needs SCX_UEI_DEFINE() in the same object. */
#define scx_uei_record(ei)                                                                         \
	({                                                                                         \
		u32 __zero = 0;                                                                    \
		struct scx_uei *__u = bpf_map_lookup_elem(&scx_uei, &__zero);                      \
		if (__u) {                                                                         \
			long __n;                                                                  \
			bpf_probe_read_kernel_str(__u->reason, sizeof(__u->reason), (ei)->reason); \
			bpf_probe_read_kernel_str(__u->msg, sizeof(__u->msg), (ei)->msg);          \
			__n = bpf_probe_read_kernel_str(__u->dump, sizeof(__u->dump), (ei)->dump); \
			__u->dump_len = __n > 0 ? __n : 0;                                         \
			__u->exit_cpu = bpf_core_field_exists((ei)->exit_cpu)                      \
					    ? BPF_CORE_READ((ei), exit_cpu)                        \
					    : -1;                                                  \
			__u->exit_code = (ei)->exit_code;                                          \
			asm volatile("" ::: "memory");                                             \
			__u->kind = (ei)->kind;                                                    \
		}                                                                                  \
	})

#endif /* __SCX_USER_EXIT_INFO_BPF_H */
