/* libFuzzer target for monitor/http.c (and the JSON string escaping of
 * monitor/json.c that every answer goes through).
 *
 * Input: byte 0 = seed for the chunk sizes, the rest = the bytes a
 * monitoring client sends on one connection. The stream is consumed the way
 * monitor.c's conn_input does (request heads with http_parse, bodies skipped
 * by Content-Length or with http_chunked_skip, the first bad request ends
 * the connection), whole and in chunks. Every call sees an exact-size heap
 * copy of the unconsumed bytes, so ASan catches a read past them.
 *
 * Checked: a head length is within the bytes given; every view (method,
 * target, path, query) lies inside the head; major version 1, non-empty
 * token method; the path's escapes decode (http_parse promised it); the
 * cleaned path is rooted, free of "//", "/./" and "/../", and cleaning it
 * again changes nothing; the escaped path has no byte Go would escape left;
 * an error response starts with "HTTP/1.1 <status>"; query decoding stays
 * in bounds; chunked skipping consumes no more than given; both feedings
 * give the same requests and the same end; a JSON string of the request
 * target parses back with jansson (to the same bytes when they are valid
 * UTF-8 without NUL).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"

#define CHECK(x)                                                                                                      \
    do {                                                                                                              \
        if (!(x)) {                                                                                                   \
            fprintf(stderr, "check failed: %s (line %d)\n", #x, __LINE__);                                            \
            abort();                                                                                                  \
        }                                                                                                             \
    } while (0)

struct log {
    char *p;
    size_t n, cap;
};

static void log_add(struct log *l, const void *s, size_t n)
{
    if (l->n + n > l->cap) {
        size_t cap = l->cap ? l->cap : 1024;
        while (cap < l->n + n)
            cap *= 2;
        l->p = realloc(l->p, cap);
        CHECK(l->p);
        l->cap = cap;
    }
    memcpy(l->p + l->n, s, n);
    l->n += n;
}

static void log_view(struct log *l, const char *p, size_t n)
{
    uint64_t v = n;
    log_add(l, &v, sizeof v);
    if (n)
        log_add(l, p, n);
}

static bool inside(const char *p, size_t n, const char *lo, size_t len)
{
    return n == 0 || (p >= lo && p + n <= lo + len);
}

static void check_path(const struct http_req *r)
{
    char *dec = malloc(r->path_len + 1), *clean = malloc(r->path_len + 3), *again = malloc(r->path_len + 5);
    CHECK(dec && clean && again);
    long dn = http_path_unescape(r->path, r->path_len, dec);
    CHECK(dn >= 0 && (size_t)dn <= r->path_len);
    size_t cn = http_clean_path(dec, (size_t)dn, clean);
    CHECK(cn >= 1 && cn <= (size_t)dn + 2 && clean[0] == '/');
    for (size_t i = 0; i + 1 < cn; i++) {
        CHECK(!(clean[i] == '/' && clean[i + 1] == '/'));
        if (clean[i] == '/' && clean[i + 1] == '.') {
            bool dot = i + 2 == cn || clean[i + 2] == '/';
            bool dotdot = i + 2 < cn && clean[i + 2] == '.' && (i + 3 == cn || clean[i + 3] == '/');
            CHECK(!dot && !dotdot);
        }
    }
    size_t an = http_clean_path(clean, cn, again);
    CHECK(an == cn && memcmp(again, clean, cn) == 0);
    char *esc = malloc(3 * cn + 1);
    CHECK(esc);
    size_t en = http_escape_path(clean, cn, esc);
    CHECK(en >= cn && en <= 3 * cn && esc[en] == 0);
    for (size_t i = 0; i < en; i++)
        CHECK((unsigned char)esc[i] > 0x20 && (unsigned char)esc[i] < 0x7f && esc[i] != '?');
    free(esc);
    free(dec);
    free(clean);
    free(again);
}

static void check_query(const struct http_req *r)
{
    static const char *const keys[] = {"callback", "subs", "sort", "state", "test", ""};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        size_t vn = 12345;
        char *v = http_query_get(r->query, r->query_len, keys[k], &vn);
        if (v) {
            CHECK(vn <= r->query_len && v[vn] == 0);
            free(v);
        }
    }
}

/* The target as a JSON string: jansson must read it back. */
static void check_json(const char *s, size_t n)
{
    struct jw w;
    jw_init(&w, true);
    jw_arr_begin(&w, NULL);
    jw_strn(&w, NULL, s, n);
    jw_arr_end(&w);
    CHECK(!w.oom && w.buf);
    json_error_t err;
    json_t *j = json_loadb(w.buf, w.len, 0, &err);
    CHECK(j && json_is_array(j) && json_array_size(j) == 1);
    const json_t *str = json_array_get(j, 0);
    CHECK(json_is_string(str));
    bool plain = memchr(s, 0, n) == NULL;
    for (size_t i = 0; plain && i < n; i++)
        plain = (unsigned char)s[i] < 0x80; /* ASCII: must round-trip exactly */
    if (plain)
        CHECK(json_string_length(str) == n && memcmp(json_string_value(str), s, n) == 0);
    json_decref(j);
    jw_free(&w);
}

