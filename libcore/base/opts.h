/* Command-line options declared once. Each applet describes its options in
 * one table of struct opt entries (long name, short letter, argument kind,
 * where the value goes, default, range, help line); a table may include
 * another one at an offset, so a subsystem declares its own options next
 * to its parser (run includes net/opts.h's and fs/opts.h's tables). From
 * the table opts_parse() derives getopt_long's short string and struct
 * option array and checks every value, and opts_help() writes --help:
 * nothing about an option is written twice. The idea is toybox's NEWTOY
 * option strings, in C initialisers instead of a mini-language.
 *
 * Errors are one line on stderr, "voidbox APPLET: ...", naming the option:
 *   unknown option --frobnicate (see voidbox run --help)      exit 2
 *   option --cpus needs a value / option --tty takes no value  exit 2
 *   option --co is ambiguous: --console, --control             exit 2
 *   --cpus '0': expected a number from 1 to 64                 spec->bad_value_exit */
#ifndef VOIDBOX_OPTS_H
#define VOIDBOX_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_kind {
	OPT_END,      /* ends a table */
	OPT_FLAG,     /* no argument: stores 1 in an integer or bool field */
	OPT_STR,      /* stores the argument (a const char * field) */
	OPT_UINT,     /* a decimal in [min, max], into an unsigned field of any width */
	OPT_SIZE,     /* "512M", "1G" (base/util.h parse_size) in [min, max], into a uint64_t */
	OPT_ENUM,     /* one of words ("none|slirp"): its index, into an integer field */
	OPT_WORD,     /* one of words: the argument itself, into a const char * field */
	OPT_LIST,     /* repeatable: appends to a const char *[max] array; count at count_off */
	OPT_CALL,     /* parse(obj, arg) does the work (values that need code) */
	OPT_INCLUDE,  /* another table, whose struct lies at off in this one */
};

/* flags */
#define OPT_REPEAT 1u /* may be given more than once (help says so); OPT_LIST implies it */
#define OPT_MARK   2u /* opts_parse reports the first one given (run: options that shape a
			 new VM, refused with --attach) */

struct opts_table;

struct opt {
	const char *name;          /* long name, without "--" */
	char letter;               /* short letter, or 0 */
	enum opt_kind kind;
	size_t off, size;          /* the field (OPT_AT), relative to the table's struct */
	size_t count_off;          /* OPT_LIST: its unsigned count */
	uint64_t min, max;         /* OPT_UINT, OPT_SIZE: the range; OPT_LIST: most entries */
	const char *words;         /* OPT_ENUM, OPT_WORD: "kvm|qemu|auto" */
	const char *def;           /* default, applied by opts_init() through the same
				      parser and shown in --help; NULL: none (zero) */
	unsigned flags;
	const char *meta;          /* the value's name in --help ("PATH"); NULL: words */
	const char *help;          /* one sentence; the generator wraps it */
	/* OPT_STR, OPT_LIST: NULL when arg is acceptable, else why not. */
	const char *(*check)(const char *arg);
	/* OPT_CALL: applies arg to obj (the table's struct; o->off and
	 * o->size name a field when the entry gives one, so one parser serves
	 * several options). Returns 0, or -errno with the reason (without
	 * the option's name) in why; left empty, the reason is "expected
	 * META" ("expected open or public" for "open|public"), or "too many
	 * given" for -ENOSPC. */
	int (*parse)(const struct opt *o, void *obj, const char *arg, char *why, size_t len);
	/* Writes the default for --help from an initialised obj, when it is
	 * not a def string (e.g. the network layout's addresses). */
	void (*show)(const struct opt *o, const void *obj, char *buf, size_t len);
	const struct opts_table *include; /* OPT_INCLUDE */
};

/* The field an entry writes: OPT_AT(struct run_opts, cpus). */
#define OPT_AT(type, field) .off = offsetof(type, field), .size = sizeof(((type *)0)->field)
/* A number macro as a def string: .def = OPT_NUM(NET_MTU_MAX). */
#define OPT_NUM(x) OPT_NUM_(x)
#define OPT_NUM_(x) #x
/* An OPT_LIST's array, count and capacity. */
#define OPT_LIST_AT(type, arr, count)                                           \
	.kind = OPT_LIST, OPT_AT(type, arr), .count_off = offsetof(type, count), \
	.max = sizeof(((type *)0)->arr) / sizeof(((type *)0)->arr[0])
/* Includes table t, whose struct is field of type. */
#define OPT_INCLUDE_AT(type, field, t) { .kind = OPT_INCLUDE, OPT_AT(type, field), .include = (t) }

struct opts_table {
	const char *heading;       /* --help section title; NULL: the applet's own options */
	void (*init)(void *obj);   /* sets what has no def, before the defs; NULL: zeroes */
	/* Checks the options as a whole once all are parsed. Returns 0, or
	 * -EINVAL with one line in why. NULL: nothing to check. */
	int (*check)(const void *obj, char *why, size_t len);
	const struct opt *opts;    /* ends with an OPT_END entry */
};

struct opts_spec {
	const char *applet;        /* "run" */
	const char *usage;         /* what follows "usage: voidbox APPLET "; one form a line */
	const char *about;         /* the paragraph after the usage line(s), verbatim */
	const char *footer;        /* text after the options, verbatim; NULL: none */
	bool stop_at_operand;      /* options end at the first operand (getopt's '+') */
	int bad_value_exit;        /* exit status for a bad value (usage mistakes exit 2) */
	size_t size;               /* the options struct's size */
	const struct opts_table *table;
};

/* What opts_parse found besides the values. */
struct opts_result {
	int next;                  /* argv index of the first operand */
	const struct opt *marked;  /* the first OPT_MARK option given, or NULL */
};

#define OPTS_GO_ON (-1)
#define OPTS_MAX 64             /* options in one applet, includes and --help counted */

/* Zeroes obj (size bytes), runs the tables' init hooks and applies every
 * def. Returns nothing (the defs are checked by opts_spec_check). */
void opts_init(const struct opts_table *t, void *obj, size_t size);
/* Fills obj (s->size bytes) with the defaults, parses argv and runs the
 * tables' checks. Returns OPTS_GO_ON (operands from r->next on), or the
 * status the applet exits with now: 0 after --help (printed on stdout),
 * else after one line on stderr. */
int opts_parse(const struct opts_spec *s, void *obj, int argc, char **argv,
	       struct opts_result *r);
/* Applies one option by its long name, as the command line would. Returns
 * 0; -EINVAL with "--NAME 'ARG': why" in why; -ENOENT for no such option. */
int opts_set(const struct opts_table *t, void *obj, const char *name, const char *arg,
	     char *why, size_t len);
/* Writes --help: the usage line(s), the about text, one aligned entry an
 * option (with its range, default and "repeatable"), sections for the
 * included tables, the footer. Returns 0 or -errno. */
int opts_help(const struct opts_spec *s, FILE *f);
/* Checks a spec for mistakes the compiler cannot see: names and letters
 * unique ("help" and 'h' are taken), fields wide enough for the range,
 * every def accepted, words and help present, at most OPTS_MAX options.
 * Returns 0, or -EINVAL with the first problem in why. For unit tests. */
int opts_spec_check(const struct opts_spec *s, char *why, size_t len);

#endif
