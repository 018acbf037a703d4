#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void jw_init(struct jw *w, bool pretty)
{
    memset(w, 0, sizeof *w);
    w->pretty = pretty;
}

void jw_free(struct jw *w)
{
    free(w->buf);
    w->buf = NULL;
}

static void put(struct jw *w, const char *s, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *nb = realloc(w->buf, cap);
        if (!nb) {
            w->oom = true;
            return;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

static void puts_(struct jw *w, const char *s) { put(w, s, strlen(s)); }

static void newline(struct jw *w)
{
    if (!w->pretty)
        return;
    put(w, "\n", 1);
    for (int i = 0; i < w->depth; i++)
        put(w, "  ", 2);
}

/* Length of the valid UTF-8 sequence at s[i] (Go's utf8.DecodeRune
 * rules: no overlongs, surrogates or code points past U+10FFFF), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (i + need >= n)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k <= need; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xbf)
            return 0;
    return need + 1;
}

/* Go's encodeState.string with escapeHTML: invalid UTF-8 becomes \ufffd */
static void quote(struct jw *w, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    put(w, "\"", 1);
    size_t run = 0; /* start of the bytes copied as they are */
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        const char *esc = NULL;
        char u[8];
        size_t adv = 1;
        if (c < 0x80) {
            if (c == '"')
                esc = "\\\"";
            else if (c == '\\')
                esc = "\\\\";
            else if (c == '\n')
                esc = "\\n";
            else if (c == '\r')
                esc = "\\r";
            else if (c == '\t')
                esc = "\\t";
            else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            }
        } else {
            adv = utf8_len(s, i, n);
            if (adv == 0) {
                esc = "\\ufffd";
                adv = 1;
            } else if (adv == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
                esc = s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
            }
        }
        if (esc) {
            put(w, str + run, i - run);
            puts_(w, esc);
            run = i + adv;
        }
        i += adv;
    }
    put(w, str + run, n - run);
    put(w, "\"", 1);
}

/* separator, indentation and key before a value */
static void member(struct jw *w, const char *key)
{
    if (w->depth > 0) {
        if (w->nonempty[w->depth])
            put(w, ",", 1);
        w->nonempty[w->depth] = true;
        newline(w);
    }
    if (key) {
        quote(w, key, strlen(key));
        puts_(w, w->pretty ? ": " : ":");
    }
}

static void open_(struct jw *w, const char *key, const char *b)
{
    member(w, key);
    puts_(w, b);
    if (w->depth + 1 < JW_MAX_DEPTH)
        w->depth++;
    w->nonempty[w->depth] = false;
}

static void close_(struct jw *w, const char *b)
{
    bool had = w->nonempty[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (had)
        newline(w);
    puts_(w, b);
}

void jw_obj_begin(struct jw *w, const char *key) { open_(w, key, "{"); }
void jw_obj_end(struct jw *w) { close_(w, "}"); }
void jw_arr_begin(struct jw *w, const char *key) { open_(w, key, "["); }
void jw_arr_end(struct jw *w) { close_(w, "]"); }

void jw_strn(struct jw *w, const char *key, const char *v, size_t n)
{
    member(w, key);
    quote(w, v, n);
}

void jw_str(struct jw *w, const char *key, const char *v) { jw_strn(w, key, v ? v : "", v ? strlen(v) : 0); }

void jw_int(struct jw *w, const char *key, int64_t v)
{
    char b[24];
    member(w, key);
    put(w, b, (size_t)snprintf(b, sizeof b, "%lld", (long long)v));
}

void jw_uint(struct jw *w, const char *key, uint64_t v)
{
    char b[24];
    member(w, key);
    put(w, b, (size_t)snprintf(b, sizeof b, "%llu", (unsigned long long)v));
}

void jw_raw(struct jw *w, const char *key, const char *json)
{
    member(w, key);
    put(w, json, strlen(json));
}

void jw_double(struct jw *w, const char *key, double v)
{
    char b[40];
    member(w, key);
    if (!isfinite(v))
        v = 0;
    /* shortest representation that reads back to the same double, as Go */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v)
            break;
    }
    /* Go uses exponent form only for very large/small magnitudes (< 1e-6 or >= 1e21) */
    double a = fabs(v);
    if (a != 0 && a >= 1e-6 && a < 1e21 && strchr(b, 'e')) {
        int prec;
        for (prec = 0; prec <= 20; prec++) {
            snprintf(b, sizeof b, "%.*f", prec, v);
            if (strtod(b, NULL) == v)
                break;
        }
    }
    /* Go writes "1e-07" as "1e-7" (and keeps "1e+21") */
    char *e = strstr(b, "e-0");
    if (e)
        memmove(e + 2, e + 3, strlen(e + 3) + 1);
    puts_(w, b);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
    member(w, key);
    puts_(w, v ? "true" : "false");
}

