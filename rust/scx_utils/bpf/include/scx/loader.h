/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for C loaders of sched_ext schedulers (the Rust side has the same in scx_utils).
 *
 *   scx_loader_preflight()    fail early, in plain words: not root, no sched_ext, no BTF,
 *                             another scheduler already enabled
 *   scx_loader_prepare_ops()  before load: fill hotplug_seq and exit_dump_len, clear ops members
 *                             and flags the running kernel lacks (looked up in its BTF)
 *   scx_loader_check_kfuncs() before load: name the kfunc calls not guarded by bpf_ksym_exists()
 *                             that the running kernel cannot run (the load would fail)
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

#include "exit_kinds.h"
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

#define SCX_SYSFS "/sys/kernel/sched_ext"
#ifndef KSYM_NAME_LEN
#define KSYM_NAME_LEN 512 /* the kernel's longest symbol name */
#endif
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
 * lacks are cleared, hotplug_seq is filled. exit_dump_len belongs to the loader, as in scx_utils'
 * prepare_ops(): it becomes @dump_len, or the exit report's full capacity (SCX_UEI_DUMP_LEN,
 * 32768) when @dump_len is 0, whatever SCX_OPS_DEFINE set; more than the report holds is refused.
 * Returns 0 or a negative errno.
 */
static inline int scx_loader_prepare_ops_len(struct bpf_object *obj, struct bpf_map *ops_map,
					     const char *prog, uint32_t dump_len)
{
	const struct btf *obtf = bpf_object__btf(obj);
	struct btf *kbtf = btf__load_vmlinux_btf();
	const struct btf_type *ot, *kt;
	const struct btf_member *m;
	char buf[64];
	size_t size;
	char *data;
	int oid, kid;

	if (dump_len > SCX_UEI_DUMP_LEN) {
		fprintf(
		    stderr,
		    "%s: exit dump length %u is larger than the %d bytes the exit report holds\n",
		    prog, dump_len, SCX_UEI_DUMP_LEN);
		btf__free(kbtf);
		return -EINVAL;
	}
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
	if (m)
		*(uint32_t *)(data + m->offset / 8) = dump_len ? dump_len : SCX_UEI_DUMP_LEN;
	btf__free(kbtf);
	return 0;
}

/* scx_loader_prepare_ops_len() with the full dump (32768 bytes), as scx_utils' default. */
static inline int scx_loader_prepare_ops(struct bpf_object *obj, struct bpf_map *ops_map,
					 const char *prog)
{
	return scx_loader_prepare_ops_len(obj, ops_map, prog, 0);
}

/*
 * Is kfunc @name described with the verifier's hidden trailing struct bpf_prog_aux * argument
 * but without the <name>_impl twin the verifier then looks for? Such a kernel (Debian's 7.1 and
 * 7.2, for some kfuncs) refuses every call to it. Same test as scx_utils'
 * KernelBtf::kfunc_uncallable().
 */
static inline bool scx_kfunc_uncallable(const struct btf *kbtf, const char *name)
{
	const struct btf_type *t;
	const struct btf_param *last;
	char impl[KSYM_NAME_LEN + 8];
	int id;

	id = btf__find_by_name_kind(kbtf, name, BTF_KIND_FUNC);
	if (id <= 0)
		return false;
	snprintf(impl, sizeof(impl), "%s_impl", name);
	if (strlen(name) >= KSYM_NAME_LEN || btf__find_by_name_kind(kbtf, impl, BTF_KIND_FUNC) > 0)
		return false;
	t = btf__type_by_id(kbtf, btf__type_by_id(kbtf, id)->type);
	if (!t || !btf_is_func_proto(t) || !btf_vlen(t))
		return false;
	last = btf_params(t) + btf_vlen(t) - 1;
	id = btf__resolve_type(kbtf, last->type);
	t = id > 0 ? btf__type_by_id(kbtf, id) : NULL;
	if (!t || !btf_is_ptr(t))
		return false;
	id = btf__resolve_type(kbtf, t->type);
	t = id > 0 ? btf__type_by_id(kbtf, id) : NULL;
	return t && !strcmp(btf__name_by_offset(kbtf, t->name_off), "bpf_prog_aux");
}

static inline uint64_t scx_elf_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t scx_elf_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint16_t scx_elf_u16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* What is known before one instruction, for scx_guarded_calls(). */
struct scx_known {
	bool seen;
	bool queued;
	int16_t regs[11]; /* which kfunc's address each register holds, or -1 */
	uint8_t *proven;  /* per kfunc: address proven non-zero on every path here */
};

