/* test_fixture.h: the host and instance every self-checking test starts from,
   and the leak and misuse checks it ends with. */

#ifndef TEST_FIXTURE_H
#define TEST_FIXTURE_H

#include "test_check.h"
#include "test_host.h"

/* flowprobe's IPv4 L3+L4 record: 13 elements, 56 bytes. */
#define FP_N_ELTS      13
#define FP_RECORD_SIZE 56
static ipfix_report_element_t fp_elts[FP_N_ELTS] = {
  { 10, 4 }, { 14, 4 }, { 61, 1 }, { 2, 8 }, { 156, 8 }, { 157, 8 }, { 8, 4 },
  { 12, 4 }, { 4, 1 },	{ 1, 8 },  { 7, 2 }, { 11, 2 },	 { 6, 2 },
};

typedef struct
{
  test_host_t *host;
  vpp_ipfix_main_t *main;
} fixture_t;

/* A fresh in-memory host and an instance on it with n_threads threads and
   VPP's five exporters. 0 when ready. */
static inline int
fixture_init_threads (fixture_t *f, uint32_t n_threads)
{
  vpp_ipfix_ops_t ops;
  int rv;

  f->main = NULL;
  f->host = test_host_create ();
  CHECK_NOT_NULL (f->host);
  if (!f->host)
    return -1;
  ops = test_host_ops (f->host);
  rv = vpp_ipfix_main_create (&ops, n_threads, 0, &f->main);
  CHECK_EQ (rv, 0);
  CHECK_NOT_NULL (f->main);
  if (rv || !f->main)
    {
      test_host_destroy (f->host);
      return -1;
    }
  return 0;
}

/* Destroys the instance and checks the host saw no leak and no misuse. */
static inline void
fixture_fini (fixture_t *f)
{
  vpp_ipfix_main_destroy (f->main);
  CHECK_UEQ (test_host_live_buffers (f->host), 0);
  CHECK_UEQ (test_host_errors (f->host), 0);
  test_host_destroy (f->host);
}

/* Exporter settings: collector 127.0.0.1, source 127.0.0.2, VPP's defaults
   otherwise, this path MTU. */
static inline vpp_ipfix_exporter_config_t
ipv4_config (uint32_t path_mtu)
{
  vpp_ipfix_exporter_config_t c;

  vpp_ipfix_exporter_config_init (&c);
  c.collector = test_ip4 (127, 0, 0, 1);
  c.src_address = test_ip4 (127, 0, 0, 2);
  c.path_mtu = path_mtu;
  return c;
}

/* Exporter 0 set to `ipv4_config (path_mtu)`; the call's code. */
static inline int
enable_ipv4 (fixture_t *f, uint32_t path_mtu)
{
  vpp_ipfix_exporter_config_t c = ipv4_config (path_mtu);
  int rv = vpp_ipfix_exporter_set (f->main, 0, &c);
  CHECK_EQ (rv, 0);
  return rv;
}

#endif /* TEST_FIXTURE_H */
