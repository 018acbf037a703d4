/* HTTP/1.x for the monitoring server: a request-head parser, the chunked
 * body skipper and the URL helpers, with the rules (and the error texts) of
 * Go's net/http server as nats-server 2.9.10 runs it (Go 1.19):
 *
 *   request line   METHOD SP target SP HTTP/X.Y   single spaces; method a
 *                  token; target "/path?query", "scheme://auth/path?query"
 *                  or "*"; no control bytes; valid %-escapes in the path
 *   headers        "Name: value" lines ending in LF or CRLF, obs-fold lines
 *                  continue the previous value, an empty line ends the head
 *   errors         plain "400 Bad Request" for syntax (and Go's texts for
 *                  missing/malformed Host, invalid header name/value), 505
 *                  for HTTP/2+, 501 for a transfer coding other than chunked,
 *                  431 for a head longer than HTTP_MAX_HEAD
 *
 * Pure functions over caller buffers: no I/O, no allocation (except
 * http_query_get, which returns a malloc'd string), any thread. The monitor
 * thread owns every struct it passes in. Fuzzed by tests/fuzz/fuzz_http.c. */
#ifndef GANNET_HTTP_H
#define GANNET_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest request head accepted (request line and headers). Go allows
 * 1 MiB + 4 KiB (nats-server's MaxHeaderBytes); 64 KiB bounds what a
 * connection can make the monitor hold, and no monitoring client comes near. */
#define HTTP_MAX_HEAD (64 * 1024)

enum http_body { HB_NONE, HB_LENGTH, HB_CHUNKED };

struct http_req {
    /* views into the parsed buffer, valid while it is */
    const char *method, *target, *path, *query;
    size_t method_len, target_len, path_len, query_len;
    int major, minor;          /* HTTP/major.minor; major is 1 or 2+ (2+ is an error) */
    bool star;                 /* the target is "*" */
    bool authority;            /* CONNECT host:port: no path */
    bool head;                 /* HEAD: the response carries no body */
    /* what the headers say */
    bool close;                /* Go's Request.Close: the client will not reuse the connection */
    bool wants_close;          /* Connection: close (or Close) */
    bool keep_alive10;         /* HTTP/1.0 with Connection: keep-alive */
    bool expect_continue;      /* Expect: 100-continue */
    bool expect_other;         /* an Expect other than 100-continue: 417 */
    enum http_body body;
    uint64_t content_length;   /* HB_LENGTH */
    /* when the parse fails */
    int err_status;            /* 400, 431, 501 or 505 */
    const char *err_text;      /* Go's reason after the status text, NULL for none */
};

/* Where the search for the end of a head stopped: zero it for each new
 * request, keep it across calls while the head is incomplete, so that bytes
 * arriving one at a time cost O(n) in all. */
struct http_scan {
    size_t pos;                /* bytes already searched */
    bool line_checked;         /* the request line was complete and valid */
};

/* Parse one request head at the start of buf[0..len). Returns its length
 * (> 0) once complete, 0 when more bytes are needed, -1 when the request is
 * bad (err_status and err_text set: answer with http_error_response and
 * close). A request line is checked as soon as it is complete, so a bad one
 * is answered without waiting for the headers, as Go does. */
long http_parse(const char *buf, size_t len, struct http_scan *scan, struct http_req *r);

/* Go's answer to a request it could not parse:
 * "HTTP/1.1 <code> <text>[: <reason>]\r\nContent-Type: text/plain;
 * charset=utf-8\r\nConnection: close\r\n\r\n<body>". Returns the length
 * written (truncated to cap, NUL-terminated). */
size_t http_error_response(const struct http_req *r, char *out, size_t cap);

/* Skipping a chunked request body. */
struct http_chunked {
    int state;
    uint64_t left;             /* bytes of the current chunk still to skip */
    uint32_t linelen;          /* size/trailer line length so far */
    uint64_t total;            /* bytes consumed so far */
    bool done;
};
/* Consume up to n bytes of chunked body; returns the bytes used (all of
 * them unless the body ends inside), or -1 when the coding is malformed. */
long http_chunked_skip(struct http_chunked *c, const char *p, size_t n);

/* Percent-decoding as Go's url.PathUnescape (no '+' translation). out may
 * be in; it needs n bytes. Returns the decoded length or -1 on a bad escape. */
long http_path_unescape(const char *in, size_t n, char *out);

/* Go's path.Clean plus ServeMux's cleanPath (leading '/', trailing '/'
 * kept). out needs n + 2 bytes; returns the cleaned length. */
size_t http_clean_path(const char *in, size_t n, char *out);

/* The first value of key in a raw query string, decoded as Go's
 * url.ParseQuery (pairs split on '&', a pair holding ';' or a bad escape is
 * dropped, '+' is a space): a malloc'd NUL-terminated string (it may
 * contain NULs: *vlen is its length when vlen is not NULL), or NULL when
 * absent. "key=" gives "". */
char *http_query_get(const char *q, size_t qlen, const char *key, size_t *vlen);

/* Escape a cleaned path for a Location header as Go's url.URL.String()
 * does (encodePath mode). out needs 3n + 1 bytes; returns its length. */
size_t http_escape_path(const char *in, size_t n, char *out);

/* Does the comma-separated header value hold token tok (case-insensitive)? */
bool http_has_token(const char *v, size_t n, const char *tok);

/* Go's http.StatusText for the codes the monitor sends. */
const char *http_status_text(int code);
#endif