/* One connection's worth of input fed in pieces of the given sizes;
 * returns what was parsed, in a comparable form. */
static struct log run(const uint8_t *data, size_t size, uint32_t seed)
{
    struct log out = {0};
    char *pend = NULL; /* unconsumed bytes */
    size_t plen = 0, off = 0;
    struct http_scan scan = {0};
    uint64_t skip = 0;
    struct http_chunked ck;
    bool chunked = false, dead = false;
    while (off < size && !dead) {
        size_t step = seed ? 1 + seed % 97 : size - off;
        seed = seed * 1103515245u + 12345u;
        if (step > size - off)
            step = size - off;
        pend = realloc(pend, plen + step);
        CHECK(pend || plen + step == 0);
        memcpy(pend + plen, data + off, step);
        plen += step;
        off += step;
        for (;;) {
            if (!plen)
                break;
            char *buf = malloc(plen); /* exactly the bytes there are */
            CHECK(buf);
            memcpy(buf, pend, plen);
            size_t used = 0;
            bool more = false;
            if (skip) {
                used = plen < skip ? plen : (size_t)skip;
                skip -= used;
            } else if (chunked) {
                long k = http_chunked_skip(&ck, buf, plen);
                CHECK(k >= -1 && k <= (long)plen);
                if (k < 0) {
                    log_add(&out, "C!", 2);
                    dead = true;
                } else {
                    used = (size_t)k;
                    if (ck.done) {
                        chunked = false;
                        log_add(&out, "C.", 2);
                    }
                }
            } else {
                struct http_req r;
                long hl = http_parse(buf, plen, &scan, &r);
                CHECK(hl >= -1 && hl <= (long)plen);
                if (hl < 0) {
                    char e[512];
                    size_t en = http_error_response(&r, e, sizeof e);
                    char st[16];
                    snprintf(st, sizeof st, "HTTP/1.1 %d", r.err_status);
                    CHECK(en > strlen(st) && !memcmp(e, st, strlen(st)));
                    CHECK(r.err_status == 400 || r.err_status == 431 || r.err_status == 501 || r.err_status == 505);
                    log_add(&out, "E", 1);
                    log_add(&out, &r.err_status, sizeof r.err_status);
                    dead = true;
                } else if (hl == 0) {
                    more = true;
                } else {
                    size_t h = (size_t)hl;
                    CHECK(r.method_len > 0 && r.major == 1);
                    CHECK(inside(r.method, r.method_len, buf, h) && inside(r.target, r.target_len, buf, h));
                    CHECK(inside(r.path, r.path_len, r.target, r.target_len));
                    CHECK(inside(r.query, r.query_len, r.target, r.target_len));
                    log_add(&out, "R", 1);
                    log_view(&out, r.method, r.method_len);
                    log_view(&out, r.target, r.target_len);
                    uint8_t f[8] = {(uint8_t)r.minor, r.star, r.head, r.wants_close, r.keep_alive10,
                                    r.expect_continue, r.expect_other, (uint8_t)r.body};
                    log_add(&out, f, sizeof f);
                    log_add(&out, &r.content_length, sizeof r.content_length);
                    if (!r.star && !r.authority)
                        check_path(&r);
                    check_query(&r);
                    check_json(r.target, r.target_len);
                    memset(&scan, 0, sizeof scan);
                    used = h;
                    if (r.body == HB_LENGTH)
                        skip = r.content_length;
                    else if (r.body == HB_CHUNKED) {
                        memset(&ck, 0, sizeof ck);
                        chunked = true;
                    }
                }
            }
            free(buf);
            memmove(pend, pend + used, plen - used);
            plen -= used;
            if (dead || more || (!used && !skip))
                break;
        }
    }
    log_add(&out, dead ? "D" : "A", 1);
    if (!dead) /* once dead, how much had arrived depends on the feeding */
        log_add(&out, &plen, sizeof plen); /* bytes left over: a partial head */
    free(pend);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > HTTP_MAX_HEAD + 8192)
        return 0;
    uint32_t seed = data[0] | 1u;
    struct log whole = run(data + 1, size - 1, 0);
    struct log parts = run(data + 1, size - 1, seed);
    CHECK(whole.n == parts.n && memcmp(whole.p, parts.p, whole.n) == 0);
    free(whole.p);
    free(parts.p);
    return 0;
}
