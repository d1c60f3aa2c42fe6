/* Unit tests for base/opts: a table with every kind of option parsed from
 * argv (short and long forms, '--', stopping at the first operand),
 * defaults, ranges, repeatable lists, includes and their checks, the one
 * line each mistake gets, the generated --help (every option once, lines
 * within 79 columns), the table checker, and run's real table. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/opts.h"
#include "run/run.h"
#include "t.h"

struct sub {
	unsigned level;
	bool quiet;
};

struct topts {
	bool flag;
	int count_flag;
	const char *str;
	unsigned u;
	uint16_t port;
	uint64_t size;
	unsigned mode;
	const char *word;
	const char *list[3];
	unsigned n_list;
	uint32_t pair[2];
	struct sub sub;
};

static const char *str_bad(const char *arg)
{
	return arg[0] == '/' ? NULL : "must be an absolute path";
}

/* --pair A:B into pair[0], pair[1]. */
static int pair_parse(const struct opt *o, void *obj, const char *arg, char *why, size_t len)
{
	struct topts *t = obj;
	unsigned a, b;
	char c;

	if (sscanf(arg, "%u:%u%c", &a, &b, &c) != 2) {
		snprintf(why, len, "expected A:B");
		return -EINVAL;
	}
	t->pair[0] = a;
	t->pair[1] = b;
	return 0;
}

/* --tag one|two; "full" is refused as no room left. No reasons given. */
static int tag_parse(const struct opt *o, void *obj, const char *arg, char *why, size_t len)
{
	if (!strcmp(arg, "full"))
		return -ENOSPC;
	return strcmp(arg, "one") && strcmp(arg, "two") ? -EINVAL : 0;
}

static void pair_show(const struct opt *o, const void *obj, char *buf, size_t len)
{
	const struct topts *t = obj;

	snprintf(buf, len, "%u:%u", t->pair[0], t->pair[1]);
}

static void t_init(void *obj)
{
	((struct topts *)obj)->pair[0] = 7;
	((struct topts *)obj)->pair[1] = 8;
}

/* The sub table refuses --level 13 together with --quiet. */
static int sub_check(const void *obj, char *why, size_t len)
{
	const struct sub *s = obj;

	if (s->quiet && s->level == 13) {
		snprintf(why, len, "--level 13 and --quiet together");
		return -EINVAL;
	}
	return 0;
}

static const struct opt sub_list[] = {
	{ "level", 'l', OPT_UINT, OPT_AT(struct sub, level), .min = 1, .max = 20, .def = "3",
	  .meta = "N", .help = "how loud" },
	{ "quiet", 'q', OPT_FLAG, OPT_AT(struct sub, quiet), .flags = OPT_MARK, .help = "say less" },
	{ .kind = OPT_END },
};

static const struct opts_table sub_table = {
	.heading = "Sub options:", .check = sub_check, .opts = sub_list
};

#define F(field) OPT_AT(struct topts, field)
static const struct opt t_list[] = {
	{ "flag", 'f', OPT_FLAG, F(flag), .help = "a flag" },
	{ "count-flag", 0, OPT_FLAG, F(count_flag), .help = "a flag in an int" },
	{ "str", 's', OPT_STR, F(str), .check = str_bad, .meta = "PATH", .help = "a path" },
	{ "num", 'n', OPT_UINT, F(u), .min = 2, .max = 9, .def = "5", .meta = "N",
	  .flags = OPT_MARK, .help = "a number" },
	{ "port", 0, OPT_UINT, F(port), .min = 0, .max = 65535, .meta = "PORT", .help = "a port" },
	{ "size", 'S', OPT_SIZE, F(size), .min = 1 << 20, .max = 1ULL << 30, .def = "1M",
	  .meta = "SIZE", .help = "a size" },
	{ "mode", 0, OPT_ENUM, F(mode), .words = "off|on|auto", .def = "auto", .help = "a mode" },
	{ "word", 'W', OPT_WORD, F(word), .words = "red|green", .help = "a colour" },
	{ "item", 'i', OPT_LIST_AT(struct topts, list, n_list), .check = str_bad, .meta = "PATH",
	  .help = "an item" },
	{ "pair", 0, OPT_CALL, .parse = pair_parse, .show = pair_show, .meta = "A:B",
	  .help = "two numbers" },
	{ "tag", 0, OPT_CALL, .parse = tag_parse, .meta = "one|two", .help = "a tag" },
	OPT_INCLUDE_AT(struct topts, sub, &sub_table),
	{ .kind = OPT_END },
};
#undef F

