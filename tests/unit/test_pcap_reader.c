/* Unit tests for pcap/reader: both magics in both byte orders, a round
 * trip through pcap/writer, input that arrives a byte at a time through a
 * pipe, and every kind of bad file (empty, short header, bad magic,
 * pcapng, bad version, cut record header, cut data, caplen beyond the
 * snaplen, the limit or the wire length, bad timestamps), each of which
 * must end in a one-line error naming the frame. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/util.h"
#include "pcap/decode.h"
#include "pcap/reader.h"
#include "pcap/writer.h"
#include "t.h"

struct file {
	uint8_t b[4096];
	size_t len;
	int be;
};

/* Appends v in the file's byte order. */
static void put32(struct file *f, uint32_t v)
{
	(f->be ? st_be32 : st_le32)(f->b + f->len, v);
	f->len += 4;
}

static void put16(struct file *f, uint16_t v)
{
	(f->be ? st_be16 : st_le16)(f->b + f->len, v);
	f->len += 2;
}

static void hdr(struct file *f, int be, uint32_t magic, uint32_t snaplen)
{
	f->len = 0;
	f->be = be;
	put32(f, magic);
	put16(f, 2);
	put16(f, 4);
	put32(f, 0);
	put32(f, 0);
	put32(f, snaplen);
	put32(f, 1);
}

static void rec(struct file *f, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len)
{
	put32(f, sec);
	put32(f, frac);
	put32(f, caplen);
	put32(f, len);
	for (uint32_t i = 0; i < caplen && f->len < sizeof(f->b); i++)
		f->b[f->len++] = (uint8_t)i;
}

static int last_byte; /* the last byte of the last frame read_all() read */

/* Feeds f->b[0..n) to a reader through a pipe, one byte per write when
 * slow is set. Reads every frame; returns the last result (0 at clean end
 * or the error) and the frames read in *frames, error text in err. */
static int read_all(const struct file *f, size_t n, int slow, struct pcap_frame *last,
		    uint64_t *frames, char *err, size_t errsz)
{
	struct pcap_reader r;
	int p[2], rc, status;
	pid_t pid;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		for (size_t i = 0; i < n; i += slow ? 1 : n)
			if (write_full(p[1], f->b + i, slow ? 1 : n - i))
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	*frames = 0;
	rc = pcap_reader_open(&r, p[0]);
	while (rc >= 0 && (rc = pcap_reader_next(&r, last)) == 1) {
		(*frames)++;
		last_byte = last->caplen ? last->data[last->caplen - 1] : -1;
	}
	last->data = NULL; /* freed below */
	snprintf(err, errsz, "%s", rc ? r.err : "");
	pcap_reader_close(&r);
	close(p[0]);
	waitpid(pid, &status, 0);
	return rc;
}

static void test_reader_magics(void)
{
	static const uint32_t magics[] = { PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC };
	static struct file f;
	struct pcap_frame fr;
	uint64_t n;
	char err[200];

	for (int be = 0; be < 2; be++) {
		for (int m = 0; m < 2; m++) {
			hdr(&f, be, magics[m], 65535);
			rec(&f, 1700000000, 999999, 60, 60);
			rec(&f, 1700000001, 123456, 100, 1500);
			T_CHECK(read_all(&f, f.len, be, &fr, &n, err, sizeof(err)) == 0 && n == 2,
				"be %d nsec %d: %llu frames, %.100s", be, m, (unsigned long long)n, err);
			T_CHECK(fr.number == 2 && fr.caplen == 100 && fr.wirelen == 1500, "lens");
			T_CHECK(fr.ts_ns == 1700000001000000000ull + (m ? 123456u : 123456000u),
				"be %d nsec %d: ts %llu", be, m, (unsigned long long)fr.ts_ns);
			T_CHECK(last_byte == 99, "data");
		}
	}
}

