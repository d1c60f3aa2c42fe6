/* Terminal-safe escaping of guest text; see base/termsafe.h. */
#include "base/termsafe.h"

#include <string.h>

static size_t put_hex(char *out, uint8_t b)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[b >> 4];
	out[3] = hex[b & 15];
	return 4;
}

/* Length of the UTF-8 sequence lead byte b announces (2..4), or 0. */
static unsigned utf8_len(uint8_t b)
{
	if (b >= 0xc2 && b <= 0xdf)
		return 2;
	if (b >= 0xe0 && b <= 0xef)
		return 3;
	if (b >= 0xf0 && b <= 0xf4)
		return 4;
	return 0;
}

/* Whether the complete sequence s (len bytes) is well-formed UTF-8 and not
 * a C1 control. */
static bool utf8_ok(const uint8_t *s, unsigned len)
{
	uint32_t cp;

	for (unsigned i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return false;
	if (len == 2)
		cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	else if (len == 3)
		cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	else
		cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
		     (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	if (len == 2)
		return cp >= 0xa0; /* C2 80..C2 9F are the C1 controls */
	if (len == 3)
		return cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
	return cp >= 0x10000 && cp <= 0x10ffff;
}

/* Emits the carried bytes escaped (a sequence that did not complete). */
static size_t flush_carry(struct term_safe *st, char *out)
{
	size_t o = 0;

	for (unsigned i = 0; i < st->ncarry; i++)
		o += put_hex(out + o, st->carry[i]);
	st->ncarry = 0;
	return o;
}

size_t term_safe(struct term_safe *st, const void *in, size_t n, char *out)
{
	const uint8_t *p = in;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];

		if (st->ncarry) { /* inside a UTF-8 sequence */
			unsigned want = utf8_len(st->carry[0]);

			if ((b & 0xc0) == 0x80) {
				st->carry[st->ncarry++] = b;
				if (st->ncarry < want)
					continue;
				if (utf8_ok(st->carry, want)) {
					memcpy(out + o, st->carry, want);
					o += want;
					st->ncarry = 0;
				} else {
					o += flush_carry(st, out + o);
				}
				continue;
			}
			o += flush_carry(st, out + o); /* cut short: b starts afresh */
		}
		if (st->cr) {
			st->cr = false;
			if (b == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				continue;
			}
			o += put_hex(out + o, '\r');
		}
		if (b == '\r') {
			st->cr = true;
		} else if ((b >= 0x20 && b < 0x7f) || b == '\n' || b == '\t') {
			out[o++] = (char)b;
		} else if (utf8_len(b)) {
			st->carry[0] = b;
			st->ncarry = 1;
		} else {
			o += put_hex(out + o, b);
		}
	}
	return o;
}

size_t term_safe_end(struct term_safe *st, char *out)
{
	size_t o = flush_carry(st, out);

	if (st->cr) {
		st->cr = false;
		o += put_hex(out + o, '\r');
	}
	return o;
}

char *term_safe_str(const void *in, size_t n, char *out, size_t cap)
{
	struct term_safe st = { 0 };
	char buf[TERM_SAFE_ROOM(64)];
	const uint8_t *p = in;
	size_t used = 0;

	if (!cap)
		return out;
	for (size_t i = 0; i <= n; i += 64) {
		size_t k = i < n ? term_safe(&st, p + i, n - i < 64 ? n - i : 64, buf) : 0;

		if (i + 64 > n)
			k += term_safe_end(&st, buf + k);
		if (k > cap - 1 - used)
			k = cap - 1 - used;
		memcpy(out + used, buf, k);
		used += k;
	}
	out[used] = 0;
	return out;
}
