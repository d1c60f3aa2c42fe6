/* `voidbox pcap`: reads a pcap capture (a file or - for stdin) and prints
 * one tcpdump-style line per frame, per-flow statistics (--stats), or a
 * copy of the frames that pass the filters (-w). The applet only declares
 * its options (base/opts.h, which also gives --help) and wires libcore's pcap reader, decoder, relative-sequence
 * table, filter, flow table and writer together. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/applet.h"
#include "base/opts.h"
#include "base/util.h"
#include "pcap/decode.h"
#include "pcap/filter.h"
#include "pcap/flows.h"
#include "pcap/reader.h"
#include "pcap/tcpseq.h"
#include "pcap/writer.h"

struct pcap_opts {
	struct pcap_decode_cfg cfg;
	struct pcap_filter filter;
	uint64_t count; /* 0: all */
	bool stats;
	bool absolute;  /* -S */
	const char *time;
	char time_mode; /* time's first letter */
	const char *path;
	const char *write_path; /* -w */
};

static void pcap_opts_init(void *obj)
{
	pcap_decode_cfg_init(&((struct pcap_opts *)obj)->cfg);
}

/* A port number, 0 to 65535. Returns 0 or -EINVAL (why). */
static int port_of(const char *arg, uint16_t *port, char *why, size_t len)
{
	uint64_t v;

	if (parse_uint(arg, 0, 65535, &v)) {
		snprintf(why, len, "expected a number from 0 to 65535");
		return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

static int port_parse(const struct opt *opt, void *obj, const char *arg, char *why, size_t len)
{
	struct pcap_opts *o = obj;

	if (port_of(arg, &o->filter.port, why, len))
		return -EINVAL;
	o->filter.have_port = 1;
	return 0;
}

/* --dns-port N: one more port decoded as DNS (53 is the first). */
static int dns_port_parse(const struct opt *opt, void *obj, const char *arg, char *why, size_t len)
{
	struct pcap_decode_cfg *c = &((struct pcap_opts *)obj)->cfg;

	if (c->n_dns_ports == PCAP_DNS_PORTS_MAX) {
		snprintf(why, len, "more than %u given", PCAP_DNS_PORTS_MAX - 1);
		return -EINVAL;
	}
	if (port_of(arg, &c->dns_ports[c->n_dns_ports], why, len))
		return -EINVAL;
	c->n_dns_ports++;
	return 0;
}

static int proto_parse(const struct opt *opt, void *obj, const char *arg, char *why, size_t len)
{
	if (pcap_filter_add_proto(&((struct pcap_opts *)obj)->filter, arg)) {
		snprintf(why, len, "expected arp, ip, ip6, tcp, udp, icmp or dns");
		return -EINVAL;
	}
	return 0;
}

static int host_parse(const struct opt *opt, void *obj, const char *arg, char *why, size_t len)
{
	if (pcap_filter_set_host(&((struct pcap_opts *)obj)->filter, arg)) {
		snprintf(why, len, "expected an IPv4 or IPv6 address");
		return -EINVAL;
	}
	return 0;
}

#define P(field) OPT_AT(struct pcap_opts, field)
static const struct opt pcap_opt_list[] = {
	{ "count", 'c', OPT_UINT, P(count), .min = 1, .max = UINT64_MAX, .meta = "N",
	  .help = "stop after N matching frames" },
	{ "proto", 0, OPT_CALL, .parse = proto_parse, .flags = OPT_REPEAT, .meta = "NAME",
	  .help = "only arp, ip, ip6, tcp, udp, icmp or dns frames; several allow each" },
	{ "host", 0, OPT_CALL, .parse = host_parse, .meta = "IP",
	  .help = "only frames from or to IP (IPv4 or IPv6; ARP too)" },
	{ "port", 0, OPT_CALL, .parse = port_parse, .meta = "N",
	  .help = "only TCP/UDP frames from or to port N" },
	{ "dns-port", 0, OPT_CALL, .parse = dns_port_parse, .flags = OPT_REPEAT, .meta = "N",
	  .help = "also decode port N as DNS (53 always is; up to 7 more)" },
	{ "stats", 0, OPT_FLAG, P(stats),
	  .help = "per-flow packets, bytes, duration, TCP retransmissions and resets instead of "
		  "frame lines" },
	{ "write", 'w', OPT_STR, P(write_path), .meta = "OUT",
	  .help = "copy the frames that pass the filters to the pcap OUT (- for stdout) instead "
		  "of printing them; after a damaged frame, the frames before it are kept" },
	{ "link", 'e', OPT_FLAG, P(cfg.link), .help = "print MAC addresses and the ethertype" },
	{ "absolute", 'S', OPT_FLAG, P(absolute),
	  .help = "absolute TCP sequence numbers (default: relative to the conversation's first, "
		  "as tcpdump)" },
	{ "time", 0, OPT_WORD, P(time), .words = "local|utc|epoch", .def = "local",
	  .help = "timestamps" },
	{ .kind = OPT_END },
};
#undef P

static const struct opts_table pcap_table = { .init = pcap_opts_init, .opts = pcap_opt_list };

static const struct opts_spec pcap_spec = {
	.applet = "pcap",
	.usage = "[OPTIONS] FILE|-",
	.about = "Prints each frame of a pcap capture on one line, as tcpdump -n -r does, or\n"
		 "per-flow statistics, or copies the frames that pass the filters.\n",
	.footer = "Filters combine with and. Exit status: 0, 1 for an unreadable or corrupt\n"
		  "file (the error names the frame), 2 for bad usage.\n",
	.bad_value_exit = 2,
	.size = sizeof(struct pcap_opts),
	.table = &pcap_table,
};

/* Parses the command line into o. Returns OPTS_GO_ON, or the exit status
 * (0 after --help, 2 after one line). */
static int parse_args(int argc, char **argv, struct pcap_opts *o)
{
	struct opts_result r;
	int rc = opts_parse(&pcap_spec, o, argc, argv, &r);

	if (rc != OPTS_GO_ON)
		return rc;
	if (r.next != argc - 1) {
		vb_err("pcap", 0, r.next == argc ? "no capture file given (FILE or - for stdin)"
						 : "one capture file at a time");
		return 2;
	}
	o->path = argv[r.next];
	o->time_mode = o->time[0];
	if (o->write_path && o->stats && !strcmp(o->write_path, "-")) {
		vb_err("pcap", 0, "--stats and -w - both want stdout");
		return 2;
	}
	return OPTS_GO_ON;
}

/* Opens -w OUT for frames read by r: same resolution and link type, the
 * input's snaplen when it is one the writer can take. Refuses to
 * overwrite the input. Returns 0 or 1 after printing the error. */
static int open_output(struct pcap_writer *w, const struct pcap_reader *r, const char *path,
		       int in_fd)
{
	uint32_t snaplen = r->snaplen && r->snaplen <= PCAP_SNAPLEN_MAX ? r->snaplen : 0;
	struct stat in, out;
	int fd = 1, err;

	if (strcmp(path, "-")) {
		if (!fstat(in_fd, &in) && !stat(path, &out) && in.st_dev == out.st_dev &&
		    in.st_ino == out.st_ino && S_ISREG(in.st_mode)) {
			vb_err("pcap", 0, "%s: -w would overwrite the capture being read", path);
			return 1;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			vb_err("pcap", -errno, "%s", path);
			return 1;
		}
	}
	err = pcap_writer_init_fd_link(w, fd, snaplen, r->nsec ? PCAP_TS_NSEC : PCAP_TS_USEC,
				       r->linktype);
	if (err) {
		vb_err("pcap", err, "%s", path);
		if (fd != 1)
			close(fd);
		return 1;
	}
	w->own_fd = fd != 1;
	return 0;
}

/* Reads every frame from an open reader, printing or accounting those that
 * pass the filter. Returns 0 or 1 after printing the error. */
static int walk(struct pcap_reader *r, const struct pcap_opts *o, struct pcap_flows *fl,
		struct pcap_writer *w)
{
	static struct pcap_line line, ts;
	struct pcap_frame f;
	struct pcap_pkt pkt;
	uint64_t shown = 0;
	int rc = 0;

	while ((!o->count || shown < o->count) && (rc = pcap_reader_next(r, &f)) == 1) {
		pcap_decode(&o->cfg, r->linktype, f.data, f.caplen, f.wirelen, &pkt, &line);
		if (!pcap_filter_match(&o->filter, &pkt))
			continue;
		shown++;
		if (o->stats) {
			if (pcap_flows_add(fl, f.ts_ns, f.wirelen, &pkt)) {
				vb_err("pcap", -ENOMEM, "frame %llu: flow table",
				       (unsigned long long)f.number);
				return 1;
			}
			continue;
		}
		if (w) {
			int err = pcap_writer_write_captured(w, f.ts_ns, f.data, f.caplen, f.wirelen);

			if (err) {
				vb_err("pcap", err, "%s: frame %llu", o->write_path,
				       (unsigned long long)f.number);
				return 1;
			}
			continue;
		}
		pcap_line_reset(&ts);
		pcap_format_time(&ts, f.ts_ns, r->nsec, o->time_mode);
		printf("%s %s\n", ts.buf, line.buf);
	}
	if (o->count && shown >= o->count)
		return 0;
	if (rc < 0) {
		fflush(stdout);
		vb_err("pcap", 0, "%s: %s", o->path, r->err);
		return 1;
	}
	return 0;
}

static int pcap_main(int argc, char **argv)
{
	static char obuf[1 << 16];
	static struct pcap_writer w;
	struct pcap_opts o;
	struct pcap_reader r;
	struct pcap_flows fl;
	struct pcap_tcpseq seqs;
	int fd, rc, err;

	rc = parse_args(argc, argv, &o);
	if (rc != OPTS_GO_ON)
		return rc;
	fd = strcmp(o.path, "-") ? open(o.path, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0) {
		vb_err("pcap", -errno, "%s", o.path);
		return 1;
	}
	err = pcap_reader_open(&r, fd);
	if (err) {
		vb_err("pcap", 0, "%s: %s", o.path, r.err);
		if (fd)
			close(fd);
		return 1;
	}
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	if (o.write_path && open_output(&w, &r, o.write_path, fd)) {
		pcap_reader_close(&r);
		return 1;
	}
	pcap_flows_init(&fl);
	pcap_tcpseq_init(&seqs);
	if (!o.absolute && !o.stats && !o.write_path)
		o.cfg.rel = &seqs;
	rc = walk(&r, &o, &fl, o.write_path ? &w : NULL);
	pcap_tcpseq_free(&seqs);
	if (o.write_path && (err = pcap_writer_close(&w)) && !rc) {
		vb_err("pcap", err, "%s", o.write_path);
		rc = 1;
	}
	if (o.stats && !rc)
		pcap_flows_print(&fl, stdout, r.nsec);
	pcap_flows_free(&fl);
	pcap_reader_close(&r);
	if (fd)
		close(fd);
	if (fflush(stdout) || ferror(stdout)) {
		vb_err("pcap", -EIO, "writing the output");
		return 1;
	}
	return rc;
}

APPLET(pcap, pcap_main, "decode a pcap capture like tcpdump -nr, filter it, count flows");
