/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for C loaders of sched_ext schedulers (the Rust side has the same in scx_utils).
 *
 *   scx_loader_preflight()    fail early, in plain words: not root, no sched_ext, no BTF,
 *                             another scheduler already enabled
 *   scx_loader_prepare_ops()  before load: fill hotplug_seq and exit_dump_len, clear ops members
 *                             and flags the running kernel lacks (looked up in its BTF)
 *   scx_loader_report_exit()  after detach: read the scx_uei map, print why the scheduler ended,
 *                             and return the process exit status; *restart tells whether the
 *                             kernel asked for a restart (e.g. CPU hotplug)
 *
 * Header-only so a C scheduler needs nothing but libbpf to link.
 */
#ifndef __SCX_LOADER_H
#define __SCX_LOADER_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "user_exit_info.h"

/* bpftool skeletons spell the BPF side's global variables with the kernel's type names. */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#define SCX_SYSFS	  "/sys/kernel/sched_ext"
#define SCX_ECODE_RESTART (1LL << 48)

static inline int scx_read_sysfs(const char *name, char *buf, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), SCX_SYSFS "/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Returns 0 when a scheduler can be attached now; otherwise prints why and returns -1. */
static inline int scx_loader_preflight(const char *prog)
{
	char state[64];

	if (geteuid() != 0) {
		fprintf(stderr,
			"%s: must run as root (loading a BPF scheduler needs CAP_SYS_ADMIN and "
			"CAP_BPF)\n",
			prog);
		return -1;
	}
	if (access(SCX_SYSFS, F_OK) != 0) {
		fprintf(
		    stderr,
		    "%s: this kernel has no sched_ext (%s is missing): boot a kernel built with "
		    "CONFIG_SCHED_CLASS_EXT=y (6.12 or newer)\n",
		    prog, SCX_SYSFS);
		return -1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		fprintf(stderr,
			"%s: the kernel exposes no BTF (/sys/kernel/btf/vmlinux): "
			"CONFIG_DEBUG_INFO_BTF=y is required\n",
			prog);
		return -1;
	}
	if (scx_read_sysfs("state", state, sizeof(state)) == 0 && strcmp(state, "disabled") != 0) {
		char ops[160] = "?";

		scx_read_sysfs("root/ops", ops, sizeof(ops));
		fprintf(stderr, "%s: another sched_ext scheduler is %s (\"%s\"): stop it first\n",
			prog, state, ops);
		return -1;
	}
	return 0;
}

static inline const struct btf_member *scx_btf_member(const struct btf *btf,
						      const struct btf_type *t, const char *name)
{
	const struct btf_member *m = btf_members(t);

	for (int i = 0; i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), name))
			return m;
	return NULL;
}

/* Bits of enum scx_ops_flags the running kernel knows. */
static inline uint64_t scx_kernel_ops_flags(const struct btf *kbtf)
{
	int id = btf__find_by_name_kind(kbtf, "scx_ops_flags", BTF_KIND_ENUM64);
	uint64_t mask = 0;
	const struct btf_type *t;

	if (id < 0)
		id = btf__find_by_name_kind(kbtf, "scx_ops_flags", BTF_KIND_ENUM);
	if (id < 0)
		return 0;
	t = btf__type_by_id(kbtf, id);
	for (int i = 0; i < btf_vlen(t); i++) {
		const char *n;
		uint64_t v;

		if (btf_is_enum64(t)) {
			const struct btf_enum64 *e = btf_enum64(t) + i;

			n = btf__name_by_offset(kbtf, e->name_off);
			v = btf_enum64_value(e);
		} else {
			const struct btf_enum *e = btf_enum(t) + i;

			n = btf__name_by_offset(kbtf, e->name_off);
			v = (uint32_t)e->val;
		}
		/* Only single flags: skip masks such as SCX_OPS_ALL_FLAGS and internal ones. */
		if (!strncmp(n, "SCX_OPS_", 8) && strcmp(n, "SCX_OPS_ALL_FLAGS") && v &&
		    !(v & (v - 1)) && v < (1ULL << 56))
			mask |= v;
	}
	return mask;
}

