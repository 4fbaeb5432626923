/*
 * flow_report_api.c: the binary API of ipfix_export.api, served by the core.
 *
 * Same messages, defaults, checks and return codes as VPP's flow_api.c;
 * exporters are created, updated and deleted through the core (at most
 * IPFIX_EXPORTERS_MAX, exporter 0 never deleted). The classifier messages
 * drive flow_report_classify.c exactly as VPP does.
 */

#include <vnet/vnet.h>
#include <vlibmemory/api.h>
#include <vnet/ip/ip_types_api.h>
#include <vnet/udp/udp_local.h>

#include <vnet/interface.h>
#include <vnet/api_errno.h>

#include <vnet/fib/fib_table.h>
#include <vnet/ipfix-export/flow_report.h>
#include <vnet/ipfix-export/flow_report_classify.h>

#include <vnet/format_fns.h>
#include <vnet/ipfix-export/ipfix_export.api_enum.h>
#include <vnet/ipfix-export/ipfix_export.api_types.h>

#define REPLY_MSG_ID_BASE frm->msg_id_base
#include <vlibapi/api_helper_macros.h>

/* The exporter fields every exporter message carries, in host order. */
typedef struct
{
  ip_address_t collector;
  u16 collector_port;
  ip_address_t src_address;
  u32 vrf_id;
  u32 path_mtu;
  u32 template_interval;
  u8 udp_checksum;
} flow_api_exporter_msg_t;

#define flow_api_exporter_msg_decode(m, mp)                                    \
  do                                                                           \
    {                                                                          \
      ip_address_decode2 (&(mp)->collector_address, &(m)->collector);          \
      (m)->collector_port = ntohs ((mp)->collector_port);                      \
      ip_address_decode2 (&(mp)->src_address, &(m)->src_address);              \
      (m)->vrf_id = ntohl ((mp)->vrf_id);                                      \
      (m)->path_mtu = ntohl ((mp)->path_mtu);                                  \
      (m)->template_interval = ntohl ((mp)->template_interval);                \
      (m)->udp_checksum = (mp)->udp_checksum;                                  \
    }                                                                          \
  while (0)

/*
 * VPP's defaults (~0 = default) and checks, giving VPP's codes; the core
 * checks again and adds its own (template interval 0, templates or records
 * that no longer fit the MTU).
 */
static int
flow_api_exporter_config (const flow_api_exporter_msg_t *m,
			  vpp_ipfix_exporter_config_t *c)
{
  vpp_ipfix_exporter_config_init (c);
  c->collector = m->collector;
  c->src_address = m->src_address;
  c->collector_port =
    m->collector_port == (u16) ~0 ? UDP_DST_PORT_ipfix : m->collector_port;
  c->path_mtu = m->path_mtu == ~0 ? 512 : m->path_mtu;
  c->template_interval = m->template_interval == ~0 ? 20 : m->template_interval;
  c->udp_checksum = m->udp_checksum;

  /* The table of the collector's family (VPP looked in IPv4's only). */
  c->fib_index = ~0;
  if (m->vrf_id != ~0)
    {
      c->fib_index = fib_table_find (
	ip_address_family_to_fib_proto (m->collector.version), m->vrf_id);
      if (c->fib_index == ~0)
	return VNET_API_ERROR_NO_SUCH_FIB;
    }

  /* Collector 0 disables the exporter; else it needs a source. */
  if (!ip_address_is_zero (&c->collector) &&
      ip_address_is_zero (&c->src_address))
    return VNET_API_ERROR_INVALID_VALUE;
  if (c->collector.version != c->src_address.version)
    return VNET_API_ERROR_INVALID_VALUE;
  if (c->path_mtu > 1450 /* vpp does not support fragmentation */ ||
      c->path_mtu < 68)
    return VNET_API_ERROR_INVALID_VALUE;
  return 0;
}

static u32
flow_api_vrf_id (const ipfix_exporter_t *exp)
{
  if (exp->fib_index == ~0)
    return ~0;
  return fib_table_get_table_id (
    exp->fib_index,
    ip_address_family_to_fib_proto (exp->ipfix_collector.version));
}

