/* vnet/ip/ip_types.h (mock): VPP's address types, same layout (the
   vpp_ipfix.h definitions step aside when __IP_TYPES_H__ is set). */

#ifndef __IP_TYPES_H__
#define __IP_TYPES_H__

#include <vppinfra/clib.h>

typedef union
{
  u8 data[4];
  u32 data_u32;
  u8 as_u8[4];
  u16 as_u16[2];
  u32 as_u32;
} ip4_address_t;

typedef union
{
  u8 as_u8[16];
  u16 as_u16[8];
  u32 as_u32[4];
  u64 as_u64[2];
} __clib_packed ip6_address_t;

typedef union
{
  struct
  {
    u32 pad[3];
    ip4_address_t ip4;
  };
  ip6_address_t ip6;
  u8 as_u8[16];
  u64 as_u64[2];
} __clib_packed ip46_address_t;

typedef enum __clib_packed ip_address_family_t_
{
  AF_IP4,
  AF_IP6,
} ip_address_family_t;

typedef struct ip_address
{
  ip46_address_t ip;
  ip_address_family_t version;
} __clib_packed ip_address_t;

_Static_assert(sizeof (ip_address_t) == 17, "VPP's size");

#define ip_addr_version(_a) (_a)->version

always_inline int
ip_address_is_zero (const ip_address_t *a)
{
  return a->ip.as_u64[0] == 0 && a->ip.as_u64[1] == 0;
}

#endif /* __IP_TYPES_H__ */
