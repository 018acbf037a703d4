/* HTTP/1.x request parsing for the monitor: see http.h. Each rule cites the
 * Go 1.19 net/http (or net/url, net/textproto) behaviour it reproduces,
 * since nats-server 2.9.10's monitoring port is Go's http.Server.
 *
 * A request head goes through three stages:
 *
 *   bytes ──(first LF)──> request line checked ──(empty line)──> headers
 *     │                        │ bad: 400 at once                  │
 *     └─ > HTTP_MAX_HEAD: 431  └──────────────────────────────────>├─ Host, TE, CL,
 *                                                                   │  names, values
 *                                                                   └─> struct http_req
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ characters */

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_val(unsigned char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* RFC 7230 tchar (Go's httpguts.IsTokenRune for ASCII) */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* httpguts.ValidHostHeader's byte table */
static bool is_host_char(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!$%&()*+,-.:;=[']_~", c) != NULL;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive a[0..n) == b */
static bool ieq(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

/* textproto.TrimString: ASCII spaces and tabs at both ends */
static void trim(const char **p, size_t *n)
{
    while (*n && ((*p)[0] == ' ' || (*p)[0] == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

bool http_has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    if (!tl || tl > n)
        return false;
    for (size_t sp = 0; sp + tl <= n; sp++) {
        if (sp > 0 && v[sp - 1] != ' ' && v[sp - 1] != ',' && v[sp - 1] != '\t')
            continue;
        size_t end = sp + tl;
        if (end != n && v[end] != ' ' && v[end] != ',' && v[end] != '\t')
            continue;
        if (ieq(v + sp, tl, tok))
            return true;
    }
    return false;
}

const char *http_status_text(int code)
{
    switch (code) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* ------------------------------------------------------------ URLs */

long http_path_unescape(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (in[i] == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)in[i + 1]) || !is_hex((unsigned char)in[i + 2]))
                return -1;
            out[o++] = (char)(hex_val((unsigned char)in[i + 1]) << 4 | hex_val((unsigned char)in[i + 2]));
            i += 3;
        } else {
            out[o++] = in[i++];
        }
    }
    return (long)o;
}

/* url.QueryUnescape: as above, and '+' is a space */
static long query_unescape(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (in[i] == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)in[i + 1]) || !is_hex((unsigned char)in[i + 2]))
                return -1;
            out[o++] = (char)(hex_val((unsigned char)in[i + 1]) << 4 | hex_val((unsigned char)in[i + 2]));
            i += 3;
        } else {
            out[o++] = in[i] == '+' ? ' ' : in[i];
            i++;
        }
    }
    return (long)o;
}

char *http_query_get(const char *q, size_t qlen, const char *key, size_t *vlen)
{
    if (!q)
        return NULL;
    size_t klen = strlen(key);
    const char *end = q + qlen;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        const char *pair = q;
        size_t plen = (size_t)(pe - q);
        q = amp ? amp + 1 : end;
        if (!plen || memchr(pair, ';', plen)) /* Go 1.17+: a ';' spoils the pair */
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t kl = eq ? (size_t)(eq - pair) : plen;
        const char *v = eq ? eq + 1 : pair + plen;
        size_t vl = eq ? plen - kl - 1 : 0;
        char kd[3 * 64];
        if (klen > 64 || kl > 3 * klen) /* cannot decode to key */
            continue;
        long kn = query_unescape(pair, kl, kd);
        if (kn != (long)klen || memcmp(kd, key, klen) != 0)
            continue;
        char *out = malloc(vl + 1);
        if (!out)
            return NULL;
        long vn = query_unescape(v, vl, out);
        if (vn < 0) { /* Go drops the pair; a later one may still match */
            free(out);
            continue;
        }
        out[vn] = 0;
        if (vlen)
            *vlen = (size_t)vn;
        return out;
    }
    return NULL;
}