static void
vl_api_set_ipfix_exporter_t_handler (vl_api_set_ipfix_exporter_t *mp)
{
  flow_report_main_t *frm = &flow_report_main;
  vl_api_set_ipfix_exporter_reply_t *rmp;
  flow_api_exporter_msg_t m;
  vpp_ipfix_exporter_config_t c;
  int rv;

  /* As VPP: nothing is done for a client that is not registered. */
  if (!vl_api_client_index_to_registration (mp->client_index))
    return;

  flow_api_exporter_msg_decode (&m, mp);
  /* Exporter 0's collector is IPv4, whatever the message says. */
  clib_memset (&m.collector, 0, sizeof (m.collector));
  m.collector.version = AF_IP4;
  ip4_address_decode (mp->collector_address.un.ip4, &m.collector.ip.ip4);

  rv = flow_api_exporter_config (&m, &c);
  if (rv == 0)
    rv = vpp_ipfix_exporter_set (frm->core, 0, &c);
  if (rv == 0)
    flow_report_process_kick (vlib_get_main ());

  REPLY_MACRO (VL_API_SET_IPFIX_EXPORTER_REPLY);
}

/* Create (or update the exporter with this collector), or delete. */
static int
flow_api_exporter_create_delete (const flow_api_exporter_msg_t *m,
				 int is_create, u32 *index)
{
  flow_report_main_t *frm = &flow_report_main;
  vpp_ipfix_exporter_config_t c;
  int rv;

  if (!is_create)
    {
      if (vpp_ipfix_exporter_lookup (frm->core, &m->collector, index))
	return VNET_API_ERROR_NO_SUCH_ENTRY;
      return vpp_ipfix_exporter_delete (frm->core, *index);
    }

  if ((rv = flow_api_exporter_config (m, &c)))
    return rv;
  if ((rv = vpp_ipfix_exporter_create (frm->core, &c, index)))
    return rv;
  flow_report_process_kick (vlib_get_main ());
  return 0;
}

static void
vl_api_ipfix_exporter_create_delete_t_handler (
  vl_api_ipfix_exporter_create_delete_t *mp)
{
  flow_report_main_t *frm = &flow_report_main;
  vl_api_ipfix_exporter_create_delete_reply_t *rmp;
  flow_api_exporter_msg_t m;
  u32 index = ~0;
  int rv;

  if (!vl_api_client_index_to_registration (mp->client_index))
    return;

  flow_api_exporter_msg_decode (&m, mp);
  rv = flow_api_exporter_create_delete (&m, mp->is_create, &index);

  REPLY_MACRO2 (VL_API_IPFIX_EXPORTER_CREATE_DELETE_REPLY,
		({ rmp->stat_index = htonl (rv == 0 ? index : ~0); }));
}

/* Fills the exporter fields the details messages share. */
#define flow_api_exporter_fill_details(rmp, exp)                               \
  do                                                                           \
    {                                                                          \
      clib_memset (&(rmp)->collector_address, 0,                               \
		   sizeof ((rmp)->collector_address));                         \
      clib_memset (&(rmp)->src_address, 0, sizeof ((rmp)->src_address));       \
      ip_address_encode2 (&(exp)->ipfix_collector, &(rmp)->collector_address); \
      (rmp)->collector_port = htons ((exp)->collector_port);                   \
      ip_address_encode2 (&(exp)->src_address, &(rmp)->src_address);           \
      (rmp)->vrf_id = htonl (flow_api_vrf_id (exp));                           \
      (rmp)->path_mtu = htonl ((exp)->path_mtu);                               \
      (rmp)->template_interval = htonl ((exp)->template_interval);             \
      (rmp)->udp_checksum = ((exp)->udp_checksum != 0);                        \
    }                                                                          \
  while (0)

static void
vl_api_ipfix_exporter_dump_t_handler (vl_api_ipfix_exporter_dump_t *mp)
{
  flow_report_main_t *frm = &flow_report_main;
  ipfix_exporter_t *exp = flow_report_exporter_at (0);
  vl_api_ipfix_exporter_details_t *rmp;
  vl_api_registration_t *reg;

  reg = vl_api_client_index_to_registration (mp->client_index);
  if (!reg || !exp)
    return;

  rmp = vl_msg_api_alloc (sizeof (*rmp));
  clib_memset (rmp, 0, sizeof (*rmp));
  rmp->_vl_msg_id = ntohs ((REPLY_MSG_ID_BASE) + VL_API_IPFIX_EXPORTER_DETAILS);
  rmp->context = mp->context;
  flow_api_exporter_fill_details (rmp, exp);

  vl_api_send_msg (reg, (u8 *) rmp);
}

/* The first exporter in use at `index` or after it, ~0 when none. */
static u32
flow_api_exporter_from (u32 index)
{
  for (; index < IPFIX_EXPORTERS_MAX; index++)
    if (flow_report_exporter_at (index))
      return index;
  return ~0;
}

