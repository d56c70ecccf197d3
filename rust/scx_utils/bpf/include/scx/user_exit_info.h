/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Why a scheduler ended, as its BPF side records it for user space.
 *
 * The kernel hands ops.exit a struct scx_exit_info whose strings live in kernel memory. The
 * BPF side (user_exit_info.bpf.h) copies it into the one-entry array map "scx_uei" with this
 * layout; the loader (scx_utils' ExitInfo in Rust, scx/loader.h in C) reads it after detaching
 * and reports it. This header is shared by BPF and user space, so it uses only fixed-size types.
 */
#ifndef __SCX_USER_EXIT_INFO_H
#define __SCX_USER_EXIT_INFO_H

#define SCX_UEI_REASON_LEN 128
#define SCX_UEI_MSG_LEN	   1024
#define SCX_UEI_DUMP_LEN   32768

struct scx_uei {
	/* enum scx_exit_kind; 0 while the scheduler runs. Written last. */
	int kind;
	int exit_cpu;
	long long exit_code;
	char reason[SCX_UEI_REASON_LEN];
	char msg[SCX_UEI_MSG_LEN];
	/* Bytes of dump that are valid, including the terminating NUL. */
	unsigned int dump_len;
	unsigned int pad;
	char dump[SCX_UEI_DUMP_LEN];
};

#endif /* __SCX_USER_EXIT_INFO_H */