/* Keep what both paths know; true when @to changed (or was first reached). */
static inline bool scx_known_meet(struct scx_known *to, const int16_t regs[11],
				  const uint8_t *proven, int nk)
{
	bool changed = !to->seen;

	for (int r = 0; r < 11; r++) {
		int16_t v = to->seen && to->regs[r] != regs[r] ? -1 : regs[r];

		changed |= v != to->regs[r];
		to->regs[r] = v;
	}
	for (int k = 0; k < nk; k++) {
		uint8_t v = to->seen ? to->proven[k] & proven[k] : proven[k];

		changed |= v != to->proven[k];
		to->proven[k] = v;
	}
	to->seen = true;
	return changed;
}

static inline void scx_known_flow(struct scx_known *st, size_t n, size_t *work, size_t *nwork,
				  long to, const int16_t regs[11], const uint8_t *proven, int nk)
{
	if (to < 0 || (size_t)to >= n || !scx_known_meet(&st[to], regs, proven, nk) ||
	    st[to].queued)
		return;
	st[to].queued = true;
	work[(*nwork)++] = (size_t)to;
}

/*
 * The forward must-analysis of scx_utils' guarded_calls() (kernel_btf.rs) over one section's
 * @n instructions: @rk[i] is the relocation kind at instruction i (1 = R_BPF_64_64 against a
 * kfunc, 10 = R_BPF_64_32, 0 = none) and @ri[i] the kfunc's index below @nk; @entry[i] marks
 * function starts. On return @guarded[k] is false when some reachable call to kfunc k is not
 * covered by a non-zero test of its address. Returns 0 or -ENOMEM.
 */
static inline int scx_guarded_calls(const uint8_t *code, size_t n, const uint8_t *rk, const int *ri,
				    const bool *entry, int nk, bool *guarded)
{
	struct scx_known *st = calloc(n, sizeof(*st));
	uint8_t *proven = calloc(n + 1, (size_t)nk + 1);
	size_t *work = calloc(n, sizeof(*work)), nwork = 0;
	uint8_t *p = proven + n * ((size_t)nk + 1);
	int16_t regs[11];

	if (!st || !proven || !work) {
		free(st);
		free(proven);
		free(work);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		st[i].proven = proven + i * ((size_t)nk + 1);
		if (entry[i]) {
			int16_t none[11];

			memset(none, 0xff, sizeof(none));
			memset(p, 0, (size_t)nk);
			scx_known_flow(st, n, work, &nwork, (long)i, none, p, nk);
		}
	}
	while (nwork) {
		size_t i = work[--nwork];
		const uint8_t *insn = code + i * 8;
		uint8_t op = insn[0], cls = op & 7;
		int dst = insn[1] & 0xf, src = insn[1] >> 4;
		int16_t off;
		int32_t imm;

		st[i].queued = false;
		memcpy(&off, insn + 2, 2);
		memcpy(&imm, insn + 4, 4);
		dst = dst > 10 ? 10 : dst;
		src = src > 10 ? 10 : src;
		memcpy(regs, st[i].regs, sizeof(regs));
		memcpy(p, st[i].proven, (size_t)nk);
		if (op == 0x18) { /* ld_imm64: a kfunc's address, or another constant */
			regs[dst] = rk[i] == 1 ? (int16_t)ri[i] : -1;
			scx_known_flow(st, n, work, &nwork, (long)i + 2, regs, p, nk);
		} else if (op == 0x95 || op == 0x96) { /* exit */
		} else if (op == 0x85 || op == 0x86) { /* call: r0-r5 clobbered */
			for (int r = 0; r < 6; r++)
				regs[r] = -1;
			scx_known_flow(st, n, work, &nwork, (long)i + 1, regs, p, nk);
		} else if (op == 0x05) { /* goto */
			scx_known_flow(st, n, work, &nwork, (long)i + 1 + off, regs, p, nk);
		} else if (op == 0x06) { /* gotol */
			scx_known_flow(st, n, work, &nwork, (long)i + 1 + imm, regs, p, nk);
		} else if (cls == 5 || cls == 6) { /* conditional jump */
			int kf = regs[dst];
			uint8_t cond = op & 0xf0;

			/* Which side of a test of a kfunc address against 0 knows it is not 0? */
			if (!(op & 0x08) && !imm && kf >= 0 && (cond == 0x50 || cond == 0x20))
				p[kf] = 1; /* != 0, > 0 (unsigned): taken */
			scx_known_flow(st, n, work, &nwork, (long)i + 1 + off, regs, p, nk);
			memcpy(p, st[i].proven, (size_t)nk);
			if (!(op & 0x08) && !imm && kf >= 0 && (cond == 0x10 || cond == 0xb0))
				p[kf] = 1; /* == 0, <= 0 (unsigned): falls through */
			scx_known_flow(st, n, work, &nwork, (long)i + 1, regs, p, nk);
		} else {
			if (op == 0xbf && !imm && !off) /* mov64 keeps the address */
				regs[dst] = regs[src];
			else if (cls <= 1 || cls == 4 ||
				 cls == 7) /* ALU ops and loads replace dst */
				regs[dst] = -1;
			else if (cls == 3 && (op & 0xe0) == 0xc0) /* atomics: fetch, cmpxchg */
				regs[src] = regs[0] = -1;
			scx_known_flow(st, n, work, &nwork, (long)i + 1, regs, p, nk);
		}
	}
	for (int k = 0; k < nk; k++)
		guarded[k] = true;
	for (size_t i = 0; i < n; i++) /* unreachable calls cannot fail a load */
		if (rk[i] == 10 && code[i * 8] == 0x85 && st[i].seen && !st[i].proven[ri[i]])
			guarded[ri[i]] = false;
	free(st);
	free(proven);
	free(work);
	return 0;
}

