/* Namespace: attributes by name, as SyncManager's Namespace.
 *
 * Encoding: a dict (dict.c) keyed by MPS_STR attribute names; the object
 * has kind MPS_KIND_NAMESPACE and the dict's layout, so protocol and crash
 * argument are those of dict.c. Names starting with '_' stay on a Python
 * proxy, never in shared state: EINVAL here, as is an empty name.
 *
 * repr follows Python's Namespace.__repr__: "name=repr(value)" for every
 * attribute, those strings sorted (bytewise UTF-8 = code point order),
 * joined with ", " inside "Namespace(...)". Floats print as Python's repr
 * (shortest string that reads back to the same double), bytes as b'...',
 * strings with Python's quoting and escapes, references as <kind object>.
 * A string escapes exactly the code points str.isprintable() refuses, from
 * a table generated out of Python's unicodedata (unicode_printable.h, by
 * tools/gen_printable.py; docs/design.md §11.5 names the versions). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode_printable.h"
#include "var.h"

struct mps_namespace {
	struct mps_dict dict;
};

static int check_attr(const char *attr)
{
	return !attr || !attr[0] || attr[0] == '_' ? EINVAL : 0;
}

int mps_segment_namespace(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                          mps_namespace_t **out)
{
	void *p = NULL;
	if (!out)
		return EINVAL;
	int r = mps_seg_object(seg, name, mode, MPS_KIND_NAMESPACE, sizeof(struct mps_namespace),
	                       NULL, NULL, &p, NULL);
	if (r == 0)
		*out = p;
	return r;
}

int mps_namespace_set(mps_namespace_t *ns, const char *attr, const mps_var_t *value)
{
	if (!ns || check_attr(attr))
		return EINVAL;
	mps_var_t key = mps_str(attr);
	return mps_dict_set(&ns->dict, &key, value);
}

int mps_namespace_get(mps_namespace_t *ns, const char *attr, mps_var_t *value, mps_out_t out)
{
	if (!ns || check_attr(attr))
		return EINVAL;
	mps_var_t key = mps_str(attr);
	return mps_dict_get(&ns->dict, &key, value, out);
}

int mps_namespace_del(mps_namespace_t *ns, const char *attr)
{
	if (!ns || check_attr(attr))
		return EINVAL;
	mps_var_t key = mps_str(attr);
	return mps_dict_del(&ns->dict, &key);
}

bool mps_namespace_has(mps_namespace_t *ns, const char *attr)
{
	if (!ns || check_attr(attr))
		return false;
	mps_var_t key = mps_str(attr);
	return mps_dict_contains(&ns->dict, &key);
}

size_t mps_namespace_len(mps_namespace_t *ns)
{
	return ns ? mps_dict_len(&ns->dict) : 0;
}

/* ---- repr ---- */

/* A growing string in local memory; a failed allocation sticks. */
struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->failed || n == 0)
		return;
	if (n > SIZE_MAX / 4 - t->len) {
		t->failed = true;
		return;
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->len + n + 1) * 2;
		char *p = realloc(t->p, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = 0;
}

static void puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void put_hex(struct text *t, unsigned char c)
{
	char b[5];
	snprintf(b, sizeof b, "\\x%02x", c);
	put(t, b, 4);
}

/* Python chooses ' unless the text has ' and no ". */
static char quote_for(const unsigned char *s, size_t n)
{
	bool single = memchr(s, '\'', n) != NULL, dbl = memchr(s, '"', n) != NULL;
	return single && !dbl ? '"' : '\'';
}

/* Escapes common to bytes and str; false if c needs more thought. */
static bool put_simple(struct text *t, unsigned char c, char q)
{
	static const char *const esc[] = { ['\t'] = "\\t", ['\n'] = "\\n", ['\r'] = "\\r" };
	if (c == '\\' || c == (unsigned char)q) {
		char b[2] = { '\\', (char)c };
		put(t, b, 2);
	} else if (c < sizeof esc / sizeof esc[0] && esc[c]) {
		puts_(t, esc[c]);
	} else if (c < 0x20 || c == 0x7f) {
		put_hex(t, c);
	} else if (c < 0x7f) {
		put(t, (const char *)&c, 1);
	} else {
		return false;
	}
	return true;
}

static void repr_bytes(struct text *t, const unsigned char *s, size_t n)
{
	char q = quote_for(s, n);
	put(t, "b", 1);
	put(t, &q, 1);
	for (size_t i = 0; i < n; i++)
		if (!put_simple(t, s[i], q))
			put_hex(t, s[i]);
	put(t, &q, 1);
}

/* Length of the valid UTF-8 sequence at s (0 if invalid), its code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (!len || len > n || s[0] > 0xf4)
		return 0;
	uint32_t c = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))
		return 0;
	*cp = c;
	return len;
}

/* Whether Python's str.isprintable() accepts cp: not in the generated
 * table of refused ranges (tools/gen_printable.py). */
static bool printable(uint32_t cp)
{
	size_t lo = 0, hi = sizeof mps_unprintable / sizeof mps_unprintable[0];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < mps_unprintable[mid][0])
			hi = mid;
		else if (cp > mps_unprintable[mid][1])
			lo = mid + 1;
		else
			return false;
	}
	return true;
}

/* repr's escape of a refused code point: \xhh, \uhhhh or \Uhhhhhhhh. */
static void put_escape(struct text *t, uint32_t cp)
{
	char b[11];
	if (cp < 0x100)
		snprintf(b, sizeof b, "\\x%02x", (unsigned)cp);
	else if (cp < 0x10000)
		snprintf(b, sizeof b, "\\u%04x", (unsigned)cp);
	else
		snprintf(b, sizeof b, "\\U%08x", (unsigned)cp);
	puts_(t, b);
}

