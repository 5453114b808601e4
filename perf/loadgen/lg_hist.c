/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Latency histogram, log-linear as HdrHistogram lays it out: values below
 * LG_HIST_SUB ns have a bucket each; above, every power of two is cut
 * into LG_HIST_SUB/2 equal buckets (index = shift * SUB/2 + value >>
 * shift), so the error is below 1/32 of the value at any scale, adding a
 * sample is a few instructions, and 42 powers cover an hour.
 */
#include <stdio.h>

#include "lg.h"

static unsigned bucket_of(uint64_t v)
{
	unsigned msb, shift, i;

	if (v < LG_HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - 5; /* v >> shift lies in [32, 64) */
	i = (shift + 1) * (LG_HIST_SUB / 2) + (unsigned)(v >> shift) -
	    LG_HIST_SUB / 2;
	return i < LG_HIST_BUCKETS ? i : LG_HIST_BUCKETS - 1;
}

/* The largest value a bucket holds. */
static uint64_t bucket_top(unsigned i)
{
	unsigned shift;

	if (i < LG_HIST_SUB)
		return i;
	shift = i / (LG_HIST_SUB / 2) - 1;
	return (((uint64_t)(i % (LG_HIST_SUB / 2) + LG_HIST_SUB / 2) + 1)
		<< shift) -
	       1;
}

void lg_hist_add(struct lg_hist *h, uint64_t ns)
{
	h->n[bucket_of(ns)]++;
	h->count++;
	if (ns > h->max)
		h->max = ns;
}

uint64_t lg_hist_quantile(const struct lg_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(q * (double)h->count + 0.5);
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen >= want)
			return bucket_top(i) < h->max ? bucket_top(i) : h->max;
	}
	return h->max;
}

int lg_hist_write_cdf(const struct lg_hist *h, const char *path)
{
	uint64_t seen = 0;
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "# latency_ns cumulative_fraction\n");
	for (unsigned i = 0; i < LG_HIST_BUCKETS && h->count != 0; i++) {
		if (h->n[i] == 0)
			continue;
		seen += h->n[i];
		fprintf(f, "%llu %.6f\n",
			(unsigned long long)(bucket_top(i) < h->max
						 ? bucket_top(i)
						 : h->max),
			(double)seen / (double)h->count);
	}
	return fclose(f);
}
