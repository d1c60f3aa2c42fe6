/* `voidbox pcap`: reads a pcap capture (a file or - for stdin) and prints
 * one tcpdump-style line per frame, per-flow statistics (--stats), or a
 * copy of the frames that pass the filters (-w). The applet only parses
 * options and wires libcore's pcap reader, decoder, relative-sequence
 * table, filter, flow table and writer together. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/applet.h"
#include "base/util.h"
#include "pcap/decode.h"
#include "pcap/filter.h"
#include "pcap/flows.h"
#include "pcap/reader.h"
#include "pcap/tcpseq.h"
#include "pcap/writer.h"

#define PCAP_USAGE                                                                      \
	"usage: voidbox pcap [OPTIONS] FILE|-\n"                                        \
	"Prints each frame of a pcap capture on one line, as tcpdump -n -r does, or\n"  \
	"per-flow statistics, or copies the frames that pass the filters.\n\n"          \
	"  -c, --count N       stop after N matching frames\n"                          \
	"      --proto NAME    only arp, ip, ip6, tcp, udp, icmp or dns frames\n"       \
	"                      (repeat to allow several)\n"                             \
	"      --host IP       only frames from or to IP (IPv4 or IPv6; ARP too)\n"     \
	"      --port N        only TCP/UDP frames from or to port N\n"                 \
	"      --dns-port N    also decode port N as DNS (53 always is; up to 7 more)\n" \
	"      --stats         per-flow packets, bytes, duration, TCP retransmissions\n" \
	"                      and resets instead of frame lines\n"                     \
	"  -w, --write OUT     copy the frames that pass the filters to the pcap OUT\n" \
	"                      (- for stdout) instead of printing them; after a\n"     \
	"                      damaged frame, the frames before it are kept\n"         \
	"  -e, --link          print MAC addresses and the ethertype\n"                 \
	"  -S, --absolute      absolute TCP sequence numbers (default: relative to\n"  \
	"                      the conversation's first, as tcpdump)\n"              \
	"      --time FMT      timestamps: local (default), utc or epoch\n"             \
	"  -h, --help          this text\n"                                             \
	"Filters combine with and. Exit status: 0, 1 for an unreadable or corrupt\n"     \
	"file (the error names the frame), 2 for bad usage.\n"

enum { OPT_PROTO = 256, OPT_HOST, OPT_PORT, OPT_DNS_PORT, OPT_STATS, OPT_TIME };

struct pcap_opts {
	struct pcap_decode_cfg cfg;
	struct pcap_filter filter;
	uint64_t count; /* 0: all */
	int stats;
	int absolute;   /* -S */
	char time_mode;
	const char *path;
	const char *write_path; /* -w */
};

/* Parses the command line into o. Returns 0, 1 after --help, or 2. */
static int parse_args(int argc, char **argv, struct pcap_opts *o)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "proto", required_argument, NULL, OPT_PROTO },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "dns-port", required_argument, NULL, OPT_DNS_PORT },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "link", no_argument, NULL, 'e' },
		{ "absolute", no_argument, NULL, 'S' },
		{ "time", required_argument, NULL, OPT_TIME },
		{ "write", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	pcap_decode_cfg_init(&o->cfg);
	o->time_mode = 'l';
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:ehSw:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_uint(optarg, 1, UINT64_MAX, &o->count)) {
				vb_err("pcap", 0, "bad --count '%s': want a number from 1", optarg);
				return 2;
			}
			break;
		case OPT_PROTO:
			if (pcap_filter_add_proto(&o->filter, optarg)) {
				vb_err("pcap", 0, "bad --proto '%s': want arp, ip, ip6, tcp, udp, icmp or dns",
				       optarg);
				return 2;
			}
			break;
		case OPT_HOST:
			if (pcap_filter_set_host(&o->filter, optarg)) {
				vb_err("pcap", 0, "bad --host '%s': want an IPv4 or IPv6 address", optarg);
				return 2;
			}
			break;
		case OPT_PORT:
		case OPT_DNS_PORT:
			if (parse_uint(optarg, 0, 65535, &v)) {
				vb_err("pcap", 0, "bad port '%s': want 0-65535", optarg);
				return 2;
			}
			if (c == OPT_PORT) {
				o->filter.have_port = 1;
				o->filter.port = (uint16_t)v;
			} else if (o->cfg.n_dns_ports == PCAP_DNS_PORTS_MAX) {
				vb_err("pcap", 0, "too many --dns-port (at most %u)", PCAP_DNS_PORTS_MAX - 1);
				return 2;
			} else {
				o->cfg.dns_ports[o->cfg.n_dns_ports++] = (uint16_t)v;
			}
			break;
		case OPT_STATS:
			o->stats = 1;
			break;
		case 'e':
			o->cfg.link = 1;
			break;
		case 'S':
			o->absolute = 1;
			break;
		case OPT_TIME:
			if (strcmp(optarg, "local") && strcmp(optarg, "utc") && strcmp(optarg, "epoch")) {
				vb_err("pcap", 0, "bad --time '%s': want local, utc or epoch", optarg);
				return 2;
			}
			o->time_mode = optarg[0];
			break;
		case 'w':
			o->write_path = optarg;
			break;
		case 'h':
			applet_help("pcap");
			return 1;
		default:
			if (optopt && optopt < 256)
				vb_err("pcap", 0, "bad option '-%c' or its missing argument (see --help)", optopt);
			else
				vb_err("pcap", 0, "bad option '%s' or its missing argument (see --help)",
				       argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		vb_err("pcap", 0, optind == argc ? "no capture file given (FILE or - for stdin)"
						 : "one capture file at a time");
		return 2;
	}
	o->path = argv[optind];
	if (o->write_path && o->stats && !strcmp(o->write_path, "-")) {
		vb_err("pcap", 0, "--stats and -w - both want stdout");
		return 2;
	}
	return 0;
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
	if (rc)
		return rc == 1 ? 0 : 2;
	fd = strcmp(o.path, "-") ? open(o.path, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0) {
		vb_err("pcap", -errno, "%s", o.path);
		return 1;
	}
	err = pcap_reader_open(&r, fd);
	if (err) {
		vb_err("pcap", 0, "%s: %s", o.path, r.err);
		pcap_reader_close(&r);
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

APPLET(pcap, pcap_main, "decode a pcap capture like tcpdump -nr, filter it, count flows",
       PCAP_USAGE);
