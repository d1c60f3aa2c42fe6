/* The option tables of base/opts.h: flattening a table and its includes
 * into one list, deriving getopt_long's arguments from it, applying and
 * checking each value by its kind, the one-line errors, and the generated
 * --help text. */
#include "base/opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define HELP_WIDTH 79   /* --help lines are at most this long */
#define HELP_LEFT_MAX 28 /* longer "  -x, --name META" parts put the text below */
#define ARG_SHOWN 120   /* bytes of a bad value quoted in an error line */

/* One option of the flattened list, with where its table's struct lies. */
struct flat {
	const struct opt *o;
	size_t base;
};

struct flat_set {
	struct flat f[OPTS_MAX];
	unsigned n;
	bool overflow;
};

/* Every applet's -h, --help. */
static const struct opt help_opt = { "help", 'h', OPT_FLAG, .help = "this text" };

/* Appends t's options (and its includes', in place) to fs, then --help
 * when top. */
static void flatten(const struct opts_table *t, size_t base, struct flat_set *fs, bool top)
{
	for (const struct opt *o = t->opts; o->kind != OPT_END; o++) {
		if (o->kind == OPT_INCLUDE) {
			flatten(o->include, base + o->off, fs, false);
			continue;
		}
		if (fs->n == OPTS_MAX) {
			fs->overflow = true;
			return;
		}
		fs->f[fs->n++] = (struct flat){ o, base };
	}
	if (top) {
		if (fs->n == OPTS_MAX)
			fs->overflow = true;
		else
			fs->f[fs->n++] = (struct flat){ &help_opt, 0 };
	}
}

/* Stores v in the unsigned field p of size bytes. */
static void store_uint(void *p, size_t size, uint64_t v)
{
	switch (size) {
	case 1: *(uint8_t *)p = (uint8_t)v; break;
	case 2: *(uint16_t *)p = (uint16_t)v; break;
	case 4: *(uint32_t *)p = (uint32_t)v; break;
	default: *(uint64_t *)p = v; break;
	}
}

