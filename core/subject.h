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
/* Is every subject `sub` matches also matched by `pat`? (an import within an export) */
bool subject_subset(const char *sub, size_t slen, const char *pat, size_t plen);
/* Is there a subject both patterns match? */
bool subject_overlap(const char *a, size_t alen, const char *b, size_t blen);
/* Map subj, which matches pattern `from`, onto pattern `to`: the tokens
 * under from's wildcards fill to's wildcards in order ('>' carries the
 * rest); to's literal tokens are kept. The length written to out (0: it
 * does not fit in cap). Import and export remapping (accounts). */
size_t subject_transform(const char *from, size_t flen, const char *to, size_t tlen, const char *subj, size_t slen,
                         char *out, size_t cap);
#endif
