/* placeholder until queue.c lands */
#include "seg.h"
void mps_queue_teardown(struct mps_seg_header *h, void *payload) { (void)h; (void)payload; }
