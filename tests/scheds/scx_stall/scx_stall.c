/* SPDX-License-Identifier: GPL-2.0-only */
/* Loader for the scx_stall test scheduler: attach, wait for the kernel to end it, report. */
#include <signal.h>
#include <time.h>

#include <scx/loader.h>

#include "scx_stall.skel.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int main(void)
{
	struct scx_stall *skel;
	struct bpf_link *link;
	bool restart;
	int status;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (scx_loader_preflight("scx_stall"))
		return 2;
	skel = scx_stall__open();
	if (!skel || scx_loader_prepare_ops(skel->obj, skel->maps.stall_ops, "scx_stall") ||
	    scx_stall__load(skel)) {
		fprintf(stderr, "scx_stall: loading failed\n");
		return 2;
	}
	link = bpf_map__attach_struct_ops(skel->maps.stall_ops);
	if (!link) {
		fprintf(stderr, "scx_stall: attaching failed: %s\n", strerror(errno));
		return 2;
	}
	printf("scx_stall: attached; tasks named 'stallme' will never run\n");
	fflush(stdout);
	while (!stop_requested && !scx_loader_exited(skel->maps.scx_uei)) {
		struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	bpf_link__destroy(link);
	status = scx_loader_report_exit(skel->maps.scx_uei, "scx_stall", &restart);
	scx_stall__destroy(skel);
	return status;
}