size_t http_clean_path(const char *in, size_t n, char *out)
{
    /* cleanPath: "" is "/", a relative path gets a leading '/' */
    size_t w = 0, r = 0, dotdot;
    bool trailing = n == 0 || in[n - 1] == '/';
    out[w++] = '/';
    dotdot = 1;
    if (n && in[0] == '/')
        r = 1;
    while (r < n) {
        if (in[r] == '/') {
            r++;
        } else if (in[r] == '.' && (r + 1 == n || in[r + 1] == '/')) {
            r++;
        } else if (in[r] == '.' && r + 1 < n && in[r + 1] == '.' && (r + 2 == n || in[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) { /* back to the previous '/' */
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            }
        } else {
            if (w != 1)
                out[w++] = '/';
            for (; r < n && in[r] != '/'; r++)
                out[w++] = in[r];
        }
    }
    if (trailing && w != 1)
        out[w++] = '/';
    return w;
}

size_t http_escape_path(const char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        bool plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c && strchr("-_.~$&+,/:;=@", c));
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hx[c >> 4];
            out[o++] = hx[c & 15];
        }
    }
    out[o] = 0;
    return o;
}

/* ------------------------------------------------------------ errors */

static long fail(struct http_req *r, int status, const char *text)
{
    r->err_status = status;
    r->err_text = text;
    return -1;
}

size_t http_error_response(const struct http_req *r, char *out, size_t cap)
{
    static const char hdrs[] = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n";
    int code = r->err_status ? r->err_status : 400;
    const char *st = http_status_text(code);
    int n;
    if (code == 431)
        n = snprintf(out, cap, "HTTP/1.1 431 %s%s431 %s", st, hdrs, st);
    else if (code == 501) /* Go never echoes the coding back */
        n = snprintf(out, cap, "HTTP/1.1 501 %s%sUnsupported transfer encoding", st, hdrs);
    else if (r->err_text)
        n = snprintf(out, cap, "HTTP/1.1 %d %s: %s%s%d %s: %s", code, st, r->err_text, hdrs, code, st, r->err_text);
    else
        n = snprintf(out, cap, "HTTP/1.1 %d %s%s%d %s", code, st, hdrs, code, st);
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap ? cap - 1 : 0;
}

/* ------------------------------------------------------------ request line */

/* http.ParseHTTPVersion */
static bool parse_version(const char *p, size_t n, int *maj, int *min)
{
    if (n == 8 && !memcmp(p, "HTTP/1.1", 8))
        return *maj = 1, *min = 1, true;
    if (n == 8 && !memcmp(p, "HTTP/1.0", 8))
        return *maj = 1, *min = 0, true;
    if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.')
        return false;
    if (p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
        return false;
    *maj = p[5] - '0';
    *min = p[7] - '0';
    return true;
}

/* url.parseAuthority, lightly: a bracketed IPv6 literal must close, and a
 * port after the host must be digits (Go's validOptionalPort). */
static bool valid_authority(const char *a, size_t n)
{
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == '@')
            at = a + i;
    if (at) {
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    const char *port = NULL;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return false;
        size_t rest = n - (size_t)(close + 1 - a);
        if (rest && close[1] != ':')
            return false;
        port = rest ? close + 1 : NULL;
    } else {
        for (size_t i = 0; i < n; i++)
            if (a[i] == ':')
                port = a + i;
    }
    if (port)
        for (const char *p = port + 1; p < a + n; p++)
            if (*p < '0' || *p > '9')
                return false;
    return true;
}

/* url.ParseRequestURI (and CONNECT's authority form) into r's path/query. */
static bool parse_target(struct http_req *r)
{
    const char *t = r->target;
    size_t n = r->target_len;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
            return false; /* "net/url: invalid control character in URL" */
    if (n == 0)
        return false;
    if (n == 1 && t[0] == '*') {
        r->star = true;
        r->path = t;
        r->path_len = 1;
        return true;
    }
    bool connect = r->method_len == 7 && !memcmp(r->method, "CONNECT", 7);
    if (connect && t[0] != '/') { /* Go parses "http://" + target */
        r->authority = true;
        const char *q = memchr(t, '?', n);
        const char *sl = memchr(t, '/', q ? (size_t)(q - t) : n);
        size_t alen = sl ? (size_t)(sl - t) : q ? (size_t)(q - t) : n;
        if (!valid_authority(t, alen))
            return false;
        r->path = t + alen;
        r->path_len = (q ? (size_t)(q - t) : n) - alen;
        if (q)
            r->query = q + 1, r->query_len = n - (size_t)(q + 1 - t);
        goto check_path;
    }
    /* getScheme: letters, then letters/digits/+-. up to ':' */
    size_t i = 0, scheme = 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            continue;
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
            if (i == 0)
                break;
            continue;
        }
        if (c == ':') {
            if (i == 0)
                return false; /* "missing protocol scheme" */
            scheme = i;
        }
        break;
    }
    const char *rest = scheme ? t + scheme + 1 : t;
    size_t rlen = scheme ? n - scheme - 1 : n;
    const char *q = memchr(rest, '?', rlen);
    if (q) {
        r->query = q + 1;
        r->query_len = rlen - (size_t)(q + 1 - rest);
        rlen = (size_t)(q - rest);
    }
    if (rlen == 0 || rest[0] != '/') {
        if (!scheme)
            return false; /* "invalid URI for request" */
        r->path = rest; /* opaque: URL.Path is empty */
        r->path_len = 0;
        return true;
    }
    if (scheme && rlen >= 2 && rest[1] == '/') {
        const char *auth = rest + 2, *sl = memchr(auth, '/', rlen - 2);
        size_t alen = sl ? (size_t)(sl - auth) : rlen - 2;
        if (!valid_authority(auth, alen))
            return false;
        r->path = auth + alen;
        r->path_len = rlen - 2 - alen;
    } else {
        r->path = rest;
        r->path_len = rlen;
    }
