/* vnet/ip/ip4_packet.h (mock): the IPv4 header, VPP's layout. */

#ifndef included_mock_ip4_packet_h
#define included_mock_ip4_packet_h

#include <vnet/ip/ip_types.h>

typedef struct
{
  u8 ip_version_and_header_length;
  u8 tos;
  u16 length;
  u16 fragment_id;
  u16 flags_and_fragment_offset;
  u8 ttl;
  u8 protocol;
  u16 checksum;
  ip4_address_t src_address;
  ip4_address_t dst_address;
} ip4_header_t;

_Static_assert(sizeof (ip4_header_t) == 20, "IPv4 header");

#endif
