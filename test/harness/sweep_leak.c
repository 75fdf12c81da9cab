/* The crash costs a sweep case may allow (sweep.h: SWEEP_LEAK_REF and
 * SWEEP_LEAK_OWN), judged on the observation texts line by line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

/* The object a "refs=" at p (inside line) counts: the name in "<kind name
 * refs=N>", else the line's first word. */
static void refs_owner(const char *line, const char *p, char *name, size_t cap)
{
	const char *lt = NULL;
	for (const char *q = line; q < p; q++)
		if (*q == '<')
			lt = q;
		else if (*q == '>')
			lt = NULL;
	const char *w = line;
	if (lt) {
		w = strchr(lt, ' ');
		w = w && w < p ? w + 1 : p;
	}
	size_t n = strcspn(w, " \n");
	snprintf(name, cap, "%.*s", (int)(n < cap ? n : cap - 1), w);
}

static long number_at(const char **p)
{
	char *end;
	long v = strtol(*p, &end, 10);
	*p = end;
	return v;
}

/* One line of got against want: equal but for reference counts, each
 * higher in got (by exactly one, on the object *owner, for SWEEP_LEAK_REF). */
static bool refs_only(const char *g, const char *w, int leak, char *owner, size_t cap)
{
	const char *gl = g;
	while (*g && *g != '\n' && *w && *w != '\n') {
		if (*g == *w) {
			g++, w++;
			continue;
		}
		while (g > gl && g[-1] >= '0' && g[-1] <= '9')
			g--, w--;
		if (g - gl < 5 || strncmp(g - 5, "refs=", 5) != 0)
			return false;
		char name[MPS_OBJ_NAME_MAX + 1];
		refs_owner(gl, g, name, sizeof name);
		long delta = number_at(&g) - number_at(&w);
		if (delta < 1 || (leak == SWEEP_LEAK_REF && delta != 1))
			return false;
		if (leak == SWEEP_LEAK_REF && *owner && strcmp(owner, name) != 0)
			return false;
		snprintf(owner, cap, "%s", name);
	}
	return (*g == '\n' || !*g) && (*w == '\n' || !*w);
}

/* The segment line of got against want under SWEEP_LEAK_OWN: one object
 * more at most, space lost, nothing else different. */
static bool segment_leak(const char *g, const char *w)
{
	int gr, wr, gc, wc;
	unsigned go, wo, gn, wn;
	unsigned long long gf, wf, gu, wu;
	const char *fmt = "segment: info %d objects=%u names=%u free_bytes=%llu heap_check=%d "
	                  "used_blocks=%llu";
	return sscanf(g, fmt, &gr, &go, &gn, &gf, &gc, &gu) == 6 &&
	       sscanf(w, fmt, &wr, &wo, &wn, &wf, &wc, &wu) == 6 && gr == wr && gn == wn &&
	       gc == 0 && wc == 0 && (go == wo || go == wo + 1) && gf <= wf && gu >= wu;
}

bool sweep_leak_match(const char *got, const char *want, int leak)
{
	char owner[MPS_OBJ_NAME_MAX + 1] = "";
	while (*got && *want) {
		size_t gl = strcspn(got, "\n"), wl = strcspn(want, "\n");
		bool same = gl == wl && memcmp(got, want, gl) == 0;
		if (!same && strncmp(got, "segment:", 8) == 0) {
			if (leak != SWEEP_LEAK_OWN || !segment_leak(got, want))
				return false;
		} else if (!same && !refs_only(got, want, leak, owner, sizeof owner)) {
			return false;
		}
		got += gl + (got[gl] == '\n');
		want += wl + (want[wl] == '\n');
	}
	return !*got && !*want;
}
