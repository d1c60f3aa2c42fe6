/* The per-guest resource budget: how many host file descriptors the guest's
 * own activity may make voidbox hold. Every UDP, DNS and ICMP flow, TCP
 * connection and guest-initiated vsock connection holds one host fd; left
 * alone a guest could open them until the process hits RLIMIT_NOFILE, and
 * then the control channel, the vsock device and the -p listeners could no
 * longer accept anything. So one budget is cut from RLIMIT_NOFILE when the
 * VM is set up (budget_raise_nofile() first lifts the soft limit to the
 * hard one): a reserve stays with voidbox itself (its own fds, control
 * clients, listeners, KVM's per-vCPU fds), the rest is the guest's, with a
 * cap per kind below that total so one kind cannot starve the others.
 * Callers take a slot before opening an fd for the guest and put it back
 * when the fd closes. When a take fails, SLIRP recycles its least recently
 * used UDP/ICMP flow (see slirp/flow.c); what still cannot be had is
 * refused and counted. The first time each kind hits its cap one line goes
 * to stderr. One thread uses a budget (the device loop's): no locking. */
#ifndef VOIDBOX_BUDGET_H
#define VOIDBOX_BUDGET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum budget_kind {
	BUDGET_TCP,    /* SLIRP TCP connections (guest's and forwarded) */
	BUDGET_UDP,    /* SLIRP UDP flows and DNS client ports */
	BUDGET_ICMP,   /* SLIRP ICMP echo sockets */
	BUDGET_VSOCK,  /* vsock connections the guest opens to the host */
	BUDGET_KINDS
};

struct budget {
	unsigned nofile;                 /* the RLIMIT_NOFILE it was cut from */
	unsigned reserve;                /* fds kept for voidbox itself */
	unsigned total;                  /* fds the guest's activity may hold */
	unsigned cap[BUDGET_KINDS];      /* per kind, each below total */
	unsigned used[BUDGET_KINDS], used_total;
	uint64_t hits[BUDGET_KINDS];     /* takes that found the cap reached */
	uint64_t evicted[BUDGET_KINDS];  /* idle flows recycled to make room */
	uint64_t refused[BUDGET_KINDS];  /* what could not be had: dropped */
	unsigned told;                   /* kinds whose stderr line is out */
	bool quiet;                      /* no stderr line (tests) */
};

/* Raises the soft RLIMIT_NOFILE to the hard limit. Returns the soft limit
 * now in force (also when raising was not allowed), or -errno. */
long budget_raise_nofile(void);
/* The soft RLIMIT_NOFILE in force now (1024 when unknown). */
unsigned long budget_nofile_now(void);
/* Cuts a budget from nofile descriptors (see the numbers in budget.c). */
void budget_init(struct budget *b, unsigned long nofile);
/* Takes one slot of kind k. Returns true, or false (counted as a hit, the
 * first per kind with one stderr line) when the kind or the total is full. */
bool budget_take(struct budget *b, enum budget_kind k);
/* Whether kind k's own cap (not the total) is what is full. */
bool budget_kind_full(const struct budget *b, enum budget_kind k);
/* Gives back a slot of kind k. */
void budget_put(struct budget *b, enum budget_kind k);
/* Counts a refusal of kind k (no slot could be had). */
void budget_refuse(struct budget *b, enum budget_kind k);
/* The kind's name: "tcp", "udp", "icmp", "vsock". */
const char *budget_kind_name(enum budget_kind k);
/* Prints "PREFIXbudget_... N" lines: limits, use and every counter. */
void budget_print(const struct budget *b, FILE *f, const char *prefix);

#endif