static void test_reader_roundtrip(void)
{
	static struct pcap_writer w;
	static uint8_t frame[3000];
	struct pcap_reader r;
	struct pcap_frame fr;
	char path[] = "/tmp/vb-pcap-rt.XXXXXX";
	int fd = mkstemp(path), i;

	T_REQUIRE(fd >= 0, "mkstemp");
	T_REQUIRE(pcap_writer_init_fd(&w, fd, 2000, PCAP_TS_NSEC) == 0, "writer");
	for (i = 0; i < 100; i++) {
		frame[0] = (uint8_t)i;
		T_REQUIRE(pcap_writer_write(&w, 1000000000ull * i + (uint64_t)i, frame,
					    (size_t)(i * 29)) == 0, "write");
	}
	T_REQUIRE(pcap_writer_close(&w) == 0, "close");
	T_REQUIRE(lseek(fd, 0, SEEK_SET) == 0, "seek");
	T_REQUIRE(pcap_reader_open(&r, fd) == 0, "open: %s", r.err);
	T_CHECK(r.nsec && r.snaplen == 2000 && r.linktype == 1, "header");
	for (i = 0; pcap_reader_next(&r, &fr) == 1; i++) {
		T_CHECK(fr.wirelen == (uint32_t)(i * 29) && fr.caplen == MIN(fr.wirelen, 2000u),
			"frame %d lens %u %u", i, fr.caplen, fr.wirelen);
		T_CHECK(fr.ts_ns == 1000000000ull * i + (uint64_t)i, "frame %d ts", i);
		T_CHECK(!fr.caplen || fr.data[0] == (uint8_t)i, "frame %d data", i);
	}
	T_CHECK(i == 100, "read %d frames", i);
	pcap_reader_close(&r);
	close(fd);
	unlink(path);
}

/* Expects the file to fail with an error containing want after frames
 * good frames. */
static void expect_err(const struct file *f, size_t n, uint64_t frames, const char *want)
{
	struct pcap_frame fr;
	uint64_t got;
	char err[200];
	int rc = read_all(f, n, 0, &fr, &got, err, sizeof(err));

	T_CHECK(rc == -EINVAL && got == frames && strstr(err, want) && !strchr(err, '\n'),
		"want '%s' after %llu frames, got rc %d after %llu: '%.100s'", want,
		(unsigned long long)frames, rc, (unsigned long long)got, err);
}

static void test_reader_errors(void)
{
	static struct file f;

	f.len = 0;
	expect_err(&f, 0, 0, "empty file");
	hdr(&f, 0, PCAP_MAGIC_USEC, 65535);
	expect_err(&f, 10, 0, "truncated file header: 10 of 24 bytes");
	expect_err(&f, 2, 0, "truncated file header: 2 of 24 bytes");
	f.b[0] = 0x42;
	expect_err(&f, f.len, 0, "bad magic 0x42c3b2a1");
	hdr(&f, 1, 0x0a0d0d0a, 65535);
	expect_err(&f, f.len, 0, "pcapng");
	hdr(&f, 0, PCAP_MAGIC_USEC, 65535);
	f.b[4] = 3;
	expect_err(&f, f.len, 0, "unsupported pcap version 3.4");

	hdr(&f, 1, PCAP_MAGIC_USEC, 65535);
	rec(&f, 1, 2, 40, 40);
	rec(&f, 1, 3, 40, 40);
	expect_err(&f, f.len - 1, 1, "frame 2: truncated: caplen 40 but only 39 bytes left");
	expect_err(&f, f.len - 50, 1, "frame 2: truncated record header: 6 of 16 bytes");
	rec(&f, 1, 4, 0, 0); /* a zero-length frame is legal */
	rec(&f, 1, 5, 100, 60);
	expect_err(&f, f.len, 3, "frame 4: caplen 100 exceeds the wire length 60");

	hdr(&f, 0, PCAP_MAGIC_USEC, 64);
	rec(&f, 1, 2, 64, 64);
	rec(&f, 1, 2, 65, 65);
	expect_err(&f, f.len, 1, "frame 2: caplen 65 exceeds the file's snaplen 64");
	hdr(&f, 0, PCAP_MAGIC_USEC, 0);
	rec(&f, 1, 2, 0xffffffffu, 0xffffffffu);
	expect_err(&f, f.len, 0, "frame 1: caplen 4294967295 exceeds the 262144-byte limit");
	hdr(&f, 0, PCAP_MAGIC_USEC, 0);
	rec(&f, 1, 1000000, 1, 1);
	expect_err(&f, f.len, 0, "frame 1: timestamp fraction 1000000 out of range");
	hdr(&f, 0, PCAP_MAGIC_NSEC, 0);
	rec(&f, 1, 999999999, 1, 1);
	rec(&f, 1, 1000000000, 1, 1);
	expect_err(&f, f.len, 1, "frame 2: timestamp fraction 1000000000 out of range");
}

