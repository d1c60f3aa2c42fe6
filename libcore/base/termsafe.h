/* Terminal-safe text: guest bytes shown on the user's terminal (the serial
 * console with --console, the console kept for a failure report, the
 * agent's error text) must not be able to drive that terminal: set its
 * title, move the cursor, rewrite what was printed, answer back through
 * its input (some terminals report state when asked). Printable ASCII,
 * newline, tab and well-formed UTF-8 pass; "\r\n" passes (the console's
 * line ends); every other control byte (ESC and the rest of C0, DEL, a
 * lone CR), the C1 controls encoded as UTF-8 (U+0080..U+009F: 8-bit CSI
 * and friends) and malformed UTF-8 become visible "\xNN" escapes. A
 * stream may arrive in pieces: the state carries a split UTF-8 sequence or
 * CR to the next piece. */
#ifndef VOIDBOX_TERMSAFE_H
#define VOIDBOX_TERMSAFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room out needs for n input bytes (plus what a state may carry). */
#define TERM_SAFE_ROOM(n) (4 * (n) + 16)

struct term_safe {
	uint8_t carry[4];   /* an incomplete UTF-8 sequence */
	uint8_t ncarry;
	bool cr;            /* the last byte was a CR */
};

/* Escapes n bytes of a stream into out (TERM_SAFE_ROOM(n) bytes). Returns
 * the length written (no NUL). */
size_t term_safe(struct term_safe *st, const void *in, size_t n, char *out);
/* The end of the stream: what the state still holds, escaped, into out
 * (TERM_SAFE_ROOM(0) bytes). Returns the length written. */
size_t term_safe_end(struct term_safe *st, char *out);
/* A whole string of n bytes into out (cap bytes, NUL-terminated, cut
 * short when it does not fit). Returns out. */
char *term_safe_str(const void *in, size_t n, char *out, size_t cap);

#endif
