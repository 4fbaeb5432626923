/* vlib/cli.h (mock): nothing the tested shim files use. */
#include <vlib/vlib.h>
