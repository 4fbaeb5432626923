/*
 * vpp_no_poison.h: included before everything in the fuzzer's objects.
 *
 * VPP's headers poison and unpoison its heap for AddressSanitizer in their
 * inline vector code whenever the compiler sanitizes addresses. The VPP
 * libraries the fuzzer links are not built so: their vectors grow over
 * memory our objects poisoned, and our objects then report reads of valid
 * data. Poisoning is turned off here (asan_interface.h has an include guard,
 * so VPP's include of it keeps these); ASan still checks our code's stack,
 * globals and malloc'd memory.
 */

#include <sanitizer/asan_interface.h>

#undef ASAN_POISON_MEMORY_REGION
#undef ASAN_UNPOISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(addr, size)	((void) (addr), (void) (size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void) (addr), (void) (size))