check_path:
    for (size_t k = 0; k < r->path_len; k++) /* url.setPath: every %XX well formed */
        if (r->path[k] == '%' &&
            (k + 2 >= r->path_len || !is_hex((unsigned char)r->path[k + 1]) || !is_hex((unsigned char)r->path[k + 2])))
            return false;
    return true;
}

/* parseRequestLine + ParseHTTPVersion + validMethod + ParseRequestURI */
static long parse_request_line(const char *l, size_t n, struct http_req *r)
{
    const char *sp1 = memchr(l, ' ', n);
    if (!sp1)
        return fail(r, 400, NULL);
    const char *rest = sp1 + 1;
    size_t rn = n - (size_t)(rest - l);
    const char *sp2 = memchr(rest, ' ', rn);
    if (!sp2)
        return fail(r, 400, NULL);
    r->method = l;
    r->method_len = (size_t)(sp1 - l);
    r->target = rest;
    r->target_len = (size_t)(sp2 - rest);
    if (!parse_version(sp2 + 1, n - (size_t)(sp2 + 1 - l), &r->major, &r->minor))
        return fail(r, 400, NULL);
    if (!r->method_len)
        return fail(r, 400, NULL);
    for (size_t i = 0; i < r->method_len; i++)
        if (!is_tchar((unsigned char)l[i]))
            return fail(r, 400, NULL);
    if (!parse_target(r))
        return fail(r, 400, NULL);
    r->head = r->method_len == 4 && !memcmp(r->method, "HEAD", 4);
    return 0;
}

/* ------------------------------------------------------------ headers */

/* What the headers said, gathered in one pass and judged afterwards in the
 * order Go checks them. */
struct hdr_facts {
    int hosts, tes, cls;
    bool host_bad, name_bad, value_bad, cl_mismatch;
    bool te_chunked;
    char cl[24];               /* first Content-Length, trimmed (longer is no number) */
    size_t cl_len;
    bool conn_close, conn_keepalive;      /* over every Connection header */
    bool conn1_close, conn1_keepalive;    /* the first one (Header.get) */
    int conns;
    bool expect_continue, expect_other;
    int expects;
};

/* One header, its value folded: obs-fold lines joined by single spaces. */
static void header(struct hdr_facts *f, const char *name, size_t nlen, const char *v, size_t vn)
{
    if (nlen == 0) /* textproto skips an empty key */
        return;
    for (size_t i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)name[i]))
            f->name_bad = true;
    for (size_t i = 0; i < vn; i++) { /* httpguts.ValidHeaderFieldValue */
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            f->value_bad = true;
    }
    if (ieq(name, nlen, "host")) {
        f->hosts++;
        for (size_t i = 0; i < vn; i++)
            if (!is_host_char((unsigned char)v[i]))
                f->host_bad = true;
    } else if (ieq(name, nlen, "transfer-encoding")) {
        f->tes++;
        const char *t = v;
        size_t tn = vn;
        trim(&t, &tn);
        f->te_chunked = ieq(t, tn, "chunked");
    } else if (ieq(name, nlen, "content-length")) {
        const char *t = v;
        size_t tn = vn;
        trim(&t, &tn);
        if (f->cls++ == 0) {
            f->cl_len = tn;
            memcpy(f->cl, t, tn < sizeof f->cl ? tn : sizeof f->cl);
        } else if (tn != f->cl_len || memcmp(t, f->cl, tn < sizeof f->cl ? tn : sizeof f->cl) != 0) {
            f->cl_mismatch = true;
        }
    } else if (ieq(name, nlen, "connection")) {
        bool c = http_has_token(v, vn, "close"), k = http_has_token(v, vn, "keep-alive");
        if (f->conns++ == 0)
            f->conn1_close = c, f->conn1_keepalive = k;
        f->conn_close |= c;
        f->conn_keepalive |= k;
    } else if (ieq(name, nlen, "expect")) {
        if (f->expects++ == 0) {
            f->expect_continue = http_has_token(v, vn, "100-continue");
            f->expect_other = !f->expect_continue && vn > 0;
        }
    }
}

