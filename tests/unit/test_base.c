/* Unit tests for base/ (parsers, loop) and guest/mem (bounds checks). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/util.h"
#include "guest/mem.h"
#include "t.h"

static void test_parse_size(void)
{
	uint64_t v;

	T_CHECK(parse_size("512", &v) == 0 && v == 512, "plain");
	T_CHECK(parse_size("64K", &v) == 0 && v == 65536, "K");
	T_CHECK(parse_size("512M", &v) == 0 && v == 512ULL << 20, "M");
	T_CHECK(parse_size("2GiB", &v) == 0 && v == 2ULL << 30, "GiB");
	T_CHECK(parse_size("", &v) == -EINVAL, "empty");
	T_CHECK(parse_size("12X", &v) == -EINVAL, "bad unit");
	T_CHECK(parse_size("-1M", &v) == -EINVAL, "negative");
	T_CHECK(parse_size("99999999999999999999", &v) == -EINVAL, "overflow");
	T_CHECK(parse_size("17179869184G", &v) == -ERANGE, "shift overflow");
	T_CHECK(parse_uint("7", 1, 8, &v) == 0 && v == 7, "uint");
	T_CHECK(parse_uint("9", 1, 8, &v) == -ERANGE, "uint range");
	T_CHECK(parse_uint("1x", 1, 8, &v) == -EINVAL, "uint junk");
}

static void test_gmem_bounds(void)
{
	static uint8_t a[4096], b[4096];
	struct gmem m = { 0 };
	struct gmem_region ra = { .gpa = 0, .size = sizeof(a), .hva = a, .vmm_addr = 0x10000 };
	struct gmem_region rb = { .gpa = 0x100000, .size = sizeof(b), .hva = b };
	struct gmem_region bad = { .gpa = 0x100800, .size = 16, .hva = a };
	struct gmem_region wrap = { .gpa = UINT64_MAX - 10, .size = 100, .hva = a };

	T_REQUIRE(gmem_add(&m, &ra) == 0 && gmem_add(&m, &rb) == 0, "add");
	T_CHECK(gmem_add(&m, &bad) == -EINVAL, "overlap accepted");
	T_CHECK(gmem_add(&m, &wrap) == -EINVAL, "wrapping region accepted");
	T_CHECK(gmem_get(&m, 0, 4096) == a, "whole region");
	T_CHECK(gmem_get(&m, 4095, 1) == a + 4095, "last byte");
	T_CHECK(gmem_get(&m, 4095, 2) == NULL, "crosses end");
	T_CHECK(gmem_get(&m, 4096, 0) == a + 4096, "empty at end");
	T_CHECK(gmem_get(&m, 0x100000 + 100, 200) == b + 100, "second region");
	T_CHECK(gmem_get(&m, 0x80000, 1) == NULL, "hole");
	T_CHECK(gmem_get(&m, 16, UINT64_MAX) == NULL, "huge length");
	T_CHECK(gmem_get(&m, UINT64_MAX, 2) == NULL, "address wrap");
	T_CHECK(gmem_vmm_get(&m, 0x10010, 16) == a + 16, "vmm address");
	T_CHECK(gmem_vmm_get(&m, 0x100000, 16) == NULL, "vmm address of region without one");
}

static int fired;
static void on_event(struct loop_watch *w, uint32_t ev)
{
	uint64_t v;
	if (read(w->fd, &v, sizeof(v)) == 8)
		fired += (int)v;
}

static void test_loop(void)
{
	struct loop l;
	struct loop_watch w = { .cb = on_event };
	uint64_t three = 3;

	T_REQUIRE(loop_init(&l) == 0, "loop_init");
	w.fd = eventfd(0, EFD_NONBLOCK);
	T_REQUIRE(w.fd >= 0 && loop_add(&l, &w, EPOLLIN) == 0, "add");
	T_CHECK(loop_once(&l, 0) == 0, "nothing pending");
	T_CHECK(write(w.fd, &three, 8) == 8, "write");
	T_CHECK(loop_once(&l, 1000) == 1 && fired == 3, "dispatched");
	loop_del(&l, &w);
	close(w.fd);
	loop_fini(&l);
}

/* A callback that deletes and frees another watch whose event is pending
 * in the same batch: the freed watch must not be called (ASan would catch
 * the use after free; the count catches it without ASan). */
static struct loop *del_loop;
static int del_calls;

static void on_del_other(struct loop_watch *w, uint32_t ev)
{
	struct loop_watch *other = w->ctx;

	del_calls++;
	if (other) {
		loop_del(del_loop, other);
		close(other->fd);
		free(other);
		w->ctx = NULL;
	}
}

static void test_loop_del_pending(void)
{
	struct loop l;
	struct loop_watch *w[2];
	uint64_t one = 1;

	T_REQUIRE(loop_init(&l) == 0, "loop_init");
	del_loop = &l;
	for (int i = 0; i < 2; i++) {
		w[i] = calloc(1, sizeof(*w[i]));
		T_REQUIRE(w[i], "calloc");
		w[i]->fd = eventfd(0, EFD_NONBLOCK);
		w[i]->cb = on_del_other;
		T_REQUIRE(loop_add(&l, w[i], EPOLLIN) == 0, "add");
		T_REQUIRE(write(w[i]->fd, &one, 8) == 8, "write");
	}
	w[0]->ctx = w[1];
	w[1]->ctx = w[0];
	T_CHECK(loop_once(&l, 1000) == 2, "two events");
	T_CHECK(del_calls == 1, "%d callbacks: a deleted watch was called", del_calls);
	for (int i = 0; i < 2; i++)
		if (w[i]->ctx == NULL) { /* the survivor */
			loop_del(&l, w[i]);
			close(w[i]->fd);
			free(w[i]);
			break;
		}
	loop_fini(&l);
}

int main(void)
{
	T_RUN(test_parse_size);
	T_RUN(test_gmem_bounds);
	T_RUN(test_loop);
	T_RUN(test_loop_del_pending);
	T_EXIT();
}
