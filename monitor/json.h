/* A small streaming JSON writer for monitoring output, matching Go's
 * encoding/json as nats-server uses it: MarshalIndent with two spaces,
 * '<', '>', '&', U+2028 and U+2029 escaped as \uXXXX, shortest round-trip
 * floats. Single-threaded; the monitor thread owns each writer. */
#ifndef GANNET_JSON_H
#define GANNET_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_MAX_DEPTH 32

struct jw {
    char *buf;
    size_t len, cap;
    int depth;
    bool pretty;
    bool nonempty[JW_MAX_DEPTH]; /* the container at this depth has members */
    bool oom;
};

void jw_init(struct jw *w, bool pretty);
void jw_free(struct jw *w);
/* key is NULL for array elements and the top-level value */
void jw_obj_begin(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *v);
void jw_strn(struct jw *w, const char *key, const char *v, size_t n);
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_uint(struct jw *w, const char *key, uint64_t v);
void jw_raw(struct jw *w, const char *key, const char *json); /* a value written as given (valid JSON) */
void jw_double(struct jw *w, const char *key, double v);
void jw_bool(struct jw *w, const char *key, bool v);
void jw_null(struct jw *w, const char *key);
/* Go's time.Time in RFC 3339 with nanoseconds, UTC ("...T00:48:31.786061178Z") */
void jw_time(struct jw *w, const char *key, int64_t unix_ns);
/* Go's time.Duration.String(): "0s", "412µs", "1m30s", "2h0m0.5s" */
void fmt_go_duration(char *out, size_t cap, int64_t ns);
/* nats-server's uptime format: "1y2d3h4m5s" without leading zero units */
void fmt_uptime(char *out, size_t cap, int64_t ns);
void fmt_rfc3339(char *out, size_t cap, int64_t unix_ns);
#endif
