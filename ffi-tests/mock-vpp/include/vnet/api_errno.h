/* vnet/api_errno.h (mock): the VNET_API_ERROR values the shim returns. */

#ifndef included_mock_api_errno_h
#define included_mock_api_errno_h

#define VNET_API_ERROR_NO_SUCH_ENTRY	      (-6)
#define VNET_API_ERROR_INVALID_VALUE	      (-7)
#define VNET_API_ERROR_FEATURE_DISABLED	      (-30)
#define VNET_API_ERROR_INVALID_ARGUMENT	      (-73)
#define VNET_API_ERROR_VALUE_EXIST	      (-81)
#define VNET_API_ERROR_INVALID_WORKER	      (-89)
#define VNET_API_ERROR_INVALID_ADDRESS_FAMILY (-97)

#endif
