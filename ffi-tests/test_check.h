/* test_check.h: the checks and the test runner of the self-checking C test
   programs (api_semantics, bad_input). Include from one .c file only. */

#ifndef TEST_CHECK_H
#define TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static unsigned test_n_passed;
static unsigned test_n_failed;
static const char *test_current = "(none)";

static inline void
test_check_true (const char *file, int line, const char *expr, int ok)
{
  if (ok)
    {
      test_n_passed++;
      return;
    }
  test_n_failed++;
  printf ("%s:%d: FAIL in %s: %s\n", file, line, test_current, expr);
}

static inline void
test_check_eq (const char *file, int line, const char *a_expr,
	       const char *b_expr, int64_t a, int64_t b)
{
  if (a == b)
    {
      test_n_passed++;
      return;
    }
  test_n_failed++;
  printf ("%s:%d: FAIL in %s: %s == %s: %" PRId64 " != %" PRId64 "\n", file,
	  line, test_current, a_expr, b_expr, a, b);
}

static inline void
test_check_ueq (const char *file, int line, const char *a_expr,
		const char *b_expr, uint64_t a, uint64_t b)
{
  if (a == b)
    {
      test_n_passed++;
      return;
    }
  test_n_failed++;
  printf ("%s:%d: FAIL in %s: %s == %s: %" PRIu64 " (0x%" PRIx64 ") != %" PRIu64
	  " (0x%" PRIx64 ")\n",
	  file, line, test_current, a_expr, b_expr, a, a, b, b);
}

static inline void
test_check_streq (const char *file, int line, const char *a_expr,
		  const char *b_expr, const char *a, const char *b)
{
  if (a && b && strcmp (a, b) == 0)
    {
      test_n_passed++;
      return;
    }
  test_n_failed++;
  printf ("%s:%d: FAIL in %s: %s == %s: \"%s\" != \"%s\"\n", file, line,
	  test_current, a_expr, b_expr, a ? a : "(null)", b ? b : "(null)");
}

/* A condition. */
#define CHECK(expr) test_check_true (__FILE__, __LINE__, #expr, !!(expr))

/* Two signed integers (return codes, counts) equal; prints both. */
#define CHECK_EQ(a, b)                                                         \
  test_check_eq (__FILE__, __LINE__, #a, #b, (int64_t) (a), (int64_t) (b))

/* Two unsigned integers equal (u32/u64 values, sentinels); prints both. */
#define CHECK_UEQ(a, b)                                                        \
  test_check_ueq (__FILE__, __LINE__, #a, #b, (uint64_t) (a), (uint64_t) (b))

/* Two strings equal. */
#define CHECK_STREQ(a, b)                                                      \
  test_check_streq (__FILE__, __LINE__, #a, #b, (a), (b))

/* Pointers: NULL or not. */
#define CHECK_NULL(p)	  CHECK ((p) == NULL)
#define CHECK_NOT_NULL(p) CHECK ((p) != NULL)

typedef struct
{
  const char *name;
  void (*fn) (void);
} test_case_t;

/* Runs every test and prints "<program>: N passed, M failed". Returns the
   exit status: 0 when nothing failed. */
static inline int
test_run_all (const char *program, const test_case_t *tests, size_t n_tests)
{
  size_t i;

  for (i = 0; i < n_tests; i++)
    {
      unsigned failed_before = test_n_failed;
      test_current = tests[i].name;
      tests[i].fn ();
      if (test_n_failed != failed_before)
	printf ("-- %s: %u failed\n", tests[i].name,
		test_n_failed - failed_before);
    }
  printf ("%s: %u passed, %u failed\n", program, test_n_passed, test_n_failed);
  return test_n_failed ? 1 : 0;
}

#endif /* TEST_CHECK_H */
