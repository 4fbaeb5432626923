/* hello.c: the smallest program using an installed vpp-ipfix, found with
   pkg-config:

     cc hello.c $(pkg-config --cflags --libs vpp-ipfix) -o hello
     ./hello [out.pcap]

   It exports a few flow records to 127.0.0.1 through exporter 0, into a pcap
   file (hello.pcap by default), and prints "hello: ok". tests/install.rs builds
   it against a `make install` copy, linked both shared and static. */

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vpp_ipfix.h>

#define N_RECORDS 5

static int
check (const char *what, int32_t rv)
{
  if (rv != VPP_IPFIX_OK)
    fprintf (stderr, "hello: %s: %s (%d)\n", what, vpp_ipfix_strerror (rv),
	     (int) rv);
  return rv == VPP_IPFIX_OK;
}

int
main (int argc, char **argv)
{
  const char *pcap = argc > 1 ? argv[1] : "hello.pcap";
  vpp_ipfix_main_t *vim = NULL;

  /* One exporting thread, VPP's five exporter slots. */
  if (!check ("create", vpp_ipfix_main_create_pcap (pcap, 1, 0, &vim)))
    return 1;

  vpp_ipfix_exporter_config_t cfg;
  vpp_ipfix_exporter_config_init (&cfg);
  cfg.collector.ip.ip4.as_u32 = htonl (0x7f000001);   /* 127.0.0.1 */
  cfg.collector.version = 0;			      /* AF_IP4 */
  cfg.src_address.ip.ip4.as_u32 = htonl (0x7f000002); /* 127.0.0.2 */
  cfg.src_address.version = 0;
  cfg.path_mtu = 1450;

  /* sourceIPv4Address, destinationIPv4Address, octetDeltaCount: 16 bytes. */
  ipfix_report_element_t elts[] = { { 8, 4 }, { 12, 4 }, { 1, 8 } };
  vnet_flow_report_add_del_args_t a = {
    .report_elements = elts,
    .n_report_elements = 3,
    .opaque.as_uword = 1,
    .is_add = 1,
    .domain_id = 1,
    .src_port = 30001,
  };
  uint16_t template_id = 0;
  uint32_t templates = 0;
  int ok =
    check ("exporter", vpp_ipfix_exporter_set (vim, 0, &cfg)) &&
    check ("report", vpp_ipfix_report_add_del (vim, 0, &a, &template_id)) &&
    check ("templates", vpp_ipfix_templates_send_due (vim, &templates, NULL));
  if (ok && (template_id != 256 || templates != 1))
    {
      fprintf (stderr, "hello: template %u, %u sent (want 256, 1)\n",
	       template_id, templates);
      ok = 0;
    }

  for (uint32_t i = 0; ok && i < N_RECORDS; i++)
    {
      uint8_t record[16];
      uint32_t src = htonl (0x0a000000 + i), dst = htonl (0xc0000201);
      uint64_t octets = 64 * (i + 1);
      memcpy (record, &src, 4);
      memcpy (record + 4, &dst, 4);
      for (int b = 0; b < 8; b++) /* network order */
	record[8 + b] = (uint8_t) (octets >> (56 - 8 * b));
      ok =
	check ("record", vpp_ipfix_record_append (vim, 0, a.flow_report_index,
						  0, record, sizeof record));
    }
  ok = ok &&
       check ("send", vpp_ipfix_buffer_send (vim, 0, a.flow_report_index, 0));

  vpp_ipfix_main_destroy (vim);
  if (!ok)
    return 1;
  printf ("hello: ok\n");
  return 0;
}