/*
 * Print a warning for each kfunc that the object @elf (@size bytes of a .bpf.o, e.g. from the
 * skeleton's <name>__elf_bytes()) calls without a bpf_ksym_exists() guard and that @kbtf's kernel
 * cannot run, one per kfunc and section, and return how many (-EINVAL if @elf is no BPF object).
 * @kbtf is the running kernel's BTF when NULL. The rule is scx_utils' (kfunc_calls in
 * kernel_btf.rs): a call to kfunc K is guarded when every path to it passes the non-zero side of
 * a test of K's address, which is what bpf_ksym_exists(K) compiles to (an ld_imm64 with an
 * R_BPF_64_64 relocation against K, then a conditional jump); the call itself carries an
 * R_BPF_64_32 relocation. Run on a host (x86-64, little-endian).
 */
static inline int scx_loader_check_kfuncs_btf(const void *elf, size_t size, const struct btf *kbtf,
					      const char *prog)
{
	const uint8_t *e = elf, *sh, *symtab = NULL;
	const char *strtab, *shstr;
	struct btf *own = NULL;
	size_t shoff, shentsize, shnum, nsyms = 0;
	int warnings = 0;

	if (size < 64 || memcmp(e,
				"\x7f"
				"ELF\x02\x01",
				6)) {
		fprintf(stderr, "%s: not a 64-bit little-endian BPF ELF object (a .bpf.o)\n", prog);
		return -EINVAL;
	}
	shoff = scx_elf_u64(e + 0x28);
	shentsize = scx_elf_u16(e + 0x3a);
	shnum = scx_elf_u16(e + 0x3c);
	if (shentsize < 64 || shoff + shnum * shentsize > size) {
		fprintf(stderr, "%s: truncated BPF ELF object\n", prog);
		return -EINVAL;
	}
	sh = e + shoff;
	shstr = (const char *)e + scx_elf_u64(sh + scx_elf_u16(e + 0x3e) * shentsize + 24);
	for (size_t i = 0; i < shnum; i++) {
		if (scx_elf_u32(sh + i * shentsize + 4) == 2 /* SHT_SYMTAB */) {
			symtab = sh + i * shentsize;
			nsyms = scx_elf_u64(symtab + 32) / 24;
		}
	}
	if (!symtab)
		return 0;
	strtab = (const char *)e + scx_elf_u64(sh + scx_elf_u32(symtab + 40) * shentsize + 24);
	if (!kbtf) {
		own = btf__load_vmlinux_btf();
		if (!own) {
			fprintf(stderr, "%s: cannot read the kernel's BTF: %s\n", prog,
				strerror(errno));
			return -ENOENT;
		}
		kbtf = own;
	}

	for (size_t t = 0; t < shnum; t++) {
		const uint8_t *target = sh + t * shentsize, *syms = e + scx_elf_u64(symtab + 24);
		size_t n = scx_elf_u64(target + 32) / 8;
		const char **names;
		uint8_t *rk;
		int *ri, nk = 0;
		bool *entry, *guarded, calls = false;

		if (!(scx_elf_u64(target + 8) & 4 /* SHF_EXECINSTR */) || !n)
			continue;
		names = calloc(n, sizeof(*names));
		rk = calloc(n, 1);
		ri = calloc(n, sizeof(*ri));
		entry = calloc(n, sizeof(*entry));
		guarded = calloc(n, sizeof(*guarded));
		if (!names || !rk || !ri || !entry || !guarded) {
			warnings = -ENOMEM;
			goto next;
		}
		for (size_t r = 0; r < shnum; r++) {
			const uint8_t *rel = sh + r * shentsize;

			if (scx_elf_u32(rel + 4) != 9 /* SHT_REL */ || scx_elf_u32(rel + 44) != t)
				continue;
			for (size_t c = 0; c < scx_elf_u64(rel + 32) / 16; c++) {
				const uint8_t *rc = e + scx_elf_u64(rel + 24) + c * 16;
				const uint8_t *sym = syms + (scx_elf_u64(rc + 8) >> 32) * 24;
				size_t i = scx_elf_u64(rc) / 8;
				const char *name = strtab + scx_elf_u32(sym);
				int k;

				/* Only undefined symbols: kfuncs, not subprograms or maps. */
				if (scx_elf_u16(sym + 6) != 0 || i >= n)
					continue;
				for (k = 0; k < nk && strcmp(names[k], name); k++)
					;
				if (k == nk)
					names[nk++] = name;
				rk[i] = (uint8_t)scx_elf_u64(rc + 8);
				ri[i] = k;
				calls |= rk[i] == 10;
			}
		}
		if (!calls)
			goto next;
		/* Functions start knowing nothing: the section start and every function in it. */
		entry[0] = true;
		for (size_t y = 0; y < nsyms; y++) {
			const uint8_t *sym = syms + y * 24;

			if ((sym[4] & 0xf) == 2 /* STT_FUNC */ && scx_elf_u16(sym + 6) == t &&
			    scx_elf_u64(sym + 8) / 8 < n)
				entry[scx_elf_u64(sym + 8) / 8] = true;
		}
		if (scx_guarded_calls(e + scx_elf_u64(target + 24), n, rk, ri, entry, nk,
				      guarded)) {
			warnings = -ENOMEM;
			goto next;
		}
		for (int k = 0; k < nk; k++) {
			char base[KSYM_NAME_LEN];
			char *flavor;

			snprintf(base, sizeof(base), "%s", names[k]);
			flavor = strstr(base, "___");
			if (flavor)
				*flavor = '\0';
			if (guarded[k] || !scx_kfunc_uncallable(kbtf, base))
				continue;
			fprintf(
			    stderr,
			    "%s: warning: this kernel cannot run BPF calls to %s (called unguarded "
			    "in %s): its BTF lists the hidden bpf_prog_aux argument but no %s_impl "
			    "(BTF made by an older pahole), so loading will fail; guard the call "
			    "with "
			    "bpf_ksym_exists(%s) or use a compat.bpf.h wrapper\n",
			    prog, base, shstr + scx_elf_u32(target), base, names[k]);
			warnings++;
		}
	next:
		free(names);
		free(rk);
		free(ri);
		free(entry);
		free(guarded);
		if (warnings < 0)
			break;
	}
	btf__free(own);
	return warnings;
}

