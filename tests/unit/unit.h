/* Minimal unit-test harness: a test binary includes this, defines
 * TEST(name) functions, lists them in main with RUN(name), and ends with
 * `return unit_report();`. Each CHECK failure prints file:line and the
 * expression; the binary exits 1 if any check failed. */
#ifndef GANNET_UNIT_H
#define GANNET_UNIT_H
#include <stdio.h>
#include <string.h>

static int unit_failed_checks, unit_tests, unit_tests_failed, unit_cur_failed;

#define TEST(name) static void name(void)
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            unit_failed_checks++;                                                \
            unit_cur_failed = 1;                                                 \
        }                                                                        \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                       \
    do {                                                                         \
        long long _a = (long long)(a), _b = (long long)(b);                      \
        if (_a != _b) {                                                          \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__,     \
                    __LINE__, #a, _a, _b);                                       \
            unit_failed_checks++;                                                \
            unit_cur_failed = 1;                                                 \
        }                                                                        \
    } while (0)
#define CHECK_EQ_STR(a, b)                                                       \
    do {                                                                         \
        const char *_a = (a), *_b = (b);                                         \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                 \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, \
                    __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");       \
            unit_failed_checks++;                                                \
            unit_cur_failed = 1;                                                 \
        }                                                                        \
    } while (0)
#define RUN(name)                                                                \
    do {                                                                         \
        unit_cur_failed = 0;                                                     \
        name();                                                                  \
        unit_tests++;                                                            \
        if (unit_cur_failed) {                                                   \
            unit_tests_failed++;                                                 \
            fprintf(stderr, "FAIL %s\n", #name);                                 \
        }                                                                        \
    } while (0)

static inline int unit_report(void)
{
    printf("%d passed, %d failed\n", unit_tests - unit_tests_failed, unit_tests_failed);
    return unit_tests_failed ? 1 : 0;
}
#endif