/* the next line of buf[*pos..end): its content without LF (and a CR before it) */
static bool next_line(const char *buf, size_t end, size_t *pos, const char **l, size_t *n)
{
    if (*pos >= end)
        return false;
    const char *s = buf + *pos, *nl = memchr(s, '\n', end - *pos);
    size_t len = nl ? (size_t)(nl - s) : end - *pos;
    *pos += len + (nl ? 1 : 0);
    if (len && s[len - 1] == '\r')
        len--;
    *l = s;
    *n = len;
    return true;
}

static long parse_headers(const char *buf, size_t pos, size_t end, struct http_req *r)
{
    struct hdr_facts f = {0};
    char fold[HTTP_MAX_HEAD]; /* one folded value; the whole head is no longer */
    const char *l;
    size_t n;
    bool first = true;
    const char *name = NULL;
    size_t nlen = 0, flen = 0;
    bool have = false;
    while (next_line(buf, end, &pos, &l, &n)) {
        if (n == 0)
            break; /* the empty line */
        if (l[0] == ' ' || l[0] == '\t') {
            if (first)
                return fail(r, 400, NULL); /* "malformed MIME header initial line" */
            const char *t = l;
            size_t tn = n;
            trim(&t, &tn);
            if (flen + 1 + tn <= sizeof fold) {
                fold[flen++] = ' ';
                memcpy(fold + flen, t, tn);
                flen += tn;
            }
            continue;
        }
        first = false;
        if (have)
            header(&f, name, nlen, fold, flen);
        const char *colon = memchr(l, ':', n);
        if (!colon)
            return fail(r, 400, NULL); /* "malformed MIME header line" */
        name = l;
        nlen = (size_t)(colon - l);
        const char *v = colon + 1;
        size_t vn = n - nlen - 1;
        trim(&v, &vn);
        memcpy(fold, v, vn);
        flen = vn;
        have = true;
    }
    if (have)
        header(&f, name, nlen, fold, flen);

    /* http.readRequest */
    if (f.hosts > 1)
        return fail(r, 400, NULL); /* "too many Host headers" */
    bool is11 = r->major > 1 || (r->major == 1 && r->minor >= 1);
    r->close = r->major < 1 || (r->major == 1 && r->minor == 0 ? f.conn_close || !f.conn_keepalive : f.conn_close);
    /* readTransfer: Transfer-Encoding is ignored on HTTP/1.0 requests */
    if (f.tes && is11) {
        if (f.tes != 1 || !f.te_chunked)
            return fail(r, 501, NULL);
        r->body = HB_CHUNKED;
    } else if (f.cls) {
        if (f.cl_mismatch)
            return fail(r, 400, NULL);
        if (f.cl_len) { /* ParseUint(cl, 10, 63) */
            uint64_t v = 0;
            if (f.cl_len > 19)
                return fail(r, 400, NULL);
            for (size_t i = 0; i < f.cl_len; i++) {
                if (f.cl[i] < '0' || f.cl[i] > '9')
                    return fail(r, 400, NULL);
                v = v * 10 + (uint64_t)(f.cl[i] - '0');
            }
            if (v > INT64_MAX)
                return fail(r, 400, NULL);
            if (v)
                r->body = HB_LENGTH, r->content_length = v;
        }
    }
    /* conn.readRequest */
    if (r->major != 1)
        return fail(r, 505, "unsupported protocol version");
    bool connect = r->method_len == 7 && !memcmp(r->method, "CONNECT", 7);
    if (is11 && f.hosts == 0 && !connect)
        return fail(r, 400, "missing required Host header");
    if (f.hosts == 1 && f.host_bad)
        return fail(r, 400, "malformed Host header");
    if (f.name_bad)
        return fail(r, 400, "invalid header name");
    if (f.value_bad)
        return fail(r, 400, "invalid header value");
    r->wants_close = r->close || f.conn1_close;
    r->keep_alive10 = r->major == 1 && r->minor == 0 && f.conn1_keepalive;
    r->expect_continue = f.expect_continue;
    r->expect_other = f.expect_other;
    return 0;
}