/* scx_loader_check_kfuncs_btf() against the running kernel. */
static inline int scx_loader_check_kfuncs(const void *elf, size_t size, const char *prog)
{
	return scx_loader_check_kfuncs_btf(elf, size, NULL, prog);
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
	char name[32], words[128];
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
	if (u.kind >= SCX_EXIT_ERROR_FIRST && u.dump_len > 1)
		fprintf(stderr, "%s: debug dump from the kernel:\n%s\n", prog, u.dump);
	scx_exit_kind_describe(u.kind, name, sizeof(name), words, sizeof(words));
	fprintf(stderr, "%s: scheduler %s (kind %s = %d, exit code 0x%llx)\n", prog, words, name,
		u.kind, (unsigned long long)u.exit_code);
	if (u.reason[0])
		fprintf(stderr, "%s: reason: %s\n", prog, u.reason);
	if (u.msg[0])
		fprintf(stderr, "%s: message: %s\n", prog, u.msg);
	if (u.exit_code & SCX_ECODE_RESTART) {
		*restart = true;
		fprintf(stderr, "%s: the kernel asked for a restart; attaching again\n", prog);
		return 0;
	}
	if (u.kind >= SCX_EXIT_ERROR_FIRST)
		return 1;
	return (int)(uint32_t)u.exit_code;
}

#endif /* __SCX_LOADER_H */
