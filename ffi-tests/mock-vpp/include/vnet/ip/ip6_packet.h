/* vnet/ip/ip6_packet.h (mock): the IPv6 header, VPP's layout. */

#ifndef included_mock_ip6_packet_h
#define included_mock_ip6_packet_h

#include <vnet/ip/ip_types.h>

typedef struct
{
  u32 ip_version_traffic_class_and_flow_label;
  u16 payload_length;
  u8 protocol;
  u8 hop_limit;
  ip6_address_t src_address;
  ip6_address_t dst_address;
} ip6_header_t;

_Static_assert(sizeof (ip6_header_t) == 40, "IPv6 header");

#endif