static const struct opts_table t_table = { .init = t_init, .opts = t_list };

static const struct opts_spec t_spec = {
	.applet = "topts",
	.usage = "[options] -- CMD\n--other-form",
	.about = "Tests the option tables.\n",
	.footer = "The end.\n",
	.bad_value_exit = 125,
	.size = sizeof(struct topts),
	.table = &t_table,
};

static struct opts_spec t_spec_stop; /* t_spec with stop_at_operand */

static char err_text[2048];
static struct opts_result res;

/* Parses a NULL-terminated argv with spec s into o, capturing stderr in
 * err_text (and stdout, where --help goes, in out_len). Returns
 * opts_parse's result. */
static size_t out_len;
static int parse_with(const struct opts_spec *s, void *o, char **argv)
{
	int argc = 0, saved, saved_out, rc;
	FILE *f = tmpfile(), *out = tmpfile();
	size_t n = 0;

	while (argv[argc])
		argc++;
	fflush(stderr);
	fflush(stdout);
	saved = dup(2);
	saved_out = dup(1);
	dup2(fileno(f), 2);
	dup2(fileno(out), 1);
	rc = opts_parse(s, o, argc, argv, &res);
	fflush(stderr);
	fflush(stdout);
	dup2(saved, 2);
	dup2(saved_out, 1);
	close(saved);
	close(saved_out);
	out_len = (size_t)ftell(out);
	fclose(out);
	rewind(f);
	n = fread(err_text, 1, sizeof(err_text) - 1, f);
	err_text[n] = 0;
	fclose(f);
	return rc;
}

#define PARSE(o, ...) parse_with(&t_spec, o, (char *[]){ "topts", __VA_ARGS__, NULL })

/* Lines in s. */
static unsigned lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_defaults(void)
{
	struct topts o;

	opts_init(&t_table, &o, sizeof(o));
	T_CHECK(o.u == 5 && o.size == 1 << 20 && o.mode == 2 && o.sub.level == 3,
		"defs: u %u size %llu mode %u level %u", o.u, (unsigned long long)o.size, o.mode,
		o.sub.level);
	T_CHECK(o.pair[0] == 7 && o.pair[1] == 8, "init hook");
	T_CHECK(!o.flag && !o.str && !o.word && !o.n_list, "not zero");
	T_CHECK(PARSE(&o, "x") == OPTS_GO_ON && o.u == 5 && res.next == 1 && !res.marked,
		"no options");
}

static void test_parse_kinds(void)
{
	struct topts o;

	T_REQUIRE(PARSE(&o, "-f", "--count-flag", "-s", "/a", "--num=7", "--port", "0", "-S",
			"2M", "--mode", "off", "-Wgreen", "--pair", "3:4", "-l", "20", "-q", "op1",
			"op2") == OPTS_GO_ON,
		  "rc: %.200s", err_text);
	T_CHECK(o.flag && o.count_flag == 1 && !strcmp(o.str, "/a") && o.u == 7 && o.port == 0,
		"flag, str, num, port");
	T_CHECK(o.size == 2 << 20 && o.mode == 0 && !strcmp(o.word, "green"), "size, mode, word");
	T_CHECK(o.pair[0] == 3 && o.pair[1] == 4, "call");
	T_CHECK(o.sub.level == 20 && o.sub.quiet, "included table");
	T_CHECK(res.marked && !strcmp(res.marked->name, "num"), "first marked option");
	T_CHECK(res.next == 18, "operands from %d", res.next);
	T_CHECK(!err_text[0], "stderr: %.200s", err_text);
	/* later wins for a plain option, as getopt loops always did */
	T_CHECK(PARSE(&o, "-n", "3", "-n", "4") == OPTS_GO_ON && o.u == 4, "given twice");
}

