/* run/end: a run's end is a type and the exit status comes from it: every
 * kind's code, the first end winning, a lost connection explained later. */
#include <string.h>

#include "run/end.h"
#include "t.h"

static void test_codes(void)
{
	static const struct { enum run_end_kind k; int v; int code; } cases[] = {
		{ RUN_END_EXITED, 0, 0 }, { RUN_END_EXITED, 7, 7 }, { RUN_END_EXITED, 137, 137 },
		{ RUN_END_EXITED, 0x1ff, 255 }, { RUN_END_REFUSED, 127, 127 }, { RUN_END_REFUSED, 0, 125 },
		{ RUN_END_REFUSED, 999, 125 }, { RUN_END_TIMEOUT, 0, 124 }, { RUN_END_INTERRUPTED, 2, 130 },
		{ RUN_END_SETUP, 0, 125 }, { RUN_END_VMM_FAILED, 0, 125 }, { RUN_END_NOT_READY, 0, 125 },
		{ RUN_END_POWERED_OFF, 0, 125 }, { RUN_END_LOST, 0, 125 }, { RUN_END_PROTOCOL, 0, 125 },
		{ RUN_END_NONE, 0, 125 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run_end e = { .kind = cases[i].k, .value = cases[i].v };
		T_CHECK(run_end_code(&e) == cases[i].code, "kind %d value %d: %d, want %d", cases[i].k,
			cases[i].v, run_end_code(&e), cases[i].code);
		T_CHECK(run_end_is_failure(&e) == (cases[i].k >= RUN_END_SETUP), "failure flag of kind %d",
			cases[i].k);
	}
}

static void test_first_wins(void)
{
	struct run_end e = { 0 };

	T_CHECK(run_end_set(&e, RUN_END_TIMEOUT, 0, "timed out after %u s", 3), "first not recorded");
	T_CHECK(!run_end_set(&e, RUN_END_EXITED, 0, NULL), "a later end replaced the first");
	T_CHECK(run_end_code(&e) == 124 && !strcmp(e.why, "timed out after 3 s"), "kept: %d '%s'",
		run_end_code(&e), e.why);
	run_end_explain_lost(&e, RUN_END_VMM_FAILED, "the VM failed: x");
	T_CHECK(e.kind == RUN_END_TIMEOUT, "explain_lost replaced a timeout");
	e = (struct run_end){ 0 };
	run_end_set(&e, RUN_END_LOST, 0, "the agent closed the connection");
	run_end_explain_lost(&e, RUN_END_VMM_FAILED, "the VM failed: %s", "qemu killed by signal 9");
	T_CHECK(e.kind == RUN_END_VMM_FAILED && !strcmp(e.why, "the VM failed: qemu killed by signal 9"),
		"lost not explained: %d '%s'", e.kind, e.why);
}

int main(void)
{
	T_RUN(test_codes);
	T_RUN(test_first_wins);
	T_EXIT();
}
