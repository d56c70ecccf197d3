/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel's exit kinds (enum scx_exit_kind) with their names and plain-words descriptions, for
 * C loaders' exit reports (scx/loader.h). scx_utils' ExitKind (exit_info.rs) says the same; a
 * test there (kinds_match_the_c_table) compiles this header and fails when any name, number or
 * description differs, so change both together.
 */
#ifndef __SCX_EXIT_KINDS_H
#define __SCX_EXIT_KINDS_H

#include <stdio.h>

/* Kinds from this number up are errors. */
#define SCX_EXIT_ERROR_FIRST 1024

struct scx_exit_kind_desc {
	int kind;
	const char *name;
	const char *words;
};

static const struct scx_exit_kind_desc scx_exit_kinds[] = {
    {0, "SCX_EXIT_NONE", "still running"},
    {1, "SCX_EXIT_DONE", "finished"},
    {64, "SCX_EXIT_UNREG", "unregistered from user space"},
    {65, "SCX_EXIT_UNREG_BPF", "ended by the BPF scheduler itself"},
    {66, "SCX_EXIT_UNREG_KERN", "unregistered by the kernel"},
    {67, "SCX_EXIT_SYSRQ", "disabled by SysRq-S"},
    {68, "SCX_EXIT_PARENT", "ended because its parent scheduler ended"},
    {69, "SCX_EXIT_PARENT_KILL", "killed together with its parent scheduler"},
    {1024, "SCX_EXIT_ERROR", "failed: the kernel found an error"},
    {1025, "SCX_EXIT_ERROR_BPF", "failed: the BPF scheduler reported an error"},
    {1026, "SCX_EXIT_ERROR_STALL",
     "failed: the kernel's watchdog found a runnable task stall (a task was not run in time)"},
    {1027, "SCX_EXIT_ERROR_REENQ", "failed: a task the kernel re-enqueued could not be placed"},
    {1028, "SCX_EXIT_ERROR_RESCUE", "failed: the kernel's rescue path for stuck tasks failed"},
};

/*
 * Write @kind's name and description into @name and @words. Kinds missing from the table (a
 * newer kernel's) get "SCX_EXIT_<number>" and "failed (error kind N)" or "ended (kind N)".
 */
static inline void scx_exit_kind_describe(int kind, char *name, size_t name_len, char *words,
					  size_t words_len)
{
	for (size_t i = 0; i < sizeof(scx_exit_kinds) / sizeof(scx_exit_kinds[0]); i++) {
		if (scx_exit_kinds[i].kind == kind) {
			snprintf(name, name_len, "%s", scx_exit_kinds[i].name);
			snprintf(words, words_len, "%s", scx_exit_kinds[i].words);
			return;
		}
	}
	snprintf(name, name_len, "SCX_EXIT_%d", kind);
	if (kind >= SCX_EXIT_ERROR_FIRST)
		snprintf(words, words_len, "failed (error kind %d)", kind);
	else
		snprintf(words, words_len, "ended (kind %d)", kind);
}

#endif /* __SCX_EXIT_KINDS_H */