/*
 * Adjust the ops struct of @ops_map (opened, not loaded) for the running kernel. Data members
 * the kernel lacks are zeroed with a warning (libbpf refuses non-zero unknown members), flags it
 * lacks are cleared, hotplug_seq and exit_dump_len are filled. Returns 0 or a negative errno.
 */
static inline int scx_loader_prepare_ops(struct bpf_object *obj, struct bpf_map *ops_map,
					 const char *prog)
{
	const struct btf *obtf = bpf_object__btf(obj);
	struct btf *kbtf = btf__load_vmlinux_btf();
	const struct btf_type *ot, *kt;
	const struct btf_member *m;
	char buf[64];
	size_t size;
	char *data;
	int oid, kid;

	if (!kbtf) {
		fprintf(stderr, "%s: cannot read the kernel's BTF: %s\n", prog, strerror(errno));
		return -ENOENT;
	}
	data = bpf_map__initial_value(ops_map, &size);
	oid = btf__find_by_name_kind(obtf, "sched_ext_ops", BTF_KIND_STRUCT);
	kid = btf__find_by_name_kind(kbtf, "sched_ext_ops", BTF_KIND_STRUCT);
	if (!data || oid < 0 || kid < 0) {
		fprintf(stderr, "%s: no struct sched_ext_ops in %s\n", prog,
			kid < 0 ? "the kernel's BTF" : "the BPF object");
		btf__free(kbtf);
		return -ENOENT;
	}
	ot = btf__type_by_id(obtf, oid);
	kt = btf__type_by_id(kbtf, kid);

	m = btf_members(ot);
	for (int i = 0; i < btf_vlen(ot); i++, m++) {
		const char *name = btf__name_by_offset(obtf, m->name_off);
		const struct btf_type *mt = btf__type_by_id(obtf, m->type);
		size_t off = btf_member_bit_offset(ot, i) / 8;
		long msize;

		while (mt && (btf_is_typedef(mt) || btf_is_mod(mt)))
			mt = btf__type_by_id(obtf, mt->type);
		/* Callbacks are programs, not data; libbpf reports those itself. */
		if (!mt || btf_is_ptr(mt) || scx_btf_member(kbtf, kt, name))
			continue;
		msize = btf__resolve_size(obtf, m->type);
		if (msize <= 0 || off + (size_t)msize > size)
			continue;
		for (long b = 0; b < msize; b++) {
			if (data[off + b]) {
				fprintf(stderr,
					"%s: warning: this kernel has no sched_ext_ops.%s; "
					"ignoring it\n",
					prog, name);
				memset(data + off, 0, (size_t)msize);
				break;
			}
		}
	}

	m = scx_btf_member(obtf, ot, "flags");
	if (m) {
		uint64_t *flags = (uint64_t *)(data + m->offset / 8);
		uint64_t known = scx_kernel_ops_flags(kbtf);

		if (*flags & ~known) {
			fprintf(stderr,
				"%s: warning: this kernel lacks ops flags 0x%llx; clearing them\n",
				prog, (unsigned long long)(*flags & ~known));
			*flags &= known;
		}
	}
	m = scx_btf_member(obtf, ot, "hotplug_seq");
	if (m && scx_read_sysfs("hotplug_seq", buf, sizeof(buf)) == 0)
		*(uint64_t *)(data + m->offset / 8) = strtoull(buf, NULL, 10);
	m = scx_btf_member(obtf, ot, "exit_dump_len");
	if (m && !*(uint32_t *)(data + m->offset / 8))
		*(uint32_t *)(data + m->offset / 8) = SCX_UEI_DUMP_LEN;
	btf__free(kbtf);
	return 0;
}

