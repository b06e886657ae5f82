/*
 * tq_test.h - the smallest test harness that does the job: CHECK records a failure with
 * its location and carries on, TQ_TEST_MAIN prints "N passed, N failed" and sets the
 * exit code.
 */
#ifndef TQ_TEST_H
#define TQ_TEST_H

#include <stdio.h>
#include <string.h>

static int tq_test_passed, tq_test_failed;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (cond) {                                                                                          \
            tq_test_passed++;                                                                                \
        } else {                                                                                             \
            tq_test_failed++;                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                         \
        }                                                                                                    \
    } while (0)

#define CHECK_STR(got, want)                                                                                 \
    do {                                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                                \
        if (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0) {                                               \
            tq_test_passed++;                                                                                \
        } else {                                                                                             \
            tq_test_failed++;                                                                                \
            fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, g_ ? g_ : "(null)",        \
                    w_ ? w_ : "(null)");                                                                     \
        }                                                                                                    \
    } while (0)

#define TQ_TEST_REPORT()                                                                                     \
    (printf("%d passed, %d failed\n", tq_test_passed, tq_test_failed), tq_test_failed ? 1 : 0)

#endif
