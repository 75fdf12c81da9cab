// Must not compile: the implementation is C. run.sh expects the header's
// own #error, not some later failure.
#define MPSYNC_IMPLEMENTATION
#include "mpsync.h"
