/* The one assertion macro of the C and C++ tests: counts, reports the failed condition, and
 * lets the test go on so that one run lists every failure. */
#ifndef CCROUTE_TESTS_CHECK_H
#define CCROUTE_TESTS_CHECK_H
#include <stdio.h>

static int passed = 0, failed = 0;
#define CHECK(cond)                                                      \
    do {                                                                 \
        if (cond) {                                                      \
            ++passed;                                                    \
        } else {                                                         \
            ++failed;                                                    \
            printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                \
    } while (0)

/* Prints the tally and gives main's exit status. */
static int check_report(const char *what) {
    printf("%s: %d passed, %d failed\n", what, passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif
