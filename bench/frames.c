// SPDX-License-Identifier: GPL-2.0-only
/*
 * frames: an interactive proxy for bench/. A "frame" task wakes at the start of every period
 * (absolute deadlines: period k starts at t0 + k * period), does a fixed amount of CPU work and
 * must finish it before the period ends. A frame that finishes later is late; the periods it
 * overran are skipped (like a game that missed vsync), so a late frame never makes the next one
 * late by itself.
 *
 *   frames calibrate [-b] [-t MS]
 *       Prints "loops_per_ms=N": how many iterations of the busy loop one CPU runs per
 *       millisecond of wall time, measured on CPU 0 with nothing else runnable on it (median of
 *       3 windows of -t MS, default 1000). With -b every other CPU runs a pinned
 *       spinner meanwhile, so that an emulator running one vCPU at a time (qemu TCG) is as busy
 *       as under the benchmark's hogs: see bench/README.md for why bench/ uses -b.
 *   frames run -l LOOPS_PER_MS [-p PERIOD_US] [-w WORK_US] [-d SECS] [-s STOPFILE]
 *       Runs frames of WORK_US (default 4000) worth of calibrated loops every PERIOD_US
 *       (default 16667, 60 Hz) for SECS (default 5) and prints
 *       "frames=N late=N skipped=N p99_late_us=N max_late_us=N work_loops=N".
 *       Lateness is the finish time minus the period's end, counted as 0 for frames on time;
 *       p99 is the nearest rank (the smallest value at least 99 % of frames do not exceed).
 *       With -s, STOPFILE is created the moment the last frame ends (see hog -w).
 *   frames hog -n N -w STOPFILE [-t MAXSECS]
 *       Runs N busy loops (processes) until STOPFILE exists (checked every 2 ms) or MAXSECS
 *       (default 120) have passed, then prints "hogs=N secs=S stopped=file|timeout". The
 *       benchmark's CPU hogs: they stop the moment a measurement ends (cyclictest creates its
 *       histogram file only once it has stopped measuring), so that the emulator does not
 *       spend seconds of hogged vCPUs writing and reading results.
 *
 * The task runs in whatever scheduling class it was started in (SCHED_OTHER from a shell), so a
 * sched_ext scheduler schedules it like any other task.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The work: a dependent chain the compiler can neither drop nor vectorise. */