/* The largest value a field of size bytes holds. */
static uint64_t field_max(size_t size)
{
	return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

/* The index of arg among words ("a|b|c"), or -1. */
static int word_index(const char *words, const char *arg)
{
	size_t n = strlen(arg);
	int i = 0;

	for (const char *w = words; *w; i++) {
		size_t k = strcspn(w, "|");
		if (k == n && !memcmp(w, arg, n))
			return i;
		w += k + (w[k] == '|');
	}
	return -1;
}

/* Writes words ("a|b|c") as "a, b or c" into buf. */
static void words_text(const char *words, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (const char *w = words; *w && off < len;) {
		size_t k = strcspn(w, "|");
		const char *sep = !off ? "" : strchr(w + k, '|') ? ", " : " or ";
		int n = snprintf(buf + off, len - off, "%s%.*s", sep, (int)k, w);
		if (n < 0)
			break;
		off += (size_t)n;
		w += k + (w[k] == '|');
	}
}

/* Writes a byte count as its largest exact unit ("64M", "1G"). */
static void size_text(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (v && !(v & 1023) && u < 3) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
}

/* Writes o's range ("1 to 64", "64M to 64G"), or "" when unbounded. */
static void range_text(const struct opt *o, char *buf, size_t len)
{
	char a[32], b[32];

	buf[0] = 0;
	if (o->kind == OPT_UINT && o->max != UINT64_MAX) {
		snprintf(buf, len, "%llu to %llu", (unsigned long long)o->min,
			 (unsigned long long)o->max);
	} else if (o->kind == OPT_SIZE) {
		size_text(o->min, a, sizeof(a));
		size_text(o->max, b, sizeof(b));
		snprintf(buf, len, "%s to %s", a, b);
	}
}

/* The reason for a value o->parse refused with err and no words:
 * "expected META" (META "a|b" read as "a or b"), or for -ENOSPC "too many
 * given". */
static void call_reason(const struct opt *o, int err, char *why, size_t len)
{
	char w[160];

	if (err == -ENOSPC) {
		snprintf(why, len, "too many given");
		return;
	}
	if (o->meta && !o->meta[strspn(o->meta, "abcdefghijklmnopqrstuvwxyz0123456789-|")] &&
	    strchr(o->meta, '|')) {
		words_text(o->meta, w, sizeof(w));
		snprintf(why, len, "expected %s", w);
		return;
	}
	snprintf(why, len, "expected %s", o->meta ? o->meta : "something else");
}

/* Applies arg to option o of the struct at obj. Returns 0, or -EINVAL with
 * the reason (not naming the option) in why. */
static int apply(const struct opt *o, void *obj, const char *arg, char *why, size_t len)
{
	char *field = (char *)obj + o->off;
	const char *bad;
	uint64_t v;
	int i;

	switch (o->kind) {
	case OPT_FLAG:
		store_uint(field, o->size, 1);
		return 0;
	case OPT_STR:
		if (o->check && (bad = o->check(arg)))
			goto reason;
		*(const char **)field = arg;
		return 0;
	case OPT_UINT:
		if (parse_uint(arg, o->min, o->max, &v)) {
			if (o->max == UINT64_MAX)
				snprintf(why, len, "expected a number from %llu",
					 (unsigned long long)o->min);
			else
				snprintf(why, len, "expected a number from %llu to %llu",
					 (unsigned long long)o->min, (unsigned long long)o->max);
			return -EINVAL;
		}
		store_uint(field, o->size, v);
		return 0;
	case OPT_SIZE:
		if (parse_size(arg, &v) || v < o->min || v > o->max) {
			char r[80];
			range_text(o, r, sizeof(r));
			snprintf(why, len, "expected a size from %s", r);
			return -EINVAL;
		}
		store_uint(field, o->size, v);
		return 0;
	case OPT_ENUM:
	case OPT_WORD:
		i = word_index(o->words, arg);
		if (i < 0) {
			char w[160];
			words_text(o->words, w, sizeof(w));
			snprintf(why, len, "expected %s", w);
			return -EINVAL;
		}
		if (o->kind == OPT_ENUM)
			store_uint(field, o->size, (uint64_t)i);
		else
			*(const char **)field = arg;
		return 0;
	case OPT_LIST: {
		unsigned *n = (unsigned *)((char *)obj + o->count_off);
		if (o->check && (bad = o->check(arg)))
			goto reason;
		if (*n >= o->max) {
			snprintf(why, len, "more than %llu given", (unsigned long long)o->max);
			return -EINVAL;
		}
		((const char **)field)[(*n)++] = arg;
		return 0;
	}
	case OPT_CALL:
		why[0] = 0;
		i = o->parse(o, obj, arg, why, len);
		if (i && !why[0])
			call_reason(o, i, why, len);
		return i ? -EINVAL : 0;
	case OPT_END:
	case OPT_INCLUDE:
		break;
	}
	snprintf(why, len, "not an option with a value");
	return -EINVAL;
reason:
	snprintf(why, len, "%s", bad);
	return -EINVAL;
}

/* Copies arg for an error line: control bytes become '?', and a long one
 * is cut with "...", so the message stays one short line. */
static void shown_arg(const char *arg, char *out, size_t len)
{
	size_t i;

	for (i = 0; arg[i] && i + 4 < len; i++)
		out[i] = (unsigned char)arg[i] < 0x20 || arg[i] == 0x7f ? '?' : arg[i];
	if (arg[i])
		memcpy(out + i, "...", 4);
	else
		out[i] = 0;
}

/* Applies arg to f's option; on failure writes "--NAME 'ARG': why" into
 * msg. Returns 0 or -EINVAL. */
static int apply_named(const struct flat *f, void *obj, const char *arg, char *msg, size_t len)
{
	char why[384], shown[ARG_SHOWN + 4];

	shown_arg(arg ? arg : "", shown, sizeof(shown)); /* before a parser edits it */
	if (!apply(f->o, (char *)obj + f->base, arg, why, sizeof(why)))
		return 0;
	snprintf(msg, len, "--%s '%s': %s", f->o->name, shown, why);
	return -EINVAL;
}

/* Runs the init hooks and defs of t for the struct at obj. */
static void init_table(const struct opts_table *t, void *obj)
{
	char why[256];

	if (t->init)
		t->init(obj);
	for (const struct opt *o = t->opts; o->kind != OPT_END; o++) {
		if (o->kind == OPT_INCLUDE)
			init_table(o->include, (char *)obj + o->off);
		else if (o->def)
			apply(o, obj, o->def, why, sizeof(why));
	}
}

void opts_init(const struct opts_table *t, void *obj, size_t size)
{
	memset(obj, 0, size);
	init_table(t, obj);
}

/* Runs the check hooks of t and its includes. Returns 0 or -EINVAL (why). */
static int check_table(const struct opts_table *t, const void *obj, char *why, size_t len)
{
	for (const struct opt *o = t->opts; o->kind != OPT_END; o++)
		if (o->kind == OPT_INCLUDE &&
		    check_table(o->include, (const char *)obj + o->off, why, len))
			return -EINVAL;
	return t->check ? t->check(obj, why, len) : 0;
}

/* The entry of fs whose long name is name (n bytes), or NULL. With
 * prefixes set, counts the entries name abbreviates into *prefixes. */
static const struct flat *find_name(const struct flat_set *fs, const char *name, size_t n,
				    unsigned *prefixes)
{
	const struct flat *hit = NULL;

	if (prefixes)
		*prefixes = 0;
	for (unsigned i = 0; i < fs->n; i++) {
		const char *ln = fs->f[i].o->name;
		if (strncmp(ln, name, n))
			continue;
		if (!ln[n])
			hit = &fs->f[i];
		if (prefixes)
			(*prefixes)++;
	}
	return hit;
}

/* The one line for an option getopt_long refused (returned '?'). */
static void refused(const struct opts_spec *s, const struct flat_set *fs, const char *arg,
		    int optopt_v)
{
	const char *a = s->applet;
	char shown[ARG_SHOWN + 4], list[512];
	size_t n, off = 0;
	unsigned cnt;

	if (optopt_v >= 256 && optopt_v - 256 < (int)fs->n) {
		vb_err(a, 0, "option --%s takes no value", fs->f[optopt_v - 256].o->name);
		return;
	}
	if (optopt_v > 0 || !arg || strncmp(arg, "--", 2)) {
		vb_err(a, 0, "unknown option -%c (see voidbox %s --help)",
		       optopt_v > 0x20 && optopt_v < 0x7f ? optopt_v : '?', a);
		return;
	}
	shown_arg(arg, shown, sizeof(shown));
	n = strcspn(shown + 2, "=");
	find_name(fs, shown + 2, n, &cnt);
	if (cnt < 2) {
		vb_err(a, 0, "unknown option --%.*s (see voidbox %s --help)", (int)n, shown + 2, a);
		return;
	}
	list[0] = 0;
	for (unsigned i = 0; i < fs->n && off < sizeof(list); i++) {
		if (strncmp(fs->f[i].o->name, shown + 2, n))
			continue;
		int k = snprintf(list + off, sizeof(list) - off, "%s--%s", off ? ", " : "",
				 fs->f[i].o->name);
		if (k > 0)
			off += (size_t)k;
	}
	vb_err(a, 0, "option --%.*s is ambiguous: %s", (int)n, shown + 2, list);
}

/* Whether kind takes a value. */
static bool takes_value(enum opt_kind k)
{
	return k != OPT_FLAG;
}

int opts_parse(const struct opts_spec *s, void *obj, int argc, char **argv,
	       struct opts_result *r)
{
	struct flat_set fs;
	struct option lo[OPTS_MAX + 1];
	char shorts[4 + 2 * OPTS_MAX], msg[640];
	size_t ns = 0;
	int c;

	memset(r, 0, sizeof(*r));
	opts_init(s->table, obj, s->size);
	memset(&fs, 0, sizeof(fs));
	flatten(s->table, 0, &fs, true);
	if (fs.overflow) {
		vb_err(s->applet, 0, "more than %d options in the option table", OPTS_MAX);
		return 2;
	}
	if (s->stop_at_operand)
		shorts[ns++] = '+';
	shorts[ns++] = ':'; /* a missing value returns ':', not '?' */
	for (unsigned i = 0; i < fs.n; i++) {
		const struct opt *o = fs.f[i].o;
		lo[i] = (struct option){ o->name, takes_value(o->kind) ? required_argument : no_argument,
					 NULL, 256 + (int)i };
		if (o->letter) {
			shorts[ns++] = o->letter;
			if (takes_value(o->kind))
				shorts[ns++] = ':';
		}
	}
	lo[fs.n] = (struct option){ 0 };
	shorts[ns] = 0;
	opterr = 0;
	optind = 0; /* a full reset, for callers that parse more than once */
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct flat *f = NULL;
		bool missing = c == ':';

		if (c == '?') {
			refused(s, &fs, optind > 0 && optind <= argc ? argv[optind - 1] : NULL, optopt);
			return 2;
		}
		if (missing)
			c = optopt;
		if (c >= 256 && c - 256 < (int)fs.n) {
			f = &fs.f[c - 256];
		} else {
			for (unsigned i = 0; i < fs.n && !f; i++)
				if (fs.f[i].o->letter == c)
					f = &fs.f[i];
		}
		if (!f) { /* getopt_long returned what it was not given */
			vb_err(s->applet, 0, "unknown option -%c (see voidbox %s --help)",
			       c > 0x20 && c < 0x7f ? c : '?', s->applet);
			return 2;
		}
		if (missing) {
			vb_err(s->applet, 0, "option --%s needs a value", f->o->name);
			return 2;
		}
		if (f->o == &help_opt) {
			/* the table is checked where every applet's --help is run (tests) */
			if (opts_spec_check(s, msg, sizeof(msg))) {
				vb_err(s->applet, 0, "option table: %s", msg);
				return 1;
			}
			return opts_help(s, stdout) ? 1 : 0;
		}
		if ((f->o->flags & OPT_MARK) && !r->marked)
			r->marked = f->o;
		if (apply_named(f, obj, optarg, msg, sizeof(msg))) {
			vb_err(s->applet, 0, "%s", msg);
			return s->bad_value_exit;
		}
	}
	if (check_table(s->table, obj, msg, sizeof(msg))) {
		vb_err(s->applet, 0, "%s", msg);
		return s->bad_value_exit;
	}
	r->next = optind;
	return OPTS_GO_ON;
}

