/* vnet/ipfix-export/flow_report.h: the real vpp-shim header, where VPP
   callers include it from. */
#include "../../../../../vpp-shim/flow_report.h"
