/* vlib/threads.h (mock): vlib_thread_main is in vlib.h. */
#include <vlib/vlib.h>