int opts_set(const struct opts_table *t, void *obj, const char *name, const char *arg,
	     char *why, size_t len)
{
	struct flat_set fs;
	const struct flat *f;

	memset(&fs, 0, sizeof(fs));
	flatten(t, 0, &fs, false);
	f = find_name(&fs, name, strlen(name), NULL);
	if (!f) {
		snprintf(why, len, "unknown option --%s", name);
		return -ENOENT;
	}
	return apply_named(f, obj, arg, why, len);
}

/* --- help ----------------------------------------------------------- */

/* The "  -k, --kernel PATH" part of o's entry, into buf. Returns its length. */
static size_t help_left(const struct opt *o, char *buf, size_t len)
{
	const char *meta = o->meta ? o->meta : o->words;
	int n;

	n = snprintf(buf, len, "  %c%c%s--%s%s%s", o->letter ? '-' : ' ', o->letter ? o->letter : ' ',
		     o->letter ? ", " : "  ", o->name, takes_value(o->kind) && meta ? " " : "",
		     takes_value(o->kind) && meta ? meta : "");
	return n < 0 ? 0 : (size_t)n;
}

/* Writes text from column col on, the first line from column at (where
 * the cursor is), wrapping at spaces to HELP_WIDTH; '\n' in text breaks a
 * line. Ends with a newline. */
