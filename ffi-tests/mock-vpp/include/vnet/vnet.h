/* vnet/vnet.h (mock): vnet_main_t and the vnet buffer opaque area. */

#ifndef included_mock_vnet_h
#define included_mock_vnet_h

#include <vlib/vlib.h>

typedef struct
{
  u32 mock_unused;
} vnet_main_t;

vnet_main_t *vnet_get_main (void);

/* VPP's vnet buffer flags are user flags counted from the top bit. */
#define VNET_BUFFER_F_FLOW_REPORT VLIB_BUFFER_FLAG_USER (15)

/* The start of VPP's vnet_buffer_opaque_t. */
typedef struct
{
  u32 sw_if_index[VLIB_N_RX_TX];
} vnet_buffer_opaque_t;

#define vnet_buffer(b) ((vnet_buffer_opaque_t *) (b)->opaque)

#endif
