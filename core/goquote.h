/* Go's %q of a byte string (strconv.Quote), for the messages and log lines
 * that nats-server formats with it: `"a\"b"`, control bytes as \n, \t or
 * \xNN, bytes that are not UTF-8 as \xNN, C1 controls as \u00NN. Other
 * UTF-8 is copied (Go also escapes the few runes unicode.IsPrint rejects,
 * such as U+00AD; subjects and config values with those are not worth a
 * table). Pure functions, any thread. */
#ifndef GANNET_GOQUOTE_H
#define GANNET_GOQUOTE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Bytes go_quote writes at most for n input bytes (terminating NUL included). */
#define GO_QUOTE_MAX(n) (4 * (size_t)(n) + 3)

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if none. */
static inline size_t go_utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] >= 0x90))
        return 0; /* overlong, a surrogate, or beyond U+10FFFF */
    return len;
}

/* Write the quoted form of s[0..n) and a NUL into out (cap at least
 * GO_QUOTE_MAX(n)); returns its length. */
static inline size_t go_quote(char *out, size_t cap, const char *s, size_t n)
{
    static const char esc[] = "\a\b\f\n\r\t\v\\\"", letter[] = "abfnrtv\\\"";
    size_t o = 0;
    if (cap < GO_QUOTE_MAX(n)) {
        if (cap)
            out[0] = 0;
        return 0;
    }
    out[o++] = '"';
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        const char *e = b && b < 0x80 ? memchr(esc, b, sizeof esc - 1) : NULL;
        if (e) {
            out[o++] = '\\';
            out[o++] = letter[e - esc];
            i++;
        } else if (b < 0x20 || b == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", b);
            i++;
        } else if (b < 0x80) {
            out[o++] = (char)b;
            i++;
        } else {
            size_t len = go_utf8_len((const unsigned char *)s + i, n - i);
            if (len == 0) {
                o += (size_t)snprintf(out + o, cap - o, "\\x%02x", b);
                i++;
            } else if (len == 2 && b == 0xc2 && (unsigned char)s[i + 1] < 0xa0) {
                o += (size_t)snprintf(out + o, cap - o, "\\u%04x", (unsigned char)s[i + 1]);
                i += 2;
            } else {
                memcpy(out + o, s + i, len);
                o += len;
                i += len;
            }
        }
    }
    out[o++] = '"';
    out[o] = 0;
    return o;
}
#endif
