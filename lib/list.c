/* placeholder until list.c lands */
#include "seg.h"
void mps_list_teardown(struct mps_seg_header *h, void *payload) { (void)h; (void)payload; }
