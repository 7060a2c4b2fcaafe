/* Minimal assertions for the C tests: a failed check prints where and why, and the
 * program exits 1 at the end (checks keep going so one run shows every failure). */
#ifndef NETCORE_CTESTS_CHECK_H
#define NETCORE_CTESTS_CHECK_H

#include <stdio.h>
#include <string.h>
#include "netcore.h"

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        check_count++;                                                           \
        if (!(cond)) {                                                           \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

/* Checks a call's status; on a mismatch prints the library's last error message. */
#define CHECK_STATUS(call, expected)                                             \
    do {                                                                         \
        netcore_status check_st_ = (call);                                       \
        check_count++;                                                           \
        if (check_st_ != (netcore_status)(expected)) {                           \
            char check_msg_[512];                                                \
            netcore_last_error_message(check_msg_, sizeof check_msg_, NULL);     \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: %s returned %u, expected %u (%s)\n",         \
                    __FILE__, __LINE__, #call, (unsigned)check_st_,              \
                    (unsigned)(expected), check_msg_);                           \
        }                                                                        \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, NETCORE_STATUS_OK)

#define CHECK_STR(actual, expected)                                              \
    do {                                                                         \
        const char *check_a_ = (actual), *check_e_ = (expected);                 \
        check_count++;                                                           \
        if (check_a_ == NULL || strcmp(check_a_, check_e_) != 0) {               \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: got \"%s\", expected \"%s\"\n", __FILE__,    \
                    __LINE__, check_a_ ? check_a_ : "(null)", check_e_);         \
        }                                                                        \
    } while (0)

/* Ends main: prints a summary line and returns the exit code. */
static inline int check_done(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

#endif
