/* The one file that holds the single header's implementation, for the C++
 * consumer and the Criterion suites built against the single header. */
#define MPSYNC_IMPLEMENTATION
#include <mpsync.h>
