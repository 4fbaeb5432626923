/* vnet/ipfix-export/vpp-ipfix/vpp_ipfix.h: the library's generated header, at
   the path install-into-vpp.sh puts it in VPP's tree. */
#include "../../../../../../include/vpp_ipfix.h"