static void test_operands(void)
{
	char *argv1[] = { "topts", "cmd", "-f", NULL };
	char *argv2[] = { "topts", "--", "-f", NULL };
	struct topts o;

	/* without stop_at_operand, options after an operand count (getopt permutes) */
	T_CHECK(parse_with(&t_spec, &o, argv1) == OPTS_GO_ON && o.flag && res.next == 2 &&
			!strcmp(argv1[res.next], "cmd"),
		"permuted: flag %d next %d", o.flag, res.next);
	t_spec_stop = t_spec;
	t_spec_stop.stop_at_operand = true;
	char *argv3[] = { "topts", "cmd", "-f", NULL };
	T_CHECK(parse_with(&t_spec_stop, &o, argv3) == OPTS_GO_ON && !o.flag && res.next == 1,
		"'+': flag %d next %d", o.flag, res.next);
	T_CHECK(parse_with(&t_spec_stop, &o, argv2) == OPTS_GO_ON && !o.flag && res.next == 2 &&
			!strcmp(argv2[res.next], "-f"),
		"'--': next %d", res.next);
}

static void test_ranges(void)
{
	struct topts o;

	T_CHECK(PARSE(&o, "-n", "2") == OPTS_GO_ON && o.u == 2, "min");
	T_CHECK(PARSE(&o, "-n", "9") == OPTS_GO_ON && o.u == 9, "max");
	T_CHECK(PARSE(&o, "-n", "10") == 125 && lines(err_text) == 1 &&
			!strcmp(err_text, "voidbox topts: --num '10': expected a number from 2 to 9\n"),
		"above: %.200s", err_text);
	T_CHECK(PARSE(&o, "--num", "1") == 125 && strstr(err_text, "--num '1'"), "below: %.200s",
		err_text);
	T_CHECK(PARSE(&o, "--num", "") == 125 && lines(err_text) == 1, "empty: %.200s", err_text);
	T_CHECK(PARSE(&o, "--num", "5x") == 125 && lines(err_text) == 1, "junk: %.200s", err_text);
	T_CHECK(PARSE(&o, "--port", "65536") == 125 && strstr(err_text, "0 to 65535"), "port: %.200s",
		err_text);
	T_CHECK(PARSE(&o, "-S", "1G") == OPTS_GO_ON && o.size == 1ULL << 30, "size max");
	T_CHECK(PARSE(&o, "-S", "1025M") == 125 &&
			strstr(err_text, "--size '1025M': expected a size from 1M to 1G"),
		"size: %.200s", err_text);
	T_CHECK(PARSE(&o, "--mode", "of") == 125 &&
			strstr(err_text, "--mode 'of': expected off, on or auto"),
		"enum: %.200s", err_text);
	T_CHECK(PARSE(&o, "-W", "blue") == 125 && strstr(err_text, "expected red or green"),
		"word: %.200s", err_text);
	T_CHECK(PARSE(&o, "-s", "rel") == 125 && strstr(err_text, "--str 'rel': must be an absolute"),
		"check: %.200s", err_text);
	T_CHECK(PARSE(&o, "--pair", "1") == 125 && strstr(err_text, "--pair '1': expected A:B"),
		"call: %.200s", err_text);
	T_CHECK(PARSE(&o, "--tag", "one") == OPTS_GO_ON, "tag");
	T_CHECK(PARSE(&o, "--tag", "three") == 125 &&
			strstr(err_text, "--tag 'three': expected one or two\n"),
		"call without a reason: %.200s", err_text);
	T_CHECK(PARSE(&o, "--tag", "full") == 125 && strstr(err_text, "--tag 'full': too many given\n"),
		"call full: %.200s", err_text);
	T_CHECK(PARSE(&o, "-l", "13", "-q") == 125 && lines(err_text) == 1 &&
			strstr(err_text, "--level 13 and --quiet together"),
		"table check: %.200s", err_text);
	/* a value cannot break the line or flood it */
	T_CHECK(PARSE(&o, "--pair", "a\nb\033[2J") == 125 && lines(err_text) == 1 &&
			!strchr(err_text, '\033'),
		"control bytes: %.200s", err_text);
	{
		char big[2000];
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		T_CHECK(PARSE(&o, "--pair", big) == 125 && lines(err_text) == 1 &&
				strlen(err_text) < 300 && strstr(err_text, "...'"),
			"long value: %zu bytes", strlen(err_text));
	}
}

