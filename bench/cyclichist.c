// SPDX-License-Identifier: GPL-2.0-only
/*
 * cyclichist FILE: reads the histogram cyclictest writes with -h US --histfile=FILE (one thread)
 * and prints "samples=N avg_us=N p99_us=N max_us=N overflows=N p99_over=0|1".
 *
 * avg_us and max_us are cyclictest's own summary lines (they cover every sample, also those
 * beyond the histogram). p99_us is the nearest rank: the smallest latency that at least 99 % of
 * the samples do not exceed. When that rank falls among the overflows (samples of US or more),
 * p99_us is the histogram size US and p99_over=1: the true p99 is at least that.
 *
 * This is C rather than awk because the histogram has one line per microsecond (hundreds of
 * thousands of lines) and the guest runs under emulation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	unsigned long long *count = NULL, total = 0, overflows = 0, avg = 0, max = 0;
	size_t cap = 0, size = 0;
	char line[4096];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: cyclichist HISTFILE\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	int continued = 0; /* the previous fgets() ended mid-line */

	while (fgets(line, sizeof(line), f)) {
		unsigned long long bucket, n;
		int cont = continued;

		continued = !strchr(line, '\n');
		/* The rest of a long line (the overflow cycle list) is never a bucket. */
		if (cont)
			continue;

		if (line[0] == '#') {
			/* Summary lines: "# Avg Latencies: 02968", "# Histogram Overflows: 00049".
			 */
			char *colon = strchr(line, ':');

			if (!colon)
				continue;
			if (!strncmp(line, "# Avg Latencies", 15))
				avg = strtoull(colon + 1, NULL, 10);
			else if (!strncmp(line, "# Max Latencies", 15))
				max = strtoull(colon + 1, NULL, 10);
			else if (!strncmp(line, "# Histogram Overflows", 21))
				overflows = strtoull(colon + 1, NULL, 10);
			continue;
		}
		/* "000123 000045": bucket (us) and count; strtoull is much cheaper than sscanf. */
		char *end;

		bucket = strtoull(line, &end, 10);
		if (end == line)
			continue;
		n = strtoull(end, NULL, 10);
		if (bucket >= cap) {
			size_t ncap = cap ? cap * 2 : 65536;

			while (ncap <= bucket)
				ncap *= 2;
			count = realloc(count, ncap * sizeof(*count));
			if (!count) {
				perror("realloc");
				return 1;
			}
			memset(count + cap, 0, (ncap - cap) * sizeof(*count));
			cap = ncap;
		}
		count[bucket] += n;
		total += n;
		if (bucket + 1 > size)
			size = bucket + 1;
	}
	fclose(f);

	unsigned long long samples = total + overflows, rank = (samples * 99 + 99) / 100, cum = 0;
	unsigned long long p99 = size;
	int over = 1;

	for (size_t b = 0; b < size && rank; b++) {
		cum += count[b];
		if (cum >= rank) {
			p99 = b;
			over = 0;
			break;
		}
	}
	if (!samples) {
		fprintf(stderr, "%s: no samples\n", argv[1]);
		return 1;
	}
	printf("samples=%llu avg_us=%llu p99_us=%llu max_us=%llu overflows=%llu p99_over=%d\n",
	       samples, avg, p99, max, overflows, over);
	free(count);
	return 0;
}