long http_parse(const char *buf, size_t len, struct http_scan *scan, struct http_req *r)
{
    memset(r, 0, sizeof *r);
    /* nothing past the limit is looked at: a head must end within it */
    size_t lim = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    size_t i = scan->pos, end = 0;
    for (; i < lim; i++) {
        if (buf[i] != '\n')
            continue;
        if (!scan->line_checked) { /* the request line just completed */
            size_t ll = i && buf[i - 1] == '\r' ? i - 1 : i;
            if (parse_request_line(buf, ll, r) < 0)
                return -1;
            scan->line_checked = true;
        }
        if (i + 1 < lim && buf[i + 1] == '\n') {
            end = i + 2;
            break;
        }
        if (i + 2 < lim && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
            end = i + 3;
            break;
        }
        if (i + 2 >= lim && (i + 1 >= lim || buf[i + 1] == '\r'))
            break; /* cannot tell yet: look here again with more bytes */
    }
    scan->pos = i;
    if (!end)
        return len >= HTTP_MAX_HEAD ? fail(r, 431, NULL) : 0;
    size_t pos = 0;
    const char *l;
    size_t n;
    next_line(buf, end, &pos, &l, &n);
    memset(r, 0, sizeof *r);
    if (parse_request_line(l, n, r) < 0)
        return -1;
    if (parse_headers(buf, pos, end, r) < 0)
        return -1;
    return (long)end;
}

/* ------------------------------------------------------------ chunked bodies */

/* Go's chunkedReader: "<hex>[;ext]" CRLF, data, CRLF ... "0" CRLF, trailer
 * lines, CRLF. A size line longer than 4096 bytes is an error. */
enum { CK_SIZE, CK_EXT, CK_SIZE_WS, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER, CK_DONE };

long http_chunked_skip(struct http_chunked *c, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && c->state != CK_DONE) {
        unsigned char ch = (unsigned char)p[i];
        switch (c->state) {
        case CK_SIZE:
        case CK_EXT:
        case CK_SIZE_WS:
            if (++c->linelen > 4096)
                return -1;
            i++;
            if (ch == '\n') {
                if (c->state == CK_SIZE && c->linelen == 1)
                    return -1; /* empty size line */
                c->linelen = 0;
                if (c->left == 0) {
                    c->state = CK_TRAILER;
                } else {
                    c->state = CK_DATA;
                }
                break;
            }
            if (c->state == CK_EXT)
                break;
            if (c->state == CK_SIZE && is_hex(ch)) {
                if (c->linelen > 16)
                    return -1; /* "http chunk length too large" */
                c->left = c->left << 4 | (uint64_t)hex_val(ch);
            } else if (c->state == CK_SIZE && ch == ';' && c->linelen > 1) {
                c->state = CK_EXT;
            } else if ((ch == ' ' || ch == '\t' || ch == '\r') && c->linelen > 1) {
                c->state = CK_SIZE_WS;
            } else {
                return -1;
            }
            break;
        case CK_DATA: {
            size_t k = n - i < c->left ? n - i : (size_t)c->left;
            i += k;
            c->left -= k;
            if (c->left == 0)
                c->state = CK_DATA_CR;
            break;
        }
        case CK_DATA_CR:
            if (ch != '\r')
                return -1;
            i++;
            c->state = CK_DATA_LF;
            break;
        case CK_DATA_LF:
            if (ch != '\n')
                return -1;
            i++;
            c->state = CK_SIZE;
            c->linelen = 0;
            break;
        case CK_TRAILER: /* lines until an empty one */
            i++;
            if (ch == '\n') {
                if (c->linelen == 0)
                    c->state = CK_DONE;
                c->linelen = 0;
            } else if (ch != '\r' || c->linelen > 0) {
                if (++c->linelen > 4096)
                    return -1;
            }
            break;
        }
    }
    c->total += i;
    c->done = c->state == CK_DONE;
    return (long)i;
}
