/* SipHash-1-3; see base/siphash.h. Written from the SipHash paper's
 * description (little-endian words, the "somepseudorandomlygeneratedbytes"
 * initialisation constants, length in the last block's top byte). */
#include "base/siphash.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "base/util.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

/* A little-endian 64-bit load of up to 8 bytes. */
static uint64_t le_load(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* SipHash-c-d: c compression rounds per block, d finalisation rounds. */
static uint64_t sip_hash(const struct siphash_key *k, const void *data, size_t len, int c, int d)
{
	const uint8_t *p = data;
	struct sip s = {
		k->k0 ^ 0x736f6d6570736575ULL, k->k1 ^ 0x646f72616e646f6dULL,
		k->k0 ^ 0x6c7967656e657261ULL, k->k1 ^ 0x7465646279746573ULL,
	};
	size_t full = len & ~(size_t)7;
	uint64_t m;

	for (size_t i = 0; i < full; i += 8) {
		m = le_load(p + i, 8);
		s.v3 ^= m;
		for (int r = 0; r < c; r++)
			sip_round(&s);
		s.v0 ^= m;
	}
	m = le_load(p + full, len - full) | (uint64_t)(len & 0xff) << 56;
	s.v3 ^= m;
	for (int r = 0; r < c; r++)
		sip_round(&s);
	s.v0 ^= m;
	s.v2 ^= 0xff;
	for (int r = 0; r < d; r++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t siphash13(const struct siphash_key *k, const void *data, size_t len)
{
	return sip_hash(k, data, len, 1, 3);
}

uint64_t siphash24(const struct siphash_key *k, const void *data, size_t len)
{
	return sip_hash(k, data, len, 2, 4);
}

int siphash_key_random(struct siphash_key *k)
{
	ssize_t n = getrandom(k, sizeof(*k), GRND_NONBLOCK);
	uint64_t t;

	if (n == (ssize_t)sizeof(*k))
		return 0;
	t = now_ns();
	k->k0 = t * 0x9e3779b97f4a7c15ULL;
	k->k1 = (uintptr_t)k ^ (t >> 17);
	return n < 0 ? -errno : -EIO;
}
