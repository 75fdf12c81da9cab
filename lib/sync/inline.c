/* The exported out-of-line copies of the public functions whose bodies are
 * inline in the public headers (Lock and RLock acquire/release, Semaphore
 * acquire/release, Event set/is_set, Condition notify/notify_all): C
 * programs compile those bodies into themselves, but dlsym, the Python
 * module and other languages' FFIs look the names up in the library. With
 * MPS_INLINE empty, the headers' definitions are ordinary external ones. */
#ifndef MPS_INLINE
#define MPS_INLINE
#endif

#include <mpsync.h>
