/* The per-guest fd budget; see base/budget.h. The numbers: voidbox keeps
 * 96 fds plus an eighth of the limit for itself (its epoll, eventfds and
 * timers, vhost-user and vsock listeners with their spares, control
 * clients, -p listeners, KVM's vCPU and irqfd/ioeventfd fds; at least half
 * the limit when it is tiny); the guest gets the rest, at most 65536. Of
 * that total TCP may hold three quarters, UDP+DNS half, ICMP a sixteenth,
 * guest-initiated vsock a quarter (at most 512, half the device's
 * connection limit, so host clients always find room). Under `ulimit -n
 * 512`: 160 kept, 352 for the guest, TCP 264, UDP 176, ICMP 22, vsock 88. */
#include "base/budget.h"

#include <errno.h>
#include <sys/resource.h>

#include "base/util.h"

static const char *const kind_names[BUDGET_KINDS] = { "tcp", "udp", "icmp", "vsock" };

long budget_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl); /* refused: keep what we have */
	}
	return (long)budget_nofile_now();
}

unsigned long budget_nofile_now(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1ul << 30) ? 1ul << 30
								      : (unsigned long)rl.rlim_cur;
}

void budget_init(struct budget *b, unsigned long nofile)
{
	unsigned long reserve = 96 + nofile / 8, total;

	*b = (struct budget){ 0 };
	if (reserve > nofile / 2 && nofile < 512)
		reserve = nofile / 2;
	total = nofile > reserve ? nofile - reserve : 0;
	total = MIN(total, 65536ul);
	b->nofile = (unsigned)MIN(nofile, 1ul << 30);
	b->reserve = (unsigned)reserve;
	b->total = (unsigned)total;
	b->cap[BUDGET_TCP] = (unsigned)(total * 3 / 4);
	b->cap[BUDGET_UDP] = (unsigned)(total / 2);
	b->cap[BUDGET_ICMP] = (unsigned)MAX(total / 16, MIN(total, 4ul));
	b->cap[BUDGET_VSOCK] = (unsigned)MIN(total / 4, 512ul);
}

bool budget_kind_full(const struct budget *b, enum budget_kind k)
{
	return b->used[k] >= b->cap[k];
}

bool budget_take(struct budget *b, enum budget_kind k)
{
	if (b->used[k] < b->cap[k] && b->used_total < b->total) {
		b->used[k]++;
		b->used_total++;
		return true;
	}
	b->hits[k]++;
	if (!(b->told & (1u << k)) && !b->quiet) {
		b->told |= 1u << k;
		fprintf(stderr,
			"voidbox: the guest reached its %s budget (%u of %u, %u for all kinds, "
			"RLIMIT_NOFILE %u): idle flows are recycled, the rest refused and counted "
			"(--net-stats)\n",
			kind_names[k], b->used[k], b->cap[k], b->total, b->nofile);
	}
	return false;
}

void budget_put(struct budget *b, enum budget_kind k)
{
	if (b->used[k]) {
		b->used[k]--;
		b->used_total--;
	}
}

void budget_refuse(struct budget *b, enum budget_kind k)
{
	b->refused[k]++;
}

const char *budget_kind_name(enum budget_kind k)
{
	return (unsigned)k < BUDGET_KINDS ? kind_names[k] : "?";
}

void budget_print(const struct budget *b, FILE *f, const char *prefix)
{
	fprintf(f, "%sbudget_nofile %u\n%sbudget_reserve %u\n%sbudget_total %u\n", prefix,
		b->nofile, prefix, b->reserve, prefix, b->total);
	for (int k = 0; k < BUDGET_KINDS; k++)
		fprintf(f,
			"%sbudget_%s_cap %u\n%sbudget_%s_used %u\n%sbudget_%s_hits %llu\n"
			"%sbudget_%s_evicted %llu\n%sbudget_%s_refused %llu\n",
			prefix, kind_names[k], b->cap[k], prefix, kind_names[k], b->used[k], prefix,
			kind_names[k], (unsigned long long)b->hits[k], prefix, kind_names[k],
			(unsigned long long)b->evicted[k], prefix, kind_names[k],
			(unsigned long long)b->refused[k]);
}