static void test_repeatable(void)
{
	struct topts o;

	T_CHECK(PARSE(&o, "-i", "/a", "--item", "/b", "-i/c") == OPTS_GO_ON && o.n_list == 3 &&
			!strcmp(o.list[0], "/a") && !strcmp(o.list[2], "/c"),
		"three items: %.200s", err_text);
	T_CHECK(PARSE(&o, "-i", "/a", "-i", "/b", "-i", "/c", "-i", "/d") == 125 &&
			strstr(err_text, "--item '/d': more than 3 given") && lines(err_text) == 1,
		"fourth: %.200s", err_text);
	T_CHECK(PARSE(&o, "-i", "rel") == 125 && strstr(err_text, "--item 'rel'"), "checked: %.200s",
		err_text);
}

static void test_mistakes_one_line(void)
{
	struct topts o;

	T_CHECK(PARSE(&o, "--bogus") == 2 &&
			!strcmp(err_text, "voidbox topts: unknown option --bogus (see voidbox topts --help)\n"),
		"unknown long: %.200s", err_text);
	T_CHECK(PARSE(&o, "--bogus=1") == 2 && strstr(err_text, "unknown option --bogus (") &&
			lines(err_text) == 1,
		"unknown long=: %.200s", err_text);
	T_CHECK(PARSE(&o, "-x") == 2 &&
			!strcmp(err_text, "voidbox topts: unknown option -x (see voidbox topts --help)\n"),
		"unknown short: %.200s", err_text);
	T_CHECK(PARSE(&o, "-n") == 2 &&
			!strcmp(err_text, "voidbox topts: option --num needs a value\n"),
		"missing short: %.200s", err_text);
	T_CHECK(PARSE(&o, "-f", "--pair") == 2 &&
			!strcmp(err_text, "voidbox topts: option --pair needs a value\n"),
		"missing long: %.200s", err_text);
	T_CHECK(PARSE(&o, "--flag=1") == 2 &&
			!strcmp(err_text, "voidbox topts: option --flag takes no value\n"),
		"flag with a value: %.200s", err_text);
	T_CHECK(PARSE(&o, "--p", "1") == 2 &&
			!strcmp(err_text, "voidbox topts: option --p is ambiguous: --port, --pair\n"),
		"ambiguous: %.200s", err_text);
	T_CHECK(PARSE(&o, "--po", "1") == OPTS_GO_ON && o.port == 1, "a unique prefix: %.200s",
		err_text);
	T_CHECK(PARSE(&o, "--he") == 0 && !err_text[0] && out_len > 100, "--he is --help");
}

/* How many lines of help are the entry for --name (start "  -x, --name"
 * or "      --name", then a space or the line's end). */
