/* placeholder until var.c lands */
#include "seg.h"
