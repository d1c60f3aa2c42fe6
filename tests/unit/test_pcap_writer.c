/* Unit tests for pcap/writer: the bytes it writes (headers, timestamps in
 * both resolutions, snaplen cuts, frames larger than its buffer, iovecs),
 * its error handling (bad arguments, ENOSPC, a broken pipe), and that
 * capinfos and tshark read its files without a warning and see the same
 * lengths and timestamps. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/util.h"
#include "pcap/writer.h"
#include "t.h"

static char dir[64];

/* A plausible Ethernet+IPv4+UDP frame of len bytes (len >= 42). */
static void make_frame(uint8_t *f, size_t len, uint8_t seed)
{
	static const uint8_t hdr[] = {
		0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0,
		198, 51, 100, 1, 198, 51, 100, 2,
		0x30, 0x39, 0xa4, 0x11, 0, 0, 0, 0,
	};
	memcpy(f, hdr, sizeof(hdr));
	st_be16(f + 16, (uint16_t)(len - 14)); /* IP total length */
	st_be16(f + 38, (uint16_t)(len - 34)); /* UDP length */
	for (size_t i = sizeof(hdr); i < len; i++)
		f[i] = (uint8_t)(seed + i);
}

/* Runs cmd (stderr to a file), returns its stdout in out and its stderr
 * with tshark's "Running as user root" notice removed in err. Returns the
 * exit status. */
static int run_tool(const char *cmd, char *out, size_t outsz, char *err, size_t errsz)
{
	char full[1024], errpath[128], line[512];
	size_t n = 0;
	FILE *p;
	int rc;

	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	snprintf(full, sizeof(full), "%s 2>%s", cmd, errpath);
	p = popen(full, "r");
	if (!p)
		return -1;
	n = fread(out, 1, outsz - 1, p);
	out[n] = 0;
	rc = pclose(p);
	err[0] = 0;
	p = fopen(errpath, "r");
	if (p) {
		while (fgets(line, sizeof(line), p))
			if (!strstr(line, "Running as user") && strlen(err) + strlen(line) < errsz)
				strcat(err, line);
		fclose(p);
	}
	return rc;
}

static void test_writer_bytes_usec(void)
{
	char path[128];
	static struct pcap_writer w;
	static uint8_t f[3000];
	uint8_t *d;
	size_t len;

	snprintf(path, sizeof(path), "%s/usec.pcap", dir);
	T_REQUIRE(pcap_writer_open(&w, path, 1000, PCAP_TS_USEC) == 0, "open");
	make_frame(f, 60, 1);
	T_CHECK(pcap_writer_write(&w, 1700000000123456789ull, f, 60) == 0, "write 60");
	make_frame(f, 2500, 2);
	T_CHECK(pcap_writer_write(&w, 1700000001000000999ull, f, 2500) == 0, "write 2500");
	T_CHECK(w.frames == 2 && w.truncated == 1 && w.bytes == 1060, "counters %llu %llu %llu",
		(unsigned long long)w.frames, (unsigned long long)w.truncated,
		(unsigned long long)w.bytes);
	T_REQUIRE(pcap_writer_close(&w) == 0, "close");
	T_REQUIRE(read_file(path, 1 << 20, &d, &len) == 0, "read back");
	T_CHECK(len == 24 + 16 + 60 + 16 + 1000, "file size %zu", len);
	if (len >= 24 + 16 + 60 + 16 + 1000) {
		T_CHECK(ld_le32(d) == PCAP_MAGIC_USEC, "magic");
		T_CHECK(d[4] == 2 && d[6] == 4, "version");
		T_CHECK(ld_le32(d + 16) == 1000 && ld_le32(d + 20) == 1, "snaplen/linktype");
		T_CHECK(ld_le32(d + 24) == 1700000000 && ld_le32(d + 28) == 123456, "ts usec");
		T_CHECK(ld_le32(d + 32) == 60 && ld_le32(d + 36) == 60, "lens");
		T_CHECK(!memcmp(d + 40, "\x02\0\0\0\0\x02", 6), "frame bytes");
		T_CHECK(ld_le32(d + 100) == 1700000001 && ld_le32(d + 104) == 0, "ts 2");
		T_CHECK(ld_le32(d + 108) == 1000 && ld_le32(d + 112) == 2500, "cut lens");
		T_CHECK(!memcmp(d + 116, f, 1000), "cut frame bytes");
	}
	free(d);
}

