// SPDX-License-Identifier: GPL-2.0-only
/*
 * dutycycle RUN_MS SLEEP_MS SECONDS
 *
 * Busy-loops RUN_MS milliseconds, sleeps SLEEP_MS, and repeats for SECONDS; with SLEEP_MS 0 it
 * only spins. Both phases are measured on CLOCK_MONOTONIC. Periods are laid out on an absolute
 * grid (period k starts at start + k * (RUN_MS + SLEEP_MS)): a late wakeup delays the run phase
 * and shortens the following sleep, so the long-run running share stays RUN / (RUN + SLEEP)
 * instead of drifting down with every oversleep. Its comm is its file name, so a copy under
 * another name is tracked under that name.
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
	long long run, sleep, secs, start, end, period_start, t;
	volatile unsigned long long spins = 0;

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
		return 0;
	}
	if (!run) {
		sleep_until(end);
		return 0;
	}
	period_start = start;
	for (;;) {
		t = now_ns();
		if (t >= end)
			break;
		/* run from when we actually got the CPU back, at most to the end */
		for (long long stop = t + run; now_ns() < stop && now_ns() < end;)
			spins++;
		period_start += run + sleep;
		t = now_ns();
		/* so late that the next period already started: restart the grid from here */
		if (period_start <= t)
			period_start = t + sleep;
		sleep_until(period_start < end ? period_start : end);
	}
	return 0;
}
