/* A tiny unit-test harness. Each test file's main() calls T_RUN(fn) for its
 * test functions; a test reports through T_CHECK()/T_SKIP(). Output is one
 * line per test: "PASS name", "FAIL name: why" or "SKIP name: why", which
 * tests/run.sh counts. The process exits 1 if anything failed. */
#ifndef VOIDBOX_T_H
#define VOIDBOX_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_total;
static int t_cur_failed, t_cur_skipped;
static char t_why[512];

#define T_CHECK(cond, ...)                                                   \
	do {                                                                 \
		if (!(cond)) {                                               \
			if (!t_cur_failed) {                                 \
				int n_ = snprintf(t_why, sizeof(t_why), "%s:%d: ", __FILE__, __LINE__); \
				snprintf(t_why + n_, sizeof(t_why) - (size_t)n_, __VA_ARGS__); \
			}                                                    \
			t_cur_failed = 1;                                    \
		}                                                            \
	} while (0)

/* Checks a condition and leaves the test function when it fails. */
#define T_REQUIRE(cond, ...)                                                 \
	do {                                                                 \
		T_CHECK(cond, __VA_ARGS__);                                  \
		if (t_cur_failed)                                            \
			return;                                              \
	} while (0)

#define T_SKIP(...)                                                          \
	do {                                                                 \
		snprintf(t_why, sizeof(t_why), __VA_ARGS__);                 \
		t_cur_skipped = 1;                                           \
		return;                                                      \
	} while (0)

#define T_RUN(fn)                                                            \
	do {                                                                 \
		t_cur_failed = t_cur_skipped = 0;                            \
		t_why[0] = 0;                                                \
		fn();                                                        \
		if (t_cur_failed) {                                          \
			printf("FAIL %s: %s\n", #fn, t_why);                 \
			t_failed_total++;                                    \
		} else if (t_cur_skipped) {                                  \
			printf("SKIP %s: %s\n", #fn, t_why);                 \
		} else {                                                     \
			printf("PASS %s\n", #fn);                            \
		}                                                            \
		fflush(stdout);                                              \
	} while (0)

#define T_EXIT() return t_failed_total ? 1 : 0

#endif