static void
flow_api_send_all_exporter_details (flow_report_main_t *frm, u32 index,
				    vl_api_registration_t *rp, u32 context)
{
  ipfix_exporter_t *exp = flow_report_exporter_at (index);
  vl_api_ipfix_all_exporter_details_t *rmp;

  REPLY_MACRO_DETAILS4 (VL_API_IPFIX_ALL_EXPORTER_DETAILS, rp, context,
			({ flow_api_exporter_fill_details (rmp, exp); }));
}

/*
 * VPP's REPLY_AND_DETAILS_MACRO walks the pool; the core's slots not in
 * use are not marked free there, so walk the slots the core reports.
 */
static void
vl_api_ipfix_all_exporter_get_t_handler (vl_api_ipfix_all_exporter_get_t *mp)
{
  flow_report_main_t *frm = &flow_report_main;
  vl_api_ipfix_all_exporter_get_reply_t *rmp;
  vlib_main_t *vm = vlib_get_main ();
  vl_api_registration_t *rp;
  u32 cursor = ntohl (mp->cursor);
  f64 start = vlib_time_now (vm);
  int rv = 0;

  rp = vl_api_client_index_to_registration (mp->client_index);
  if (!rp)
    return;

  cursor = cursor < IPFIX_EXPORTERS_MAX ? flow_api_exporter_from (cursor) : ~0;
  if (cursor == ~0)
    rv = VNET_API_ERROR_INVALID_VALUE;

  while (cursor != ~0)
    {
      flow_api_send_all_exporter_details (frm, cursor, rp, mp->context);
      cursor = flow_api_exporter_from (cursor + 1);
      if (vl_api_process_may_suspend (vm, rp, start))
	{
	  if (cursor != ~0)
	    rv = VNET_API_ERROR_EAGAIN;
	  break;
	}
    }

  REPLY_MACRO2 (VL_API_IPFIX_ALL_EXPORTER_GET_REPLY,
		({ rmp->cursor = htonl (cursor); }));
}

static void
vl_api_set_ipfix_classify_stream_t_handler (
  vl_api_set_ipfix_classify_stream_t *mp)
{
  vl_api_set_ipfix_classify_stream_reply_t *rmp;
  flow_report_classify_main_t *fcm = &flow_report_classify_main;
  flow_report_main_t *frm = &flow_report_main;
  ipfix_exporter_t *exp = flow_report_exporter_at (0);
  u32 domain_id = ntohl (mp->domain_id);
  u16 src_port = ntohs (mp->src_port);
  int rv = 0;

  /* Re-key the classifier's stream when it exists already. */
  if (fcm->src_port != 0 &&
      (fcm->domain_id != domain_id || fcm->src_port != src_port))
    {
      int rc = vnet_stream_change (exp, fcm->domain_id, fcm->src_port,
				   domain_id, src_port);
      ASSERT (rc == 0 || rc == 1);
    }

  fcm->domain_id = domain_id;
  fcm->src_port = src_port;

  REPLY_MACRO (VL_API_SET_IPFIX_CLASSIFY_STREAM_REPLY);
}

static void
vl_api_ipfix_classify_stream_dump_t_handler (
  vl_api_ipfix_classify_stream_dump_t *mp)
{
  flow_report_classify_main_t *fcm = &flow_report_classify_main;
  flow_report_main_t *frm = &flow_report_main;
  vl_api_ipfix_classify_stream_details_t *rmp;
  vl_api_registration_t *reg;

  reg = vl_api_client_index_to_registration (mp->client_index);
  if (!reg)
    return;

  /* With the message id base (VPP's own handler left it out). */
  rmp = vl_msg_api_alloc (sizeof (*rmp));
  clib_memset (rmp, 0, sizeof (*rmp));
  rmp->_vl_msg_id =
    ntohs ((REPLY_MSG_ID_BASE) + VL_API_IPFIX_CLASSIFY_STREAM_DETAILS);
  rmp->context = mp->context;
  rmp->domain_id = htonl (fcm->domain_id);
  rmp->src_port = htons (fcm->src_port);

  vl_api_send_msg (reg, (u8 *) rmp);
}

/* The classifier table entry for `classify_table_index`, NULL if none. */
static ipfix_classify_table_t *
flow_api_classify_table_find (u32 classify_table_index)
{
  flow_report_classify_main_t *fcm = &flow_report_classify_main;
  u32 i;

  for (i = 0; i < vec_len (fcm->tables); i++)
    if (ipfix_classify_table_index_valid (i) &&
	fcm->tables[i].classify_table_index == classify_table_index)
      return &fcm->tables[i];
  return 0;
}