static void repr_str(struct text *t, const unsigned char *s, size_t n)
{
	char q = quote_for(s, n);
	put(t, &q, 1);
	for (size_t i = 0; i < n;) {
		if (put_simple(t, s[i], q)) {
			i++;
			continue;
		}
		uint32_t cp = 0;
		size_t len = utf8_seq(s + i, n - i, &cp);
		if (len && printable(cp))
			put(t, (const char *)s + i, len);   /* as is */
		else if (len)
			put_escape(t, cp);
		else
			put_hex(t, s[i]);                   /* not UTF-8: the byte */
		i += len ? len : 1;
	}
	put(t, &q, 1);
}

/* The fewest significant digits that read back to x (finite, non-zero):
 * digits[0..n), decimal exponent of the first; returns n. */
static int shortest(double x, char *digits, int *exp)
{
	char e[40];
	int p = 1;
	for (; p < 17; p++) {
		snprintf(e, sizeof e, "%.*e", p - 1, fabs(x));
		if (strtod(e, NULL) == fabs(x))
			break;
	}
	snprintf(e, sizeof e, "%.*e", p - 1, fabs(x));
	const char *s = e;
	int n = 0;
	digits[n++] = *s++;
	if (p > 1)
		s++;                      /* the decimal point, whatever the locale */
	while (*s >= '0' && *s <= '9')
		digits[n++] = *s++;
	*exp = atoi(s + 1);          /* past the 'e' */
	return n;
}

/* Python's float repr: fixed notation for exponents -4..15, else
 * d.ddde+XX; integral values keep a ".0". */
static void repr_float(struct text *t, double x)
{
	if (x != x || (x == x * 2 && x != 0)) {
		puts_(t, x != x ? "nan" : x > 0 ? "inf" : "-inf");
		return;
	}
	if (signbit(x))
		put(t, "-", 1);
	if (x == 0) {
		puts_(t, "0.0");
		return;
	}
	char d[24], out[64];
	int exp, nd = shortest(x, d, &exp), n;
	if (exp < -4 || exp >= 16)
		n = snprintf(out, sizeof out, "%c%s%.*se%c%02d", d[0], nd > 1 ? "." : "", nd - 1,
		             d + 1, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	else if (exp < 0)
		n = snprintf(out, sizeof out, "0.%.*s%.*s", -exp - 1, "0000", nd, d);
	else if (nd <= exp + 1)
		n = snprintf(out, sizeof out, "%.*s%.*s.0", nd, d, exp + 1 - nd, "0000000000000000");
	else
		n = snprintf(out, sizeof out, "%.*s.%.*s", exp + 1, d, nd - exp - 1, d + exp + 1);
	if (n > 0 && (size_t)n < sizeof out)
		put(t, out, (size_t)n);
}

static void repr_value(struct text *t, const mps_var_t *v)
{
	char b[48];
	switch (v->type) {
	case MPS_NONE:
		puts_(t, "None");
		break;
	case MPS_INT:
		snprintf(b, sizeof b, "%lld", (long long)v->i);
		puts_(t, b);
		break;
	case MPS_FLOAT:
		repr_float(t, v->f);
		break;
	case MPS_BYTES:
		repr_bytes(t, v->data, v->len);
		break;
	case MPS_STR:
		repr_str(t, v->data, v->len);
		break;
	case MPS_REF:
		snprintf(b, sizeof b, "<%s object>", mps_kind_name(mps_object_kind(v->ref)));
		puts_(t, b);
		break;
	}
}

static int cmp_items(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name=repr" for each pair, sorted; NULL items on ENOMEM. */
static int format_items(const struct mps_snap *s, char ***items, size_t *n)
{
	*n = s->n / 2;
	*items = calloc(*n ? *n : 1, sizeof **items);
	if (!*items)
		return ENOMEM;
	for (size_t i = 0; i < *n; i++) {
		struct text t = { 0 };
		put(&t, s->vars[2 * i].data, s->vars[2 * i].len);
		put(&t, "=", 1);
		repr_value(&t, &s->vars[2 * i + 1]);
		if (t.failed || !t.p) {
			free(t.p);
			return ENOMEM;
		}
		(*items)[i] = t.p;
	}
	qsort(*items, *n, sizeof **items, cmp_items);
	return 0;
}

int mps_namespace_repr(mps_namespace_t *ns, char *buf, size_t cap)
{
	if (!ns || (!buf && cap))
		return EINVAL;
	struct mps_snap s;
	int r = mps_dict_snapshot(&ns->dict, &s);
	if (r)
		return r;
	char **items = NULL;
	size_t n = 0;
	r = format_items(&s, &items, &n);
	struct text t = { 0 };
	puts_(&t, "Namespace(");
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (i)
			puts_(&t, ", ");
		puts_(&t, items[i]);
	}
	puts_(&t, ")");
	if (r == 0 && t.failed)
		r = ENOMEM;
	if (r == 0 && t.len + 1 > cap)
		r = ERANGE;
	if (r == 0)
		memcpy(buf, t.p, t.len + 1);
	for (size_t i = 0; items && i < n; i++)
		free(items[i]);
	free(items);
	free(t.p);
	mps_snap_free(&s);
	return r;
}

void mps_namespace_teardown(struct mps_seg_header *h, void *payload)
{
	mps_dict_teardown(h, payload);
}
