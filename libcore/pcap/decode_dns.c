/* DNS messages (RFC 1035) as tcpdump prints them: a query is
 * "ID[+] TYPE? NAME. (LEN)", a response "ID[flags][ rcode] q: TYPE? NAME.
 * AN/NS/AR TYPE DATA, ... (LEN)". Names are decompressed with loop
 * protection: every compression pointer must point before the previous
 * one's target, so a hostile message cannot make the walk revisit bytes;
 * a name longer than 255 bytes or a reserved label type is malformed.
 * Bytes missing from the capture print "[|domain]"; bytes missing from the
 * message itself print "[malformed dns: why]". */
#include "pcap/decode.h"

#include <stdio.h>
#include <string.h>

#define DNS_HDR_LEN 12u
#define DNS_NAME_MAX 255u
/* Text of a name: each byte may become a 4-byte \DDD escape. */
#define DNS_NAME_TEXT (DNS_NAME_MAX * 4 + 2)

enum dns_err { DNS_OK = 0, DNS_TRUNC, DNS_SHORT, DNS_LOOP, DNS_LABEL, DNS_LONG };

struct dns_msg {
	struct cursor c; /* as captured */
	size_t len;        /* the message's length */
};

static const char *dns_err_text(enum dns_err e)
{
	switch (e) {
	case DNS_SHORT: return "runs past the end of the message";
	case DNS_LOOP: return "compression pointer loop";
	case DNS_LABEL: return "reserved label type";
	case DNS_LONG: return "name longer than 255 bytes";
	default: return "?";
	}
}

/* Returns n bytes at off, or NULL with *err telling whether the capture or
 * the message ended first. */
static const uint8_t *dns_get(const struct dns_msg *m, size_t off, size_t n, enum dns_err *err)
{
	const uint8_t *p = cur_peek(&m->c, off, n);

	if (!p || off + n > m->len) {
		*err = off + n > m->len ? DNS_SHORT : DNS_TRUNC;
		return NULL;
	}
	return p;
}

/* Writes the n bytes at p into out as printable text: bytes in special
 * get a backslash, other bytes outside '!'..'~' (' '..'~' with space_ok)
 * become \DDD. outsz must allow 4 bytes per input byte plus one. Returns the
 * length written. */
static size_t dns_escape(char *out, size_t outsz, const uint8_t *p, size_t n, const char *special,
			 int space_ok)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (ch && strchr(special, ch))
			w += (size_t)snprintf(out + w, outsz - w, "\\%c", ch);
		else if ((ch > 0x20 || (space_ok && ch == 0x20)) && ch < 0x7f)
			w += (size_t)snprintf(out + w, outsz - w, "%c", ch);
		else
			w += (size_t)snprintf(out + w, outsz - w, "\\%03u", ch);
	}
	return w;
}

/* Reads the name at *off into out (text with a trailing dot) and moves
 * *off past it. Returns DNS_OK or why not. */
static enum dns_err dns_name(const struct dns_msg *m, size_t *off, char *out, size_t outsz)
{
	size_t pos = *off, floor = *off, wire = 0, n = 0;
	int jumped = 0;
	enum dns_err err = DNS_OK;
	const uint8_t *b;

	out[0] = 0;
	for (;;) {
		if (!(b = dns_get(m, pos, 1, &err)))
			return err;
		if (b[0] == 0) {
			pos++;
			break;
		}
		if ((b[0] & 0xc0) == 0xc0) {
			size_t ptr;

			if (!(b = dns_get(m, pos, 2, &err)))
				return err;
			ptr = (size_t)(b[0] & 0x3f) << 8 | b[1];
			if (ptr >= floor)
				return DNS_LOOP;
			if (!jumped)
				*off = pos + 2;
			jumped = 1;
			floor = pos = ptr;
			continue;
		}
		if (b[0] & 0xc0)
			return DNS_LABEL;
		wire += (size_t)b[0] + 1;
		if (wire + 1 > DNS_NAME_MAX)
			return DNS_LONG;
		const uint8_t *lab = dns_get(m, pos + 1, b[0], &err);
		if (!lab)
			return err;
		n += dns_escape(out + n, outsz - n, lab, b[0], ".\\", 0);
		n += (size_t)snprintf(out + n, outsz - n, ".");
		pos += (size_t)b[0] + 1;
	}
	if (!n)
		snprintf(out, outsz, ".");
	if (!jumped)
		*off = pos;
	return DNS_OK;
}