static inline const char *scx_exit_kind_name(int kind)
{
	switch (kind) {
	case 0:
		return "SCX_EXIT_NONE";
	case 1:
		return "SCX_EXIT_DONE";
	case 64:
		return "SCX_EXIT_UNREG";
	case 65:
		return "SCX_EXIT_UNREG_BPF";
	case 66:
		return "SCX_EXIT_UNREG_KERN";
	case 67:
		return "SCX_EXIT_SYSRQ";
	case 68:
		return "SCX_EXIT_PARENT";
	case 69:
		return "SCX_EXIT_PARENT_KILL";
	case 1024:
		return "SCX_EXIT_ERROR";
	case 1025:
		return "SCX_EXIT_ERROR_BPF";
	case 1026:
		return "SCX_EXIT_ERROR_STALL";
	case 1027:
		return "SCX_EXIT_ERROR_REENQ";
	case 1028:
		return "SCX_EXIT_ERROR_RESCUE";
	default:
		return "SCX_EXIT_?";
	}
}

static inline const char *scx_exit_kind_words(int kind)
{
	switch (kind) {
	case 0:
		return "still running";
	case 1:
		return "finished";
	case 64:
		return "unregistered from user space";
	case 65:
		return "unregistered by the BPF scheduler itself";
	case 66:
		return "unregistered by the kernel";
	case 67:
		return "disabled by SysRq-S";
	case 68:
		return "ended because its parent scheduler ended";
	case 69:
		return "killed with its parent scheduler";
	case 1024:
		return "failed: the kernel found an error";
	case 1025:
		return "failed: the BPF scheduler reported an error";
	case 1026:
		return "failed: the kernel's watchdog found a runnable task stall (a task was not "
		       "run in time)";
	case 1027:
		return "failed: re-enqueue error";
	case 1028:
		return "failed: rescue path error";
	default:
		return kind >= 1024 ? "failed (unknown error kind)" : "ended (unknown kind)";
	}
}

/* True once the BPF side has recorded an exit (the scheduler is gone or going). */
static inline bool scx_loader_exited(struct bpf_map *uei_map)
{
	struct scx_uei u;
	uint32_t zero = 0;

	if (bpf_map__lookup_elem(uei_map, &zero, sizeof(zero), &u, sizeof(u), 0))
		return false;
	return u.kind != 0;
}

/*
 * Print why the scheduler ended and return the process exit status: 0 for an orderly end,
 * 1 for an error, or the scheduler's own exit code (low 32 bits) when it set one.
 */
static inline int scx_loader_report_exit(struct bpf_map *uei_map, const char *prog, bool *restart)
{
	static struct scx_uei u;
	uint32_t zero = 0;

	*restart = false;
	if (bpf_map__lookup_elem(uei_map, &zero, sizeof(zero), &u, sizeof(u), 0)) {
		fprintf(stderr, "%s: cannot read the exit report: %s\n", prog, strerror(errno));
		return 1;
	}
	if (u.kind == 0)
		return 0;
	u.reason[sizeof(u.reason) - 1] = '\0';
	u.msg[sizeof(u.msg) - 1] = '\0';
	u.dump[sizeof(u.dump) - 1] = '\0';
	if (u.kind >= 1024 && u.dump_len > 1)
		fprintf(stderr, "%s: debug dump from the kernel:\n%s\n", prog, u.dump);
	fprintf(stderr, "%s: scheduler %s (kind %s = %d, exit code 0x%llx)\n", prog,
		scx_exit_kind_words(u.kind), scx_exit_kind_name(u.kind), u.kind,
		(unsigned long long)u.exit_code);
	if (u.reason[0])
		fprintf(stderr, "%s: reason: %s\n", prog, u.reason);
	if (u.msg[0])
		fprintf(stderr, "%s: message: %s\n", prog, u.msg);
	if (u.exit_code & SCX_ECODE_RESTART) {
		*restart = true;
		fprintf(stderr, "%s: the kernel asked for a restart; attaching again\n", prog);
		return 0;
	}
	if (u.kind >= 1024)
		return 1;
	return (int)(uint32_t)u.exit_code;
}

#endif /* __SCX_LOADER_H */
