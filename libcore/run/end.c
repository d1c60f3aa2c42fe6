/* A run's typed end; see run/end.h. */
#include "run/end.h"

#include <stdarg.h>
#include <stdio.h>

/* Records kind, value and the message fmt/ap (NULL: none) in e. */
static void record(struct run_end *e, enum run_end_kind kind, int value, const char *fmt, va_list ap)
{
	e->kind = kind;
	e->value = value;
	e->why[0] = 0;
	if (fmt)
		vsnprintf(e->why, sizeof(e->why), fmt, ap);
}

bool run_end_set(struct run_end *e, enum run_end_kind kind, int value, const char *fmt, ...)
{
	va_list ap;

	if (e->kind != RUN_END_NONE)
		return false;
	va_start(ap, fmt);
	record(e, kind, value, fmt, ap);
	va_end(ap);
	return true;
}

void run_end_explain_lost(struct run_end *e, enum run_end_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (e->kind != RUN_END_LOST)
		return;
	va_start(ap, fmt);
	record(e, kind, e->value, fmt, ap);
	va_end(ap);
}

int run_end_code(const struct run_end *e)
{
	switch (e->kind) {
	case RUN_END_EXITED:
		return e->value & 0xff;
	case RUN_END_REFUSED:
		return e->value >= 1 && e->value <= 255 ? e->value : RUN_EXIT_SETUP;
	case RUN_END_TIMEOUT:
		return RUN_EXIT_TIMEOUT;
	case RUN_END_INTERRUPTED:
		return 128 + (e->value & 0x7f);
	default:
		return RUN_EXIT_SETUP;
	}
}

bool run_end_is_failure(const struct run_end *e)
{
	return e->kind >= RUN_END_SETUP;
}

void run_end_report(const struct run_end *e)
{
	if (e->why[0])
		fprintf(stderr, "voidbox run: %s\n", e->why);
}