static const char *dns_type_name(uint16_t t, char *buf, size_t sz)
{
	static const struct { uint16_t t; const char *n; } names[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" },
		{ 13, "HINFO" }, { 15, "MX" }, { 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" },
		{ 35, "NAPTR" }, { 41, "OPT" }, { 43, "DS" }, { 46, "RRSIG" }, { 47, "NSEC" },
		{ 48, "DNSKEY" }, { 64, "SVCB" }, { 65, "HTTPS" }, { 252, "AXFR" },
		{ 255, "ANY" }, { 257, "CAA" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].t == t)
			return names[i].n;
	snprintf(buf, sz, "Type%u", t);
	return buf;
}

/* Prints the error for e, as capture cut or malformed message. */
static void dns_mark(struct pcap_line *l, enum dns_err e)
{
	if (e == DNS_TRUNC)
		pcap_line_add(l, " [|domain]");
	else
		pcap_line_add(l, " [malformed dns: %s]", dns_err_text(e));
}

/* Prints one question " TYPE? NAME" at *off. Returns DNS_OK or why not. */
static enum dns_err dns_question(const struct dns_msg *m, size_t *off, struct pcap_line *l)
{
	char name[DNS_NAME_TEXT], tb[16];
	enum dns_err e = dns_name(m, off, name, sizeof(name));
	const uint8_t *q;

	if (e)
		return e;
	if (!(q = dns_get(m, *off, 4, &e)))
		return e;
	*off += 4;
	pcap_line_add(l, " %s? %s", dns_type_name(ld_be16(q), tb, sizeof(tb)), name);
	return DNS_OK;
}

/* Prints one resource record's type and data at *off. Returns DNS_OK or
 * why not. */
static enum dns_err dns_rr(const struct dns_msg *m, size_t *off, struct pcap_line *l)
{
	char name[DNS_NAME_TEXT], tb[16];
	enum dns_err e = dns_name(m, off, name, sizeof(name));
	const uint8_t *h, *d;
	uint16_t type, rdlen;
	size_t rd, p;

	if (e)
		return e;
	if (!(h = dns_get(m, *off, 10, &e)))
		return e;
	type = ld_be16(h);
	rdlen = ld_be16(h + 8);
	rd = *off + 10;
	if (!(d = dns_get(m, rd, rdlen, &e)))
		return e;
	*off = rd + rdlen;
	pcap_line_add(l, " %s", dns_type_name(type, tb, sizeof(tb)));
	switch (type) {
	case 1:
	case 28:
		if (rdlen != (type == 1 ? 4 : 16)) {
			pcap_line_add(l, " [bad rdata length %u]", rdlen);
			break;
		}
		pcap_line_add(l, " ");
		pcap_line_addr(l, type == 1 ? 4 : 6, d);
		break;
	case 2:
	case 5:
	case 12:
		p = rd;
		if ((e = dns_name(m, &p, name, sizeof(name))))
			return e;
		pcap_line_add(l, " %s", name);
		break;
	case 15:
		p = rd + 2;
		if (rdlen < 3)
			return DNS_SHORT;
		if ((e = dns_name(m, &p, name, sizeof(name))))
			return e;
		pcap_line_add(l, " %s %u", name, ld_be16(d));
		break;
	case 33:
		p = rd + 6;
		if (rdlen < 7)
			return DNS_SHORT;
		if ((e = dns_name(m, &p, name, sizeof(name))))
			return e;
		pcap_line_add(l, " %s:%u %u %u", name, ld_be16(d + 4), ld_be16(d),
			      ld_be16(d + 2));
		break;
	case 16:
		for (size_t i = 0; i < rdlen;) {
			size_t n = d[i];

			if (n > (size_t)rdlen - i - 1)
				return DNS_SHORT;
			char txt[256 * 4 + 1];

			dns_escape(txt, sizeof(txt), d + i + 1, n, "\"\\", 1);
			pcap_line_add(l, " \"%s\"", txt);
			i += n + 1;
		}
		break;
	case 6:
		p = rd;
		if ((e = dns_name(m, &p, name, sizeof(name))))
			return e;
		pcap_line_add(l, " %s", name);
		if ((e = dns_name(m, &p, name, sizeof(name))))
			return e;
		if (!(h = dns_get(m, p, 4, &e)))
			return e;
		pcap_line_add(l, " %s %u", name, ld_be32(h));
		break;
	}
	return DNS_OK;
}

void pcap_decode_dns(struct cursor c, size_t len, struct pcap_line *l)
{
	static const char *const rcodes[] = { "", " FormErr", " ServFail", " NXDomain",
					      " NotImp", " Refused" };
	struct dns_msg m = { c, len };
	const uint8_t *h;
	uint16_t id, fl, qd, an, ns, ar;
	unsigned op, rc;
	size_t off = DNS_HDR_LEN;
	enum dns_err e = DNS_OK;

	if (!(h = dns_get(&m, 0, DNS_HDR_LEN, &e))) {
		if (e == DNS_SHORT)
			pcap_line_add(l, "[malformed dns: %zu-byte message] (%zu)", len, len);
		else
			pcap_line_add(l, "[|domain] (%zu)", len);
		return;
	}
	id = ld_be16(h);
	fl = ld_be16(h + 2);
	qd = ld_be16(h + 4);
	an = ld_be16(h + 6);
	ns = ld_be16(h + 8);
	ar = ld_be16(h + 10);
	op = (fl >> 11) & 0xf;
	rc = fl & 0xf;
	pcap_line_add(l, "%u", id);
	if (op)
		pcap_line_add(l, " op%u", op);
	if (fl & 0x8000) { /* response */
		if (rc < sizeof(rcodes) / sizeof(rcodes[0]))
			pcap_line_add(l, "%s", rcodes[rc]);
		else
			pcap_line_add(l, " Resp%u", rc);
		pcap_line_add(l, "%s%s%s", fl & 0x0400 ? "*" : "", fl & 0x0080 ? "" : "-",
			      fl & 0x0200 ? "|" : "");
		if (qd) {
			pcap_line_add(l, " q:");
			for (unsigned i = 0; i < qd && !e && !l->full; i++)
				e = dns_question(&m, &off, l);
		}
		if (!e)
			pcap_line_add(l, " %u/%u/%u", an, ns, ar);
		for (unsigned i = 0; i < an && !e && !l->full; i++) {
			if (i)
				pcap_line_add(l, ",");
			e = dns_rr(&m, &off, l);
		}
	} else {
		pcap_line_add(l, "%s%s", fl & 0x0100 ? "+" : "", fl & 0x0010 ? "%" : "");
		if (qd != 1)
			pcap_line_add(l, " [%uq]", qd);
		if (an)
			pcap_line_add(l, " [%ua]", an);
		if (ns)
			pcap_line_add(l, " [%un]", ns);
		if (ar)
			pcap_line_add(l, " [%uau]", ar);
		for (unsigned i = 0; i < qd && !e && !l->full; i++)
			e = dns_question(&m, &off, l);
	}
	if (e)
		dns_mark(l, e);
	pcap_line_add(l, " (%zu)", len);
}
