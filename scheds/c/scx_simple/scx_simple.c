/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loader for scx_simple: parse options, attach the BPF scheduler, print stats until Ctrl-C or
 * until the kernel ends the scheduler, then report why it ended.
 */
#include <getopt.h>
#include <signal.h>
#include <time.h>

#include <scx/loader.h>

#include "scx_simple.skel.h"

#ifndef SCX_VERSION
#define SCX_VERSION "unknown"
#endif

static const char usage[] =
    "Usage: %s [OPTIONS]\n"
    "\n"
    "A simple sched_ext scheduler: one shared queue in weighted-vtime order (default) or FIFO.\n"
    "Runs until Ctrl-C (or SIGTERM), then hands the machine back to the kernel's scheduler.\n"
    "\n"
    "  -f, --fifo            first-in first-out instead of weighted vtime\n"
    "  -s, --slice-us US     time slice in microseconds (default 20000)\n"
    "  -i, --stats SECS      print counters every SECS seconds (default: only at exit)\n"
    "  -v, --verbose         print libbpf's messages\n"
    "  -V, --version         print the version and exit\n"
    "  -h, --help            print this help and exit\n"
    "\n"
    "Exit status: 0 when stopped by a signal or an orderly unregister, 1 when the kernel ended\n"
    "the scheduler with an error (the reason is printed), 2 on a usage or setup error.\n";

static volatile sig_atomic_t stop_requested;
static bool verbose;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void read_stats(struct scx_simple *skel, unsigned long long out[2])
{
	int nr_cpus = libbpf_num_possible_cpus();
	unsigned long long vals[nr_cpus > 0 ? nr_cpus : 1];

	for (unsigned int idx = 0; idx < 2; idx++) {
		out[idx] = 0;
		if (nr_cpus <= 0 || bpf_map__lookup_elem(skel->maps.stats, &idx, sizeof(idx), vals,
							 sizeof(vals), 0))
			continue;
		for (int cpu = 0; cpu < nr_cpus; cpu++)
			out[idx] += vals[cpu];
	}
}

static int parse_u64(const char *arg, const char *what, unsigned long long min,
		     unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(arg, &end, 10);
	if (errno || *end || end == arg || *out < min || arg[0] == '-') {
		fprintf(stderr, "scx_simple: invalid %s '%s': expected an integer >= %llu\n", what,
			arg, min);
		return -1;
	}
	return 0;
}

static int run_once(bool fifo, unsigned long long slice_us, unsigned long long stats_secs,
		    bool *restart)
{
	struct scx_simple *skel;
	struct bpf_link *link;
	const void *elf;
	size_t elf_size;
	unsigned long long counts[2];
	time_t last = time(NULL);
	int status;

	skel = scx_simple__open();
	if (!skel) {
		fprintf(stderr, "scx_simple: cannot open the BPF object: %s\n", strerror(errno));
		return 2;
	}
	skel->rodata->fifo_mode = fifo;
	skel->rodata->slice_ns = slice_us * 1000;
	elf = scx_simple__elf_bytes(&elf_size);
	if (scx_loader_check_kfuncs(elf, elf_size, "scx_simple") < 0 ||
	    scx_loader_prepare_ops(skel->obj, skel->maps.simple_ops, "scx_simple") ||
	    scx_simple__load(skel)) {
		fprintf(stderr, "scx_simple: loading the BPF scheduler failed (run with -v for the "
				"verifier log)\n");
		scx_simple__destroy(skel);
		return 2;
	}
	link = bpf_map__attach_struct_ops(skel->maps.simple_ops);
	if (!link) {
		fprintf(stderr, "scx_simple: attaching failed: %s\n", strerror(errno));
		scx_simple__destroy(skel);
		return 2;
	}
	printf("scx_simple: attached (%s, slice %llu us)\n", fifo ? "fifo" : "weighted vtime",
	       slice_us);
	fflush(stdout);

	while (!stop_requested && !scx_loader_exited(skel->maps.scx_uei)) {
		struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
		if (stats_secs && time(NULL) - last >= (time_t)stats_secs) {
			last = time(NULL);
			read_stats(skel, counts);
			printf("scx_simple: direct %llu shared %llu\n", counts[0], counts[1]);
			fflush(stdout);
		}
	}

	read_stats(skel, counts);
	bpf_link__destroy(link);
	printf("scx_simple: totals: direct %llu shared %llu\n", counts[0], counts[1]);
	fflush(stdout);
	status = scx_loader_report_exit(skel->maps.scx_uei, "scx_simple", restart);
	scx_simple__destroy(skel);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"fifo", no_argument, NULL, 'f'},
	    {"slice-us", required_argument, NULL, 's'},
	    {"stats", required_argument, NULL, 'i'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long long slice_us = 20000, stats_secs = 0;
	bool fifo = false, restart;
	int opt, status;

	while ((opt = getopt_long(argc, argv, "fs:i:vVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			fifo = true;
			break;
		case 's':
			if (parse_u64(optarg, "slice", 1, &slice_us))
				return 2;
			break;
		case 'i':
			if (parse_u64(optarg, "stats interval", 1, &stats_secs))
				return 2;
			break;
		case 'v':
			verbose = true;
			break;
		case 'V':
			printf("scx_simple %s\n", SCX_VERSION);
			return 0;
		case 'h':
			printf(usage, argv[0]);
			return 0;
		default:
			fprintf(stderr, usage, argv[0]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "scx_simple: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	libbpf_set_print(print_libbpf);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (scx_loader_preflight("scx_simple"))
		return 2;
	do {
		status = run_once(fifo, slice_us, stats_secs, &restart);
	} while (restart && !stop_requested);
	return status;
}
