/* vnet/ip/ip_packet.h (mock): protocol numbers. */

#ifndef included_mock_ip_packet_h
#define included_mock_ip_packet_h

#include <vppinfra/clib.h>

#define IP_PROTOCOL_UDP 17

#endif
