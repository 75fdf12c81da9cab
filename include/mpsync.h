/* mpsync: Python's multiprocessing synchronization primitives rebuilt in C
 * for Linux. Every object is a few bytes of plain memory, usable in any
 * MAP_SHARED mapping at any address, driven by shared futex syscalls. */
#ifndef MPSYNC_H
#define MPSYNC_H

#include "mpsync/common.h"
#include "mpsync/lock.h"
#include "mpsync/rlock.h"
#include "mpsync/sem.h"
#include "mpsync/event.h"
#include "mpsync/cond.h"
#include "mpsync/barrier.h"
#include "mpsync/segment.h"
#include "mpsync/value.h"
#include "mpsync/queue.h"
#include "mpsync/container.h"

#define MPSYNC_VERSION_MAJOR 0
#define MPSYNC_VERSION_MINOR 1
#define MPSYNC_VERSION_PATCH 0

#endif
