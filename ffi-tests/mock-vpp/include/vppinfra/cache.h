/* vppinfra/cache.h (mock): nothing the shim uses beyond clib.h. */
#include <vppinfra/vec.h>
