/* vppinfra/error.h (mock): clib_error_t and the warning macro. Test-only. */

#ifndef included_mock_error_h
#define included_mock_error_h

#include <vppinfra/vec.h>

typedef struct
{
  char *what;	     /* the message (mock heap) */
  const char *where; /* the function that made it */
} clib_error_t;

clib_error_t *mock_clib_error_return (clib_error_t *e, const char *where,
				      const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
void mock_clib_error_free (clib_error_t *e);

#define clib_error_return(e, ...)                                              \
  mock_clib_error_return ((e), __func__, __VA_ARGS__)
#define clib_error_free(e)                                                     \
  do                                                                           \
    {                                                                          \
      mock_clib_error_free (e);                                                \
      (e) = 0;                                                                 \
    }                                                                          \
  while (0)

/* VPP formats with its own format (), not printf: the mock keeps the format
   text only, and counts the warning. */
void mock_clib_warning (const char *where, const char *fmt, ...);
#define clib_warning(...) mock_clib_warning (__func__, __VA_ARGS__)

#endif /* included_mock_error_h */
