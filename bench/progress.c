/* The progress line on stderr: rewritten in place on a terminal; otherwise
 * (a log, a CI job) at most one line a second. */
#include <stdarg.h>
#include <unistd.h>

#include "bench.h"

static int64_t started, last;
static int tty = -1;

void progress(const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	int64_t now = now_ns();
	if (tty < 0) {
		tty = isatty(2);
		started = now;
	}
	if (!tty && now - last < 1000000000LL)
		return;
	last = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, tty ? "\r\033[K[%6.1fs] %s" : "[%6.1fs] %s\n",
	        (double)(now - started) / 1e9, msg);
	fflush(stderr);
}

void progress_done(void)
{
	if (tty > 0)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}