static void put_wrapped(FILE *f, const char *text, size_t col, size_t at)
{
	const char *p = text;

	while (*p) {
		size_t room = at < HELP_WIDTH ? HELP_WIDTH - at : 1, take = 0, last_space = 0;

		while (p[take] && p[take] != '\n' && take < room) {
			if (p[take] == ' ')
				last_space = take;
			take++;
		}
		if (p[take] && p[take] != '\n' && p[take] != ' ' && last_space)
			take = last_space; /* break before the word that does not fit */
		fprintf(f, "%.*s\n", (int)take, p);
		p += take;
		while (*p == ' ')
			p++;
		if (*p == '\n')
			p++;
		if (*p)
			fprintf(f, "%*s", (int)col, "");
		at = col;
	}
}

/* Writes o's entry: its left part, then its help with "(range, default
 * D, repeatable)" from column col. dflt is the default read from an
 * initialised struct, or NULL. */
static void help_entry(FILE *f, const struct opt *o, size_t col, const char *obj)
{
	char left[128], extra[256], range[80], shown[96], text[1024];
	size_t n = help_left(o, left, sizeof(left)), off = 0;
	const char *d = o->def;

	extra[0] = 0;
	range_text(o, range, sizeof(range));
	if (!d && o->show && obj) {
		o->show(o, obj, shown, sizeof(shown));
		d = shown;
	}
	if (range[0])
		off += (size_t)snprintf(extra + off, sizeof(extra) - off, "%s", range);
	if (d && off < sizeof(extra))
		off += (size_t)snprintf(extra + off, sizeof(extra) - off, "%sdefault %s",
					off ? ", " : "", d);
	if ((o->kind == OPT_LIST || (o->flags & OPT_REPEAT)) && off < sizeof(extra))
		off += (size_t)snprintf(extra + off, sizeof(extra) - off, "%srepeatable",
					off ? ", " : "");
	/* "(...)" ends the first paragraph of the help */
	n = strcspn(o->help, "\n");
	snprintf(text, sizeof(text), "%.*s%s%s%s%s", (int)n, o->help, extra[0] ? " (" : "", extra,
		 extra[0] ? ")" : "", o->help + n);
	n = help_left(o, left, sizeof(left));
	fputs(left, f);
	if (n + 2 > col) {
		fprintf(f, "\n%*s", (int)col, "");
		n = col;
	} else {
		fprintf(f, "%*s", (int)(col - n), "");
		n = col;
	}
	put_wrapped(f, text, col, n);
}

