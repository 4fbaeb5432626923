/* vnet/ethernet/packet.h (mock): nothing the shim uses. */
#include <vppinfra/clib.h>
