/*
 * clock.h - the one monotonic clock every deadline, wait and backoff in the
 * library uses.  Never the wall clock: a step of the system time (NTP, a
 * VM resumed) must not shorten or stretch a wait.
 */
#ifndef ETCDPILOT_CLOCK_H
#define ETCDPILOT_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary origin). */
uint64_t ep_now_ms(void);

/* Sleep @ms milliseconds (resumed after signals). */
void ep_sleep_ms(uint64_t ms);

/*
 * Milliseconds left until @deadline_ms (an ep_now_ms() value), 0 when it has
 * passed; UINT64_MAX when @deadline_ms is 0 (no deadline).
 */
uint64_t ep_ms_left(uint64_t deadline_ms);

#endif