static unsigned entries(const char *help, const char *name)
{
	size_t n = strlen(name);
	unsigned count = 0;

	for (const char *l = help; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *p = l;
		if (!strncmp(p, "  -", 3) && p[4] == ',' && p[5] == ' ')
			p += 6;
		else if (!strncmp(p, "      ", 6))
			p += 6;
		else
			continue;
		if (!strncmp(p, "--", 2) && !strncmp(p + 2, name, n) &&
		    (p[2 + n] == ' ' || p[2 + n] == '\n'))
			count++;
	}
	return count;
}

/* Checks that help has one entry for each option of t (and its includes)
 * and for --help, with the short letter where there is one. */
static void help_has_all(const char *help, const struct opts_table *t, bool top)
{
	for (const struct opt *o = t->opts; o->kind != OPT_END; o++) {
		char want[64];
		if (o->kind == OPT_INCLUDE) {
			help_has_all(help, o->include, false);
			continue;
		}
		T_CHECK(entries(help, o->name) == 1, "--%s: %u entries", o->name, entries(help, o->name));
		if (o->letter) {
			snprintf(want, sizeof(want), "\n  -%c, --%s", o->letter, o->name);
			T_CHECK(strstr(help, want), "no '-%c, --%s'", o->letter, o->name);
		}
	}
	if (top)
		T_CHECK(entries(help, "help") == 1 && strstr(help, "\n  -h, --help "), "--help");
}

/* Writes spec's help into a malloc'd string. */
static char *help_text(const struct opts_spec *s)
{
	char *txt = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&txt, &len);

	if (!m)
		return NULL;
	opts_help(s, m);
	fclose(m);
	return txt;
}

/* Checks that no line of txt is longer than 79 columns. */
static void lines_fit(const char *txt)
{
	for (const char *l = txt; *l;) {
		size_t n = strcspn(l, "\n");
		T_CHECK(n <= 79, "a %zu-column line: %.*s", n, (int)n, l);
		l += n + (l[n] == '\n');
	}
}

static void test_help(void)
{
	static const char head[] = "usage: voidbox topts [options] -- CMD\n"
				   "       voidbox topts --other-form\n"
				   "Tests the option tables.\n\n";
	char *txt = help_text(&t_spec);

	T_REQUIRE(txt, "no help");
	help_has_all(txt, &t_table, true);
	T_CHECK(!strncmp(txt, head, strlen(head)), "head: %.120s", txt);
	T_CHECK(strstr(txt, "\n  -n, --num N ") && strstr(txt, "a number (2 to 9, default 5)\n"),
		"range and default: %s", txt);
	T_CHECK(strstr(txt, "--mode off|on|auto "), "words as meta");
	T_CHECK(strstr(txt, "an item (repeatable)"), "repeatable");
	T_CHECK(strstr(txt, "two numbers (default 7:8)"), "shown default");
	T_CHECK(strstr(txt, "\n\nSub options:\n  -l, --level N"), "section");
	T_CHECK(strstr(txt, "\n\nThe end.\n"), "footer");
	lines_fit(txt);
	free(txt);
}

/* run's own table: well formed, every option in --help once, --attach
 * refuses what shapes a VM. */
