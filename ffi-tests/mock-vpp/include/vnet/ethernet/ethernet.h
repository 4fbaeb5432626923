/* vnet/ethernet/ethernet.h (mock): nothing the shim uses. */
#include <vnet/vnet.h>
