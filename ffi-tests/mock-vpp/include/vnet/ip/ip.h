/* vnet/ip/ip.h (mock): the lookup nodes packets are sent to. */

#ifndef included_mock_ip_h
#define included_mock_ip_h

#include <vnet/vnet.h>
#include <vnet/ip/ip_packet.h>
#include <vnet/ip/ip_types.h>
#include <vnet/ip/ip4_packet.h>
#include <vnet/ip/ip6_packet.h>

extern vlib_node_registration_t ip4_lookup_node;
extern vlib_node_registration_t ip6_lookup_node;

#endif