/* A refused header leaves nothing to free: the reader's buffer is gone
 * without pcap_reader_close (LeakSanitizer would also see it at exit). */
static void test_reader_open_frees(void)
{
	static const uint8_t junk[24] = { 'n', 'o', 't', ' ', 'p', 'c', 'a', 'p' };
	struct pcap_reader r;
	int fd = memfd_create("junk", MFD_CLOEXEC);

	T_REQUIRE(fd >= 0 && write(fd, junk, sizeof(junk)) == sizeof(junk) &&
		  lseek(fd, 0, SEEK_SET) == 0, "memfd");
	T_CHECK(pcap_reader_open(&r, fd) == -EINVAL && strstr(r.err, "bad magic"), "open: '%s'", r.err);
	T_CHECK(r.buf == NULL, "a refused open kept its buffer");
	close(fd);
}

/* Damaged files through reader and decoder under ASan: random bytes
 * changed (record headers included) and random cuts. Every run must end
 * cleanly or with a one-line error. */
static void test_reader_fuzz(void)
{
	static struct file f;
	static struct pcap_line line;
	static uint8_t buf[sizeof(f.b)];
	struct pcap_decode_cfg cfg;
	struct pcap_reader r;
	struct pcap_frame fr;
	struct pcap_pkt pkt;
	uint64_t x = 88172645463325252ull;
	int fd = memfd_create("vb-pcap-fuzz", MFD_CLOEXEC), rc = 0;

	T_REQUIRE(fd >= 0, "memfd_create");
	pcap_decode_cfg_init(&cfg);
	hdr(&f, 0, PCAP_MAGIC_USEC, 2000);
	for (int i = 0; i < 12; i++) {
		size_t at = f.len + 16;

		rec(&f, 1, (uint32_t)i, 60 + (uint32_t)i * 17, 60 + (uint32_t)i * 17);
		memcpy(f.b + at, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00\x45\0\0\x40", 18);
		f.b[at + 23] = i % 3 ? 6 : 17;
	}
	for (int it = 0; it < 5000; it++) {
		size_t n = f.len;

		memcpy(buf, f.b, n);
		for (int k = 0, flips = 1 + it % 6; k < flips; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[x % n] = (uint8_t)(x >> 32);
		}
		if (it % 3 == 0)
			n = (x >> 20) % (n + 1);
		T_REQUIRE(ftruncate(fd, 0) == 0 && pwrite(fd, buf, n, 0) == (ssize_t)n &&
			  lseek(fd, 0, SEEK_SET) == 0, "memfd");
		rc = pcap_reader_open(&r, fd);
		while (rc == 0 && (rc = pcap_reader_next(&r, &fr)) == 1) {
			pcap_decode(&cfg, r.linktype, fr.data, fr.caplen, fr.wirelen, &pkt, &line);
			rc = 0;
		}
		T_CHECK(rc == 0 || (rc == -EINVAL && r.err[0] && !strchr(r.err, '\n')),
			"iteration %d: rc %d '%.100s'", it, rc, r.err);
		pcap_reader_close(&r);
	}
	close(fd);
}

int main(void)
{
	T_RUN(test_reader_magics);
	T_RUN(test_reader_roundtrip);
	T_RUN(test_reader_errors);
	T_RUN(test_reader_open_frees);
	T_RUN(test_reader_fuzz);
	T_EXIT();
}
