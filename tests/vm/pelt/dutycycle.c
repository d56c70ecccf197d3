// SPDX-License-Identifier: GPL-2.0-only
/*
 * dutycycle RUN_MS SLEEP_MS SECONDS
 *
 * Busy-loops RUN_MS milliseconds, sleeps SLEEP_MS, and repeats for SECONDS; with SLEEP_MS 0 it
 * only spins. Time is CLOCK_MONOTONIC, the clock the guest kernel's scheduler also sees.
 *
 * The running share is kept at RUN / (RUN + SLEEP) however the CPU is shared out underneath
 * (under single-threaded qemu the vCPUs take turns on one host thread, so a vCPU is routinely
 * parked for a few milliseconds of guest time, and a busy loop that ends inside such a gap
 * overshoots):
 *   - periods lie on an absolute grid: period k starts at start + k * (RUN + SLEEP), and the
 *     sleep ends at the next grid point, so a late wakeup or a long run shortens the sleep
 *     instead of shifting every later period;
 *   - a run phase that overshot its length is paid back by the next one (and a short one is
 *     made up), so the total busy time stays periods * RUN;
 *   - if it falls a whole period behind, the grid restarts from now.
 * At exit it prints one line: periods, busy time, wall time, busy share and the longest run.
 * Its comm is its file name, so a copy under another name is tracked under that name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_SEC  1000000000LL

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void sleep_until(long long t)
{
	struct timespec ts = {.tv_sec = t / NSEC_PER_SEC, .tv_nsec = t % NSEC_PER_SEC};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static long long arg(const char *s, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 86400000LL) {
		fprintf(stderr, "dutycycle: %s must be a whole number 0..86400000, got \"%s\"\n",
			what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long long run, sleep, secs, start, end, next, t, stop, debt = 0, busy = 0, longest = 0;
	volatile unsigned long long spins = 0;
	long long periods = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s RUN_MS SLEEP_MS SECONDS\n", argv[0]);
		return 2;
	}
	run = arg(argv[1], "RUN_MS") * NSEC_PER_MSEC;
	sleep = arg(argv[2], "SLEEP_MS") * NSEC_PER_MSEC;
	secs = arg(argv[3], "SECONDS");
	start = now_ns();
	end = start + secs * NSEC_PER_SEC;

	if (!sleep) {
		while (now_ns() < end)
			spins++;
		busy = now_ns() - start;
		longest = busy;
		periods = 1;
	} else if (!run) {
		sleep_until(end);
	} else {
		next = start;
		while ((t = now_ns()) < end) {
			/* this period's run: RUN minus what the previous ones ran too long */
			stop = t + (run - debt > 0 ? run - debt : 0);
			if (stop > end)
				stop = end;
			while (now_ns() < stop)
				spins++;
			t = now_ns() - t;
			debt += t - run;
			busy += t;
			longest = t > longest ? t : longest;
			periods++;
			next += run + sleep;
			t = now_ns();
			if (next <= t)
				next = t + sleep;
			sleep_until(next < end ? next : end);
		}
	}
	t = now_ns() - start;
	printf("dutycycle: %s periods=%lld busy_ms=%lld wall_ms=%lld busy_pct=%.1f "
	       "longest_run_ms=%.1f\n",
	       argv[0], periods, busy / NSEC_PER_MSEC, t / NSEC_PER_MSEC,
	       t ? 100.0 * busy / t : 0.0, longest / 1e6);
	return 0;
}
