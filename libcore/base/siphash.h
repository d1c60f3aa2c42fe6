/* SipHash-1-3 (Aumasson and Bernstein): a keyed 64-bit hash for tables whose
 * keys a guest chooses (SLIRP's flow table). With a random key per run a
 * guest cannot compute colliding keys, so every bucket stays short whatever
 * it sends. One compression round per 8-byte block and three finalisation
 * rounds: the reduced-round variant hash tables use (Linux's hsiphash,
 * Rust's HashMap). */
#ifndef VOIDBOX_SIPHASH_H
#define VOIDBOX_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;
};

/* Fills k from getrandom(). Returns 0, or -errno when the kernel gave no
 * randomness (k then holds a clock-derived key: weaker, still per run). */
int siphash_key_random(struct siphash_key *k);
/* SipHash-1-3 of len bytes at p under key k. */
uint64_t siphash13(const struct siphash_key *k, const void *p, size_t len);
/* SipHash-2-4, the paper's variant (its published test vectors check the
 * shared code). */
uint64_t siphash24(const struct siphash_key *k, const void *p, size_t len);

#endif