/* Writes t's own options, then each include as its own section. */
static void help_table(FILE *f, const struct opts_table *t, size_t col, const char *obj, bool top)
{
	if (t->heading)
		fprintf(f, "\n%s\n", t->heading);
	for (const struct opt *o = t->opts; o->kind != OPT_END; o++)
		if (o->kind != OPT_INCLUDE)
			help_entry(f, o, col, obj);
	if (top)
		help_entry(f, &help_opt, col, NULL);
	for (const struct opt *o = t->opts; o->kind != OPT_END; o++)
		if (o->kind == OPT_INCLUDE)
			help_table(f, o->include, col, obj ? obj + o->off : NULL, false);
}

int opts_help(const struct opts_spec *s, FILE *f)
{
	struct flat_set fs;
	char left[128], *obj;
	size_t col = 0;
	const char *u = s->usage;

	memset(&fs, 0, sizeof(fs));
	flatten(s->table, 0, &fs, true);
	for (unsigned i = 0; i < fs.n; i++) {
		size_t n = help_left(fs.f[i].o, left, sizeof(left));
		if (n <= HELP_LEFT_MAX && n > col)
			col = n;
	}
	col += 2;
	/* the defaults a show hook reads come from a struct as opts_init leaves it */
	obj = malloc(s->size);
	if (obj)
		opts_init(s->table, obj, s->size);
	for (bool first = true; *u; first = false) {
		size_t k = strcspn(u, "\n");
		fprintf(f, "%s voidbox %s %.*s\n", first ? "usage:" : "      ", s->applet, (int)k, u);
		u += k + (u[k] == '\n');
	}
	if (s->about)
		fputs(s->about, f);
	fputs("\n", f);
	help_table(f, s->table, col, obj, true);
	free(obj);
	if (s->footer)
		fprintf(f, "\n%s", s->footer);
	return fflush(f) || ferror(f) ? -EIO : 0;
}