void jw_null(struct jw *w, const char *key)
{
    member(w, key);
    puts_(w, "null");
}

void fmt_rfc3339(char *out, size_t cap, int64_t unix_ns)
{
    time_t sec = (time_t)(unix_ns / 1000000000);
    long ns = (long)(unix_ns % 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ns) {
        char frac[16];
        snprintf(frac, sizeof frac, ".%09ld", ns);
        size_t k = strlen(frac);
        while (k > 1 && frac[k - 1] == '0')
            frac[--k] = 0; /* Go trims trailing zeros */
        n += (size_t)snprintf(out + n, cap - n, "%s", frac);
    }
    snprintf(out + n, cap - n, "Z");
}

void jw_time(struct jw *w, const char *key, int64_t unix_ns)
{
    char b[64];
    fmt_rfc3339(b, sizeof b, unix_ns);
    jw_str(w, key, b);
}

/* fractional part of v/unit with trailing zeros trimmed, Go style */
static int frac_str(char *out, size_t cap, uint64_t v, uint64_t unit, int digits)
{
    uint64_t whole = v / unit, rem = v % unit;
    if (!rem)
        return snprintf(out, cap, "%llu", (unsigned long long)whole);
    char f[24];
    snprintf(f, sizeof f, "%0*llu", digits, (unsigned long long)rem);
    size_t k = strlen(f);
    while (k > 0 && f[k - 1] == '0')
        f[--k] = 0;
    return snprintf(out, cap, "%llu.%s", (unsigned long long)whole, f);
}

void fmt_go_duration(char *out, size_t cap, int64_t ns)
{
    if (ns == 0) {
        snprintf(out, cap, "0s");
        return;
    }
    const char *sign = ns < 0 ? "-" : "";
    uint64_t u = ns < 0 ? (uint64_t)(-ns) : (uint64_t)ns;
    char num[48];
    if (u < 1000) {
        snprintf(out, cap, "%s%lluns", sign, (unsigned long long)u);
    } else if (u < 1000000) {
        frac_str(num, sizeof num, u, 1000, 3);
        snprintf(out, cap, "%s%sµs", sign, num);
    } else if (u < 1000000000) {
        frac_str(num, sizeof num, u, 1000000, 6);
        snprintf(out, cap, "%s%sms", sign, num);
    } else {
        uint64_t h = u / 3600000000000ULL, m = (u / 60000000000ULL) % 60;
        uint64_t rest = u % 60000000000ULL;
        frac_str(num, sizeof num, rest, 1000000000, 9);
        if (h)
            snprintf(out, cap, "%s%lluh%llum%ss", sign, (unsigned long long)h, (unsigned long long)m, num);
        else if (m)
            snprintf(out, cap, "%s%llum%ss", sign, (unsigned long long)m, num);
        else
            snprintf(out, cap, "%s%ss", sign, num);
    }
}

void fmt_uptime(char *out, size_t cap, int64_t ns)
{
    int64_t s = ns / 1000000000;
    int64_t y = s / (365 * 86400), d = s / 86400 % 365, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    size_t n = 0;
    out[0] = 0;
    if (y)
        n += (size_t)snprintf(out + n, cap - n, "%lldy", (long long)y);
    if (y || d)
        n += (size_t)snprintf(out + n, cap - n, "%lldd", (long long)d);
    if (y || d || h)
        n += (size_t)snprintf(out + n, cap - n, "%lldh", (long long)h);
    if (y || d || h || m)
        n += (size_t)snprintf(out + n, cap - n, "%lldm", (long long)m);
    snprintf(out + n, cap - n, "%llds", (long long)sec);
}