static int
flow_api_classify_table_add_del (u32 classify_table_index, u8 ip_version,
				 u8 transport_protocol, int is_add)
{
  flow_report_classify_main_t *fcm = &flow_report_classify_main;
  vnet_flow_report_add_del_args_t args;
  ipfix_classify_table_t *table;
  int rv;

  /* call set_ipfix_classify_stream first */
  if (fcm->src_port == 0)
    return VNET_API_ERROR_UNSPECIFIED;

  table = flow_api_classify_table_find (classify_table_index);
  if (is_add && table)
    return VNET_API_ERROR_VALUE_EXIST;
  if (!is_add && !table)
    return VNET_API_ERROR_NO_SUCH_ENTRY;
  if (is_add)
    {
      table = ipfix_classify_add_table ();
      table->classify_table_index = classify_table_index;
    }
  table->ip_version = ip_version;
  table->transport_protocol = transport_protocol;

  clib_memset (&args, 0, sizeof (args));
  args.opaque.as_uword = table - fcm->tables;
  args.rewrite_callback = ipfix_classify_template_rewrite;
  args.flow_data_callback = ipfix_classify_send_flows;
  args.is_add = is_add;
  args.domain_id = fcm->domain_id;
  args.src_port = fcm->src_port;

  rv = vnet_flow_report_add_del (flow_report_exporter_at (0), &args, 0);

  /* If deleting, or add failed */
  if (!is_add || rv)
    ipfix_classify_delete_table (table - fcm->tables);
  return rv;
}

static void
vl_api_ipfix_classify_table_add_del_t_handler (
  vl_api_ipfix_classify_table_add_del_t *mp)
{
  vl_api_ipfix_classify_table_add_del_reply_t *rmp;
  flow_report_main_t *frm = &flow_report_main;
  int rv;

  if (!vl_api_client_index_to_registration (mp->client_index))
    return;

  rv = flow_api_classify_table_add_del (ntohl (mp->table_id),
					mp->ip_version == ADDRESS_IP4 ? 4 : 6,
					mp->transport_protocol, mp->is_add);

  /* Its own reply (VPP's handler answered set_ipfix_classify_stream's). */
  REPLY_MACRO (VL_API_IPFIX_CLASSIFY_TABLE_ADD_DEL_REPLY);
}

static void
flow_api_send_classify_table_details (u32 table_index,
				      vl_api_registration_t *reg, u32 context)
{
  flow_report_classify_main_t *fcm = &flow_report_classify_main;
  flow_report_main_t *frm = &flow_report_main;
  ipfix_classify_table_t *table = &fcm->tables[table_index];
  vl_api_ipfix_classify_table_details_t *mp;

  mp = vl_msg_api_alloc (sizeof (*mp));
  clib_memset (mp, 0, sizeof (*mp));
  mp->_vl_msg_id =
    ntohs ((REPLY_MSG_ID_BASE) + VL_API_IPFIX_CLASSIFY_TABLE_DETAILS);
  mp->context = context;
  mp->table_id = htonl (table->classify_table_index);
  mp->ip_version = (table->ip_version == 4) ? ADDRESS_IP4 : ADDRESS_IP6;
  mp->transport_protocol = table->transport_protocol;

  vl_api_send_msg (reg, (u8 *) mp);
}

static void
vl_api_ipfix_classify_table_dump_t_handler (
  vl_api_ipfix_classify_table_dump_t *mp)
{
  flow_report_classify_main_t *fcm = &flow_report_classify_main;
  vl_api_registration_t *reg;
  u32 i;

  reg = vl_api_client_index_to_registration (mp->client_index);
  if (!reg)
    return;

  for (i = 0; i < vec_len (fcm->tables); i++)
    if (ipfix_classify_table_index_valid (i))
      flow_api_send_classify_table_details (i, reg, mp->context);
}

static void
vl_api_ipfix_flush_t_handler (vl_api_ipfix_flush_t *mp)
{
  flow_report_main_t *frm = &flow_report_main;
  vl_api_ipfix_flush_reply_t *rmp;
  int rv = 0;

  if (!vl_api_client_index_to_registration (mp->client_index))
    return;

  flow_report_flush (vlib_get_main ());

  REPLY_MACRO (VL_API_IPFIX_FLUSH_REPLY);
}

#include <vnet/ipfix-export/ipfix_export.api.c>

static clib_error_t *
flow_api_hookup (vlib_main_t *vm)
{
  flow_report_main_t *frm = &flow_report_main;

  /* Set up the (msg_name, crc, message-id) table */
  REPLY_MSG_ID_BASE = setup_message_id_table ();
  return 0;
}

VLIB_API_INIT_FUNCTION (flow_api_hookup);
