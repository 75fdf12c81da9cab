/* Namespace repr against Python's own repr() for every code point (issue 11
 * item 3): strings of every Unicode scalar value, 4096 code points at a
 * time, go into a Namespace; mps_namespace_repr must print each exactly as
 * python3 prints repr() of the same string. python3 runs here (tools/run.sh
 * installs it); its Unicode version must be the one the table was generated
 * from (lib/segment/unicode_printable.h), or the comparison means nothing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsync/container.h>
#include "../lib/segment/unicode_printable.h"
#include "harness.h"
#include "segtest.h"

#define CHUNK   4096
#define SEG     (1u << 20)
#define REPR_MAX (16 * CHUNK + 64)

static const char script[] =
	"import sys, unicodedata\n"
	"print(unicodedata.unidata_version)\n"
	"for i in range(0, 0x110000, 4096):\n"
	"    print(repr(''.join(chr(c) for c in range(i, min(i + 4096, 0x110000))\n"
	"                       if not 0xd800 <= c < 0xe000)))\n";

static size_t utf8(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* The UTF-8 of the chunk starting at first, surrogates left out. */
static size_t chunk(uint32_t first, char *out)
{
	size_t n = 0;
	for (uint32_t c = first; c < first + CHUNK && c < 0x110000; c++)
		if (c < 0xd800 || c >= 0xe000)
			n += utf8(c, out + n);
	return n;
}

static char *line(FILE *f, char **buf, size_t *cap)
{
	ssize_t n = getline(buf, cap, f);
	if (n <= 0)
		return NULL;
	if ((*buf)[n - 1] == '\n')
		(*buf)[n - 1] = 0;
	return *buf;
}

Test(repr, every_code_point_as_python)
{
	cr_assert_eq(setenv("MPS_REPR_SCRIPT", script, 1), 0);
	FILE *py = popen("PYTHONIOENCODING=utf-8 python3 -c \"$MPS_REPR_SCRIPT\"", "r");
	cr_assert(py, "cannot run python3");
	mps_segment_t *seg = segtest_anon(SEG);
	mps_namespace_t *ns = NULL;
	cr_assert_eq(mps_segment_namespace(seg, "ns", MPS_CREATE_ONLY, &ns), 0);
	char *text = malloc(4 * CHUNK), *got = malloc(REPR_MAX), *want = NULL;
	size_t cap = 0;
	cr_assert(text && got);
	cr_assert(line(py, &want, &cap), "python3 printed nothing");
	cr_assert_str_eq(want, MPS_UNICODE_VERSION, "python3 has Unicode %s, the table %s: "
	                 "regenerate it with tools/gen_printable.py", want, MPS_UNICODE_VERSION);
	int bad = 0, chunks = 0;
	for (uint32_t first = 0; first < 0x110000; first += CHUNK, chunks++) {
		mps_var_t v = mps_bytes(text, chunk(first, text));
		v.type = MPS_STR;
		cr_assert_eq(mps_namespace_set(ns, "s", &v), 0);
		cr_assert_eq(mps_namespace_repr(ns, got, REPR_MAX), 0);
		cr_assert(line(py, &want, &cap), "python3 stopped at U+%04X", first);
		size_t len = strlen(got);
		cr_assert(strncmp(got, "Namespace(s=", 12) == 0 && got[len - 1] == ')');
		got[len - 1] = 0;
		if (strcmp(got + 12, want) != 0 && bad++ < 5) {
			size_t i = 0;
			while (got[12 + i] && got[12 + i] == want[i])
				i++;
			cr_log_error("U+%04X..: repr differs at byte %zu: got \"%.40s\", python3 \"%.40s\"",
			             first, i, got + 12 + i, want + i);
		}
	}
	cr_assert_eq(chunks, 0x110000 / CHUNK);
	cr_assert_eq(pclose(py), 0, "python3 failed");
	cr_assert_eq(bad, 0, "%d of %d chunks differ from python3's repr", bad, chunks);
	free(text);
	free(got);
	free(want);
	cr_assert_eq(mps_segment_close(seg), 0);
}

/* The code points issue 11 names, one by one. */
Test(repr, named_separators_and_format_characters)
{
	static const struct {
		uint32_t cp;
		const char *repr;
	} cases[] = {
		{ 0x2028, "'\\u2028'" }, { 0x3000, "'\\u3000'" }, { 0x200b, "'\\u200b'" },
		{ 0xfeff, "'\\ufeff'" }, { 0xe000, "'\\ue000'" }, { 0x0378, "'\\u0378'" },
		{ 0x00a0, "'\\xa0'" },   { 0x00ad, "'\\xad'" },   { 0x00e9, "'\xc3\xa9'" },
		{ 0x10ffff, "'\\U0010ffff'" }, { 0x1f600, "'\xf0\x9f\x98\x80'" },
	};
	mps_segment_t *seg = segtest_anon(SEG);
	mps_namespace_t *ns = NULL;
	cr_assert_eq(mps_segment_namespace(seg, "ns", MPS_CREATE_ONLY, &ns), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char u[4], got[64], want[64];
		mps_var_t v = mps_bytes(u, utf8(cases[i].cp, u));
		v.type = MPS_STR;
		cr_assert_eq(mps_namespace_set(ns, "a", &v), 0);
		cr_assert_eq(mps_namespace_repr(ns, got, sizeof got), 0);
		snprintf(want, sizeof want, "Namespace(a=%s)", cases[i].repr);
		cr_assert_str_eq(got, want, "U+%04X", cases[i].cp);
	}
	cr_assert_eq(mps_segment_close(seg), 0);
}
