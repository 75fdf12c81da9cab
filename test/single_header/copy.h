/* What each private copy of mpsync (copy.c built twice) offers the program
 * of the two-copies test: a few calls through a table, so the two "libraries"
 * export one symbol each and nothing of mpsync. */
#ifndef COPY_H
#define COPY_H

#include "mpsync.h"

struct copy_ops {
	const char *name;
	int  (*segment_create)(const char *name, size_t size, mps_segment_t **out);
	int  (*segment_open)(const char *name, mps_segment_t **out);
	int  (*segment_close)(mps_segment_t *seg);
	int  (*segment_unlink)(const char *name);
	int  (*segment_lock)(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
	                     mps_lock_t **out);
	int  (*segment_event)(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
	                      mps_event_t **out);
	int  (*segment_dict)(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
	                     mps_dict_t **out);
	int  (*lock_acquire)(mps_lock_t *l, double timeout);
	int  (*lock_release)(mps_lock_t *l);
	bool (*lock_locked)(const mps_lock_t *l);
	void (*event_set)(mps_event_t *e);
	int  (*event_wait)(mps_event_t *e, double timeout);
	int  (*dict_set)(mps_dict_t *d, const mps_var_t *key, const mps_var_t *value);
	int  (*dict_get)(mps_dict_t *d, const mps_var_t *key, mps_var_t *value, mps_out_t out);
};

extern const struct copy_ops copy_a, copy_b;

#endif