static void busy(uint64_t loops)
{
	uint64_t x = loops;

	for (uint64_t i = 0; i < loops; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values (pct in 1..100). */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned pct)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (n * pct + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static void usage(void)
{
	fprintf(stderr, "usage: frames calibrate [-b] [-t MS]\n"
			"       frames run -l LOOPS_PER_MS [-p PERIOD_US] [-w WORK_US] [-d SECS] "
			"[-s STOPFILE]\n"
			"       frames hog -n N -w STOPFILE [-t MAXSECS]\n");
	exit(2);
}

static int calibrate(int argc, char **argv)
{
	long total_ms = 1000;
	int busy_others = 0, opt, ncpu;
	pid_t spinners[1024];
	int nspin = 0;
	uint64_t chunk = 1000, samples[3];
	size_t n = 0;

	while ((opt = getopt(argc, argv, "bt:")) != -1) {
		switch (opt) {
		case 'b':
			busy_others = 1;
			break;
		case 't':
			total_ms = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (total_ms < 20)
		total_ms = 20;
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (busy_others) {
		for (int c = 1; c < ncpu && nspin < 1024; c++) {
			pid_t p = fork();

			if (p < 0) {
				perror("fork");
				break;
			}
			if (p == 0) {
				if (pin(c))
					_exit(1);
				for (;;)
					busy(1u << 20);
			}
			spinners[nspin++] = p;
		}
	}
	if (pin(0))
		perror("sched_setaffinity(0)");

	/* Grow a chunk until it lasts about 10 ms, then time chunks of that size. */
	for (;;) {
		uint64_t t = now_ns();

		busy(chunk);
		if (now_ns() - t >= 10000000ull || chunk > (1ull << 40))
			break;
		chunk *= 2;
	}
	/*
	 * Loops over wall time of whole windows, not the median of short samples: an emulator
	 * that runs one vCPU at a time runs each for a slice of many milliseconds, so most short
	 * samples would see the full speed and miss the turns the vCPU waits. Median of 3 windows.
	 */
	for (n = 0; n < 3; n++) {
		uint64_t t = now_ns(), done = 0, el;

		do {
			busy(chunk);
			done += chunk;
			el = now_ns() - t;
		} while (el < (uint64_t)total_ms * 1000000ull);
		samples[n] = done * 1000000ull / el;
	}
	for (int i = 0; i < nspin; i++)
		kill(spinners[i], SIGKILL);
	for (int i = 0; i < nspin; i++)
		waitpid(spinners[i], NULL, 0);

	qsort(samples, n, sizeof(samples[0]), cmp_u64);
	printf("loops_per_ms=%llu\n", (unsigned long long)samples[1]);
	return 0;
}

static int run(int argc, char **argv)
{
	uint64_t loops_per_ms = 0, period_us = 16667, work_us = 4000, secs = 5;
	const char *stopfile = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "l:p:w:d:s:")) != -1) {
		switch (opt) {
		case 'l':
			loops_per_ms = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			period_us = strtoull(optarg, NULL, 10);
			break;
		case 'w':
			work_us = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			secs = strtoull(optarg, NULL, 10);
			break;
		case 's':
			stopfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (!loops_per_ms || !period_us || !secs)
		usage();

	uint64_t work_loops = loops_per_ms * work_us / 1000;
	uint64_t period = period_us * 1000, max_frames = secs * 1000000 / period_us + 2;
	uint64_t *late = calloc(max_frames, sizeof(*late));
	uint64_t frames = 0, nlate = 0, skipped = 0;

	if (!late) {
		perror("calloc");
		return 1;
	}

	uint64_t t0 = now_ns(), end = t0 + secs * 1000000000ull, release = t0 + period;

	while (release + period <= end && frames < max_frames) {
		struct timespec ts = {.tv_sec = release / 1000000000ull,
				      .tv_nsec = release % 1000000000ull};
		int err;

		while ((err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)) == EINTR)
			;
		if (err) {
			fprintf(stderr, "clock_nanosleep: %s\n", strerror(err));
			return 1;
		}
		busy(work_loops);
		uint64_t finish = now_ns(), deadline = release + period;

		late[frames++] = finish > deadline ? (finish - deadline) / 1000 : 0;
		if (finish > deadline) {
			nlate++;
			/* Next release: the first period start at or after the finish. */
			uint64_t missed = (finish - deadline + period - 1) / period;

			skipped += missed;
			release = deadline + missed * period;
		} else {
			release = deadline;
		}
	}
	if (stopfile)
		close(open(stopfile, O_WRONLY | O_CREAT, 0644));
	qsort(late, frames, sizeof(*late), cmp_u64);
	printf("frames=%llu late=%llu skipped=%llu p99_late_us=%llu max_late_us=%llu "
	       "work_loops=%llu\n",
	       (unsigned long long)frames, (unsigned long long)nlate, (unsigned long long)skipped,
	       (unsigned long long)percentile(late, frames, 99),
	       (unsigned long long)(frames ? late[frames - 1] : 0), (unsigned long long)work_loops);
	free(late);
	return 0;
}

static int hog(int argc, char **argv)
{
	const char *stopfile = NULL;
	long n = 0, maxsecs = 120;
	int opt, by_file = 0;

	while ((opt = getopt(argc, argv, "n:w:t:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'w':
			stopfile = optarg;
			break;
		case 't':
			maxsecs = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (n < 1 || !stopfile)
		usage();

	uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)maxsecs * 1000000000ull;

	for (long i = 0; i < n; i++) {
		pid_t p = fork();

		if (p < 0) {
			perror("fork");
			break;
		}
		if (p == 0) {
			uint64_t next_look = 0;

			for (;;) {
				uint64_t t;

				busy(2000);
				t = now_ns();
				if (t >= next_look) {
					if (!access(stopfile, F_OK))
						_exit(0);
					next_look = t + 2000000;
				}
				if (t >= deadline)
					_exit(1);
			}
		}
	}
	int status;

	while (wait(&status) > 0)
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			by_file = 1;
	uint64_t el = now_ns() - t0;

	printf(
	    "hogs=%ld secs=%llu.%02llu stopped=%s\n", n, (unsigned long long)(el / 1000000000ull),
	    (unsigned long long)(el % 1000000000ull / 10000000ull), by_file ? "file" : "timeout");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "calibrate"))
		return calibrate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "hog"))
		return hog(argc - 1, argv + 1);
	usage();
	return 2;
}