static void test_writer_iov_nsec_big(void)
{
	char path[128];
	static struct pcap_writer w;
	static uint8_t f[200000];
	struct iovec iov[3];
	uint8_t *d;
	size_t len;

	snprintf(path, sizeof(path), "%s/nsec.pcap", dir);
	T_REQUIRE(pcap_writer_open(&w, path, 0, PCAP_TS_NSEC) == 0, "open");
	T_CHECK(w.snaplen == PCAP_SNAPLEN_DEFAULT, "default snaplen");
	make_frame(f, sizeof(f), 3);
	/* One frame in three pieces, bigger than the writer's buffer. */
	iov[0] = (struct iovec){ f, 10 };
	iov[1] = (struct iovec){ f + 10, 100000 };
	iov[2] = (struct iovec){ f + 100010, sizeof(f) - 100010 };
	T_CHECK(pcap_writer_writev(&w, 5000000001ull, iov, 3) == 0, "writev");
	T_CHECK(pcap_writer_write(&w, 5000000002ull, f, 42) == 0, "small");
	T_REQUIRE(pcap_writer_close(&w) == 0, "close");
	T_REQUIRE(read_file(path, 1 << 20, &d, &len) == 0, "read back");
	T_REQUIRE(len == 24 + 16 + sizeof(f) + 16 + 42, "file size %zu", len);
	T_CHECK(ld_le32(d) == PCAP_MAGIC_NSEC, "magic");
	T_CHECK(ld_le32(d + 24) == 5 && ld_le32(d + 28) == 1, "ts nsec");
	T_CHECK(ld_le32(d + 32) == sizeof(f) && ld_le32(d + 36) == sizeof(f), "big lens");
	T_CHECK(!memcmp(d + 40, f, sizeof(f)), "big bytes");
	T_CHECK(ld_le32(d + 40 + sizeof(f) + 4) == 2, "ts 2 nsec");
	free(d);
}

static void test_writer_captured_link(void)
{
	char path[128];
	static struct pcap_writer w;
	uint8_t f[100] = { 0x45 }, *d;
	size_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/sll.pcap", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	T_REQUIRE(fd >= 0, "open");
	T_REQUIRE(pcap_writer_init_fd_link(&w, fd, 64, PCAP_TS_USEC, 113) == 0, "init");
	T_CHECK(pcap_writer_write_captured(&w, 7000001000ull, f, 40, 1500) == 0, "cut frame");
	T_CHECK(pcap_writer_write_captured(&w, 7000002000ull, f, 0, 0) == 0, "empty frame");
	T_CHECK(pcap_writer_write_captured(&w, 7000003000ull, f, 100, 100) == 0, "over snaplen");
	T_CHECK(pcap_writer_write_captured(&w, 7000004000ull, f, 50, 49) == -EINVAL, "wire < cap");
	T_CHECK(w.frames == 3 && w.truncated == 1, "counters");
	T_REQUIRE(pcap_writer_close(&w) == 0, "close");
	close(fd);
	T_REQUIRE(read_file(path, 1 << 20, &d, &len) == 0, "read back");
	T_REQUIRE(len == 24 + 16 + 40 + 16 + 16 + 64, "file size %zu", len);
	T_CHECK(ld_le32(d + 16) == 64 && ld_le32(d + 20) == 113, "snaplen/linktype");
	T_CHECK(ld_le32(d + 32) == 40 && ld_le32(d + 36) == 1500, "cut lens");
	T_CHECK(ld_le32(d + 80 + 8) == 0 && ld_le32(d + 80 + 12) == 0, "empty lens");
	T_CHECK(ld_le32(d + 96 + 8) == 64 && ld_le32(d + 96 + 12) == 100, "snaplen cut lens");
	free(d);
}

static void test_writer_errors(void)
{
	static struct pcap_writer w;
	uint8_t f[64];
	int p[2], fd;

	T_CHECK(pcap_writer_open(&w, "/nonexistent-dir/x.pcap", 0, PCAP_TS_USEC) == -ENOENT,
		"missing dir");
	T_CHECK(pcap_writer_init_fd(&w, 1, PCAP_SNAPLEN_MAX + 1, PCAP_TS_USEC) == -EINVAL,
		"snaplen too big");
	T_CHECK(pcap_writer_init_fd(&w, 1, 100, (enum pcap_tsres)7) == -EINVAL, "resolution");
	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		T_CHECK(pcap_writer_init_fd(&w, fd, 0, PCAP_TS_USEC) == -ENOSPC, "ENOSPC header");
		close(fd);
	}
	/* A reader that goes away: the error is sticky, later frames count. */
	signal(SIGPIPE, SIG_IGN);
	T_REQUIRE(pipe(p) == 0, "pipe");
	T_REQUIRE(pcap_writer_init_fd(&w, p[1], 0, PCAP_TS_USEC) == 0, "init on pipe");
	close(p[0]);
	make_frame(f, sizeof(f), 4);
	T_CHECK(pcap_writer_write(&w, 1, f, sizeof(f)) == 0, "buffered frame");
	T_CHECK(pcap_writer_flush(&w) == -EPIPE, "flush to closed pipe");
	T_CHECK(pcap_writer_write(&w, 2, f, sizeof(f)) == -EPIPE, "sticky");
	T_CHECK(w.dropped == 1 && w.frames == 1, "dropped %llu", (unsigned long long)w.dropped);
	T_CHECK(pcap_writer_close(&w) == -EPIPE, "close reports error");
	close(p[1]);
}

