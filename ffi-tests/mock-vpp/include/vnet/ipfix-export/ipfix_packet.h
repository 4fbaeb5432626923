/* vnet/ipfix-export/ipfix_packet.h (mock): VPP's IPFIX wire structs (all
   fields in network byte order). */

#ifndef included_mock_ipfix_packet_h
#define included_mock_ipfix_packet_h

#include <vppinfra/clib.h>

typedef struct
{
  u32 version_length;
  u32 export_time;
  u32 sequence_number;
  u32 domain_id;
} ipfix_message_header_t;

typedef struct
{
  u32 set_id_length;
} ipfix_set_header_t;

typedef struct
{
  u32 id_count;
} ipfix_template_header_t;

typedef struct
{
  u32 e_id_length;
} ipfix_field_specifier_t;

typedef struct
{
  ipfix_message_header_t h;
  ipfix_set_header_t s;
  ipfix_template_header_t t;
  ipfix_field_specifier_t fields[0];
} ipfix_template_packet_t;

#endif