static void test_run_table(void)
{
	char why[256], *txt;
	struct run_opts o;

	txt = help_text(&run_opts_spec);
	T_REQUIRE(txt, "no help");
	T_CHECK(opts_spec_check(&run_opts_spec, why, sizeof(why)) == 0, "%s", why);
	help_has_all(txt, run_opts_spec.table, true);
	/* the counting itself: a name that is a prefix of others, a prefix */
	T_CHECK(entries(txt, "net") == 1 && entries(txt, "ne") == 0 && entries(txt, "dns") == 1,
		"entries() miscounts");
	T_CHECK(strstr(txt, "\n  -v, --volume HOST:GUEST") && strstr(txt, "\n      --verbose "),
		"-v is --volume, --verbose has no letter");
	lines_fit(txt);
	free(txt);
	opts_init(run_opts_spec.table, &o, sizeof(o));
	T_CHECK(o.cpus == 1 && o.mem_bytes == 512ULL << 20 && o.uid == 1000 && o.gid == 1000 &&
			!strcmp(o.vmm, "auto") && o.boot_timeout_s == 120 && o.net.mode == NET_SLIRP &&
			o.net.slirp.net.mtu == 65520,
		"run's defaults");
	T_CHECK(parse_with(&run_opts_spec, &o,
			   (char *[]){ "run", "-e", "A=B", "-w", "/w", "-u", "0", "--timeout", "5",
				       "--attach", "unix:x", "-i", "-t", "--verbose", "--", "true",
				       NULL }) == OPTS_GO_ON &&
			!res.marked && res.next == 15,
		"attach's own options marked %s", res.marked ? res.marked->name : "-");
	T_CHECK(parse_with(&run_opts_spec, &o,
			   (char *[]){ "run", "-e", "A=B", "--mtu", "1500", "-c", "2", "true", NULL }) ==
				OPTS_GO_ON &&
			res.marked && !strcmp(res.marked->name, "mtu") && o.cpus == 2 &&
			o.net.slirp.net.mtu == 1500,
		"--mtu marked");
}

/* Specs with one mistake each, refused by opts_spec_check. */
static void test_spec_check(void)
{
	static const struct opt dup_name[] = {
		{ "a", 0, OPT_FLAG, OPT_AT(struct topts, flag), .help = "x" },
		{ "a", 0, OPT_FLAG, OPT_AT(struct topts, flag), .help = "y" },
		{ .kind = OPT_END },
	};
	static const struct opt dup_letter[] = {
		{ "a", 'a', OPT_FLAG, OPT_AT(struct topts, flag), .help = "x" },
		{ "b", 'a', OPT_FLAG, OPT_AT(struct topts, flag), .help = "y" },
		{ .kind = OPT_END },
	};
	static const struct opt help_letter[] = {
		{ "hat", 'h', OPT_FLAG, OPT_AT(struct topts, flag), .help = "x" },
		{ .kind = OPT_END },
	};
	static const struct opt wide_range[] = {
		{ "p", 0, OPT_UINT, OPT_AT(struct topts, port), .max = 70000, .meta = "N", .help = "x" },
		{ .kind = OPT_END },
	};
	static const struct opt bad_def[] = {
		{ "n", 0, OPT_UINT, OPT_AT(struct topts, u), .min = 1, .max = 3, .def = "4",
		  .meta = "N", .help = "x" },
		{ .kind = OPT_END },
	};
	static const struct opt no_help[] = {
		{ "n", 0, OPT_FLAG, OPT_AT(struct topts, flag) },
		{ .kind = OPT_END },
	};
	static const struct opt no_meta[] = {
		{ "n", 0, OPT_STR, OPT_AT(struct topts, str), .help = "x" },
		{ .kind = OPT_END },
	};
	static const struct opt *const bad[] = { dup_name, dup_letter, help_letter, wide_range,
						 bad_def, no_help, no_meta };
	char why[256];

	T_CHECK(opts_spec_check(&t_spec, why, sizeof(why)) == 0, "test spec: %s", why);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct opts_table t = { .opts = bad[i] };
		struct opts_spec s = t_spec;
		s.table = &t;
		why[0] = 0;
		T_CHECK(opts_spec_check(&s, why, sizeof(why)) == -EINVAL && why[0],
			"mistake %u (--%s) accepted", i, bad[i][0].name);
	}
}

int main(void)
{
	T_RUN(test_defaults);
	T_RUN(test_parse_kinds);
	T_RUN(test_operands);
	T_RUN(test_ranges);
	T_RUN(test_repeatable);
	T_RUN(test_mistakes_one_line);
	T_RUN(test_help);
	T_RUN(test_run_table);
	T_RUN(test_spec_check);
	T_EXIT();
}