/* Writes a capture with many frames and checks that capinfos and tshark
 * accept it without a word on stderr and agree on count, lengths, times. */
static void check_tools(enum pcap_tsres res, const char *name)
{
	char path[128], cmd[512], out[8192], err[2048];
	static struct pcap_writer w;
	static uint8_t f[1600];
	int rc;

	if (system("command -v capinfos >/dev/null && command -v tshark >/dev/null") != 0)
		T_SKIP("capinfos or tshark not installed (run make deps)");
	snprintf(path, sizeof(path), "%s/%s.pcap", dir, name);
	T_REQUIRE(pcap_writer_open(&w, path, 1500, res) == 0, "open");
	for (int i = 0; i < 50; i++) {
		size_t len = 42 + (size_t)i * 31;

		make_frame(f, len, (uint8_t)i);
		T_REQUIRE(pcap_writer_write(&w, 1700000000000000000ull + (uint64_t)i * 1000123457ull,
					    f, len) == 0, "write %d", i);
	}
	T_REQUIRE(pcap_writer_close(&w) == 0, "close");

	snprintf(cmd, sizeof(cmd), "capinfos -c -l -s %s", path);
	rc = run_tool(cmd, out, sizeof(out), err, sizeof(err));
	T_CHECK(rc == 0 && !err[0], "capinfos rc %d: %.200s", rc, err);
	T_CHECK(strstr(out, "Number of packets:") && strstr(out, " 50"), "capinfos count: %.200s", out);
	T_CHECK(strstr(out, "Packet size limit:") && strstr(out, "1500 bytes"), "snaplen: %.200s", out);

	snprintf(cmd, sizeof(cmd),
		 "tshark -n -r %s -T fields -e frame.len -e frame.cap_len -e frame.time_epoch "
		 "-e udp.dstport -e _ws.expert.severity",
		 path);
	rc = run_tool(cmd, out, sizeof(out), err, sizeof(err));
	T_REQUIRE(rc == 0 && !err[0], "tshark rc %d: %.200s", rc, err);
	{
		char *line = out, *nl;
		int i = 0;

		for (; (nl = strchr(line, '\n')); line = nl + 1, i++) {
			unsigned len, cap, port;
			unsigned long long sec, frac;
			size_t want = 42 + (size_t)i * 31;
			uint64_t ts = 1700000000000000000ull + (uint64_t)i * 1000123457ull;
			uint64_t want_frac = res == PCAP_TS_USEC ? ts % 1000000000u / 1000u * 1000u
								 : ts % 1000000000u;
			char rest[64] = "";

			*nl = 0;
			T_REQUIRE(sscanf(line, "%u\t%u\t%llu.%llu\t%u\t%63s", &len, &cap, &sec, &frac,
					 &port, rest) >= 5, "tshark line %d: %.200s", i, line);
			T_CHECK(len == want && cap == MIN(want, 1500u), "frame %d lens %u %u", i, len, cap);
			T_CHECK(sec == ts / 1000000000u && frac == want_frac, "frame %d time %llu.%llu",
				i, sec, frac);
			T_CHECK(port == 42001, "frame %d port %u", i, port);
			T_CHECK(!rest[0], "frame %d expert info: %.60s", i, rest);
		}
		T_CHECK(i == 50, "tshark saw %d frames", i);
	}
}

static void test_writer_tools_usec(void)
{
	check_tools(PCAP_TS_USEC, "tools-usec");
}

static void test_writer_tools_nsec(void)
{
	check_tools(PCAP_TS_NSEC, "tools-nsec");
}

int main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/vb-pcap-unit.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_writer_bytes_usec);
	T_RUN(test_writer_iov_nsec_big);
	T_RUN(test_writer_captured_link);
	T_RUN(test_writer_errors);
	T_RUN(test_writer_tools_usec);
	T_RUN(test_writer_tools_nsec);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	T_EXIT();
}
