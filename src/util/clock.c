/*
 * clock.c - the monotonic clock of clock.h.
 */
#include <errno.h>
#include <time.h>

#include "util/clock.h"

uint64_t ep_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ep_sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint64_t ep_ms_left(uint64_t deadline_ms)
{
	if (!deadline_ms)
		return UINT64_MAX;
	uint64_t now = ep_now_ms();
	return now >= deadline_ms ? 0 : deadline_ms - now;
}
