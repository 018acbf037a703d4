/* Subject syntax (nats-compat.md §1.9): '.'-separated non-empty tokens; '*'
 * matches one token and '>' one or more trailing tokens, only as whole
 * tokens ("foo*" is a literal). Pure functions, any thread. */
#ifndef GANNET_SUBJECT_H
#define GANNET_SUBJECT_H
#include <stdbool.h>
#include <stddef.h>

/* Valid as a subscription subject: tokens non-empty, no whitespace, '>' only last. */
bool subject_valid(const char *s, size_t len);
/* Valid and free of wildcard tokens: what pedantic mode requires of PUB. */
bool subject_valid_literal(const char *s, size_t len);
/* Does literal subject `lit` match pattern `pat`? (both assumed valid) */
bool subject_matches(const char *pat, size_t plen, const char *lit, size_t llen);
#endif