/* --- table checks (unit tests) ------------------------------------- */

/* Checks one entry of a table whose struct is size bytes (0: unknown).
 * Returns NULL or what is wrong. */
static const char *entry_bad(const struct opt *o, size_t size)
{
	bool uint_field = o->size == 1 || o->size == 2 || o->size == 4 || o->size == 8;

	if (!o->name || !o->name[0] || strchr(o->name, '=') || o->name[0] == '-')
		return "a long name is missing or malformed";
	if (!o->help || !o->help[0])
		return "no help line";
	if (o->letter && !((o->letter >= 'a' && o->letter <= 'z') ||
			   (o->letter >= 'A' && o->letter <= 'Z') ||
			   (o->letter >= '0' && o->letter <= '9')))
		return "the short letter is not a letter or digit";
	if (takes_value(o->kind) && !o->meta && !o->words)
		return "no meta for its value";
	if (size && o->kind != OPT_CALL && o->off + o->size > size)
		return "its field lies outside the struct";
	switch (o->kind) {
	case OPT_FLAG:
		return uint_field ? NULL : "a flag needs an integer or bool field";
	case OPT_STR:
	case OPT_WORD:
		if (o->size != sizeof(const char *))
			return "needs a const char * field";
		return o->kind == OPT_WORD && !o->words ? "no words" : NULL;
	case OPT_UINT:
		if (!uint_field || o->max > field_max(o->size) || o->min > o->max)
			return "the range does not fit its field";
		return NULL;
	case OPT_SIZE:
		return o->size != 8 || o->min > o->max ? "needs a uint64_t field and a range" : NULL;
	case OPT_ENUM:
		return !uint_field || !o->words ? "needs an integer field and words" : NULL;
	case OPT_LIST:
		if (o->max == 0 || o->def)
			return "a list needs a capacity and takes no def";
		return NULL;
	case OPT_CALL:
		return o->parse ? NULL : "no parse function";
	case OPT_END:
	case OPT_INCLUDE:
		break;
	}
	return "unknown kind";
}

int opts_spec_check(const struct opts_spec *s, char *why, size_t len)
{
	struct flat_set fs;
	char w[256], *obj;
	int err = 0;

	memset(&fs, 0, sizeof(fs));
	flatten(s->table, 0, &fs, true);
	if (fs.overflow) {
		snprintf(why, len, "%s: more than %d options", s->applet, OPTS_MAX);
		return -EINVAL;
	}
	obj = calloc(1, s->size);
	if (!obj) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < fs.n && !err; i++) {
		const struct opt *o = fs.f[i].o;
		const char *bad = o == &help_opt ? NULL : entry_bad(o, fs.f[i].base ? 0 : s->size);

		for (unsigned j = 0; j < i && !bad; j++) {
			if (!strcmp(fs.f[j].o->name, o->name))
				bad = "its name is taken";
			else if (o->letter && fs.f[j].o->letter == o->letter)
				bad = "its short letter is taken";
		}
		if (!bad && o->def && apply(o, obj + fs.f[i].base, o->def, w, sizeof(w)))
			bad = "its def is refused";
		if (bad) {
			snprintf(why, len, "%s --%s: %s", s->applet, o->name ? o->name : "?", bad);
			err = -EINVAL;
		}
	}
	free(obj);
	return err;
}
