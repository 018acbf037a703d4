/* Configuration-file parser (see conf.h): a recursive-descent reader whose
 * states mirror those of nats-server's conf/lex.go so that the files
 * nats-server v2.9.10 accepts are accepted here with the same values, and the
 * ones it rejects are rejected. Only libc is used (the fuzzer links it alone).
 *
 *   TOP ──key──> KEY_END ──[= : or nothing]──> VALUE ──> TOP_VALUE_END ──[\n ; , }]──> TOP
 *    │ '{' skipped anywhere (JSON files)          │
 *    │                                            ├─ '{' MAP:   KEY_START → KEY_END → VALUE → VALUE_END ─[\n ; ,]→ KEY_START
 *    │                                            │             (KEY_START or VALUE_END '}' closes the map)
 *    │                                            └─ '[' ARRAY: VALUE → VALUE_END ─[\n ,]→ VALUE   (']' closes)
 *    └─ key `include` + blank ──> INCLUDE path ──> (TOP_|MAP_)VALUE_END
 *
 * Quirks of nats-server reproduced on purpose (each checked with `nats-server -t`):
 *  - a key runs to a blank, '=', ':' or EOF, so `a{` is a key; key/value may be
 *    separated by newlines (`port\n4222`) at top level and in maps;
 *  - an opening quote followed by EOF (or EOF right after an escape in a
 *    double-quoted string, or EOF after a top-level key) ends the document
 *    quietly: completed entries are kept, the unfinished ones dropped;
 *  - a digit-led value followed by a character that ends neither a number nor
 *    a top-level value (']' included) becomes an unquoted string that keeps
 *    that character: `[1]` is the string "1]" and an unterminated array, while
 *    `[1 ]` and `[1k]` (string "1k") are fine; `1.2.3`, `10.0.0.1:4222`,
 *    `2s`, `500ms` are strings; `2m` is the integer 2000000;
 *  - unquoted strings process backslash escapes and end at a single quote;
 *  - a lone '/' after a value acts as a separator (blank at top level), and
 *    is dropped in front of a map key;
 *  - a block `( ... )` keeps the newline before its closing ')', and at EOF
 *    keeps "\n)" too;
 *  - int suffix multiplication wraps around like Go's int64.
 * Deliberate differences: a size suffix other than k|kb|ki|kib (and m, g, t,
 * p, e likewise) and a map key without a value are errors (nats silently
 * drops or misfiles the value); so is a NUL byte (nats takes it for the end
 * of input in some states only). Maps, arrays, includes and $VAR values nest
 * at most CONF_MAX_DEPTH deep, and include cycles and self-referencing
 * environment variables are reported as such (nats recurses until its stack
 * overflows).
 */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define EOF_C (-1)          /* peekc() at the end of the input */
#define STOP 1              /* the EOF quirk above: end the document, keep what is complete */
#define CLOSED 2            /* internal: a map or array saw its closing bracket */
#define CHUNK_SIZE 16384    /* arena chunk; larger requests get a chunk of their own */
#define MAX_FILE (256u << 20) /* refuse config files above 256 MiB */

#ifdef FUZZING
#define INCLUDES_ALLOWED 0  /* fuzz input must not read files */
#else
#define INCLUDES_ALLOWED 1
#endif

/* ---------------------------------------------------------------- arena */

struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
};

/* The root node comes first so that conf_free() can get back to the arena. */
struct conf_doc {
    struct conf_node root;
    struct chunk *chunks;
    uint64_t seed;          /* key-hash seed, varies with ASLR to blunt crafted collisions */
};

static void *arena_alloc(struct conf_doc *d, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    if (n > SIZE_MAX / 2)
        return NULL;
    n = n ? (n + align - 1) & ~(align - 1) : align;
    struct chunk *c = d->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
        struct chunk *nc = malloc(sizeof(*nc) + cap);
        if (!nc)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (c && cap == n) { /* one-off block: keep filling the current chunk */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            d->chunks = nc;
        }
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

static char *arena_strndup(struct conf_doc *d, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = arena_alloc(d, n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* ------------------------------------------------------- parser state */

/* Shared by a document and every include / $VAR value parsed for it. */
struct run {
    struct conf_doc *doc;
    char *err;
    size_t errlen;
    size_t msg_off;         /* start of the message proper in err, after "file:l:c: " */
    int depth;              /* open maps + arrays + includes + env values */
    const char *active[CONF_MAX_DEPTH]; /* files and $NAMEs being read, to report cycles */
    int nactive;
};

struct nodevec {
    struct conf_node **v;
    size_t n, cap;
};

/* A map under construction; chained through `outer` it is the variable scope. */
struct mapb {
    struct nodevec vec;     /* entries in order; NULL where a later duplicate replaced one */
    uint32_t *slot;         /* open addressing: index + 1 into vec, 0 = empty */
    size_t nslot, live;
    struct mapb *outer;
};

/* One text being parsed: a file, an included file or "pk=<env value>". */
struct src {
    struct run *run;
    const char *s;
    size_t len, pos;
    int line;
    size_t lstart;          /* offset of the current line's first byte */
    const char *file, *dir; /* arena strings; dir is where includes resolve */
    struct mapb *scope;     /* innermost open map */
    int allow_include;
    char *buf;              /* scratch for strings with escapes */
    size_t blen, bcap;
};

struct keytok {
    const char *key;
    int line, col;
};

static int parse_value(struct src *S, struct conf_node **out);
static int parse_document(struct src *S, struct conf_node *root);

/* ------------------------------------------------------------- errors */

static int verr_at(struct run *R, const char *file, int line, int col, const char *fmt, va_list ap)
{
    if (!R->err || !R->errlen)
        return -EINVAL;
    int n = snprintf(R->err, R->errlen, "%s:%d:%d: ", file, line, col);
    R->msg_off = n < 0 ? 0 : (size_t)n < R->errlen ? (size_t)n : R->errlen - 1;
    vsnprintf(R->err + R->msg_off, R->errlen - R->msg_off, fmt, ap);
    return -EINVAL;
}

__attribute__((format(printf, 4, 5)))
static int err_at(struct src *S, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verr_at(S->run, S->file, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

static int colno(const struct src *S)
{
    return (int)(S->pos - S->lstart) + 1;
}

__attribute__((format(printf, 2, 3)))
static int err_here(struct src *S, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verr_at(S->run, S->file, S->line, colno(S), fmt, ap);
    va_end(ap);
    return rc;
}

static int nomem(struct src *S)
{
    err_here(S, "out of memory");
    return -ENOMEM;
}

/* Prefix the error already in err (an include's or a variable's) with a new
 * position and text; keeps rc so that an I/O errno survives. */
static int wrap_err(struct src *S, int line, int col, int rc, const char *what, const char *name)
{
    struct run *R = S->run;
    if (!R->err || !R->errlen)
        return rc;
    char *inner = strdup(R->err);
    if (inner) {
        err_at(S, line, col, what, name, inner);
        free(inner);
    }
    return rc;
}

/* Go's errors are lowercase ("no such file or directory"); so are ours. */
static void errno_text(int e, char *out, size_t n)
{
    snprintf(out, n, "%s", strerror(e));
    if (out[0] >= 'A' && out[0] <= 'Z')
        out[0] = (char)(out[0] - 'A' + 'a');
}

/* ------------------------------------------------------ character level */

static int peekc(const struct src *S)
{
    return S->pos < S->len ? (unsigned char)S->s[S->pos] : EOF_C;
}

static int peekat(const struct src *S, size_t off)
{
    return S->len - S->pos > off ? (unsigned char)S->s[S->pos + off] : EOF_C;
}

static void adv(struct src *S)
{
    if (S->pos >= S->len)
        return;
    if (S->s[S->pos] == '\n') {
        S->line++;
        S->lstart = S->pos + 1;
    }
    S->pos++;
}

static int is_ws(int c) { return c == ' ' || c == '\t'; }
static int is_nl(int c) { return c == '\n' || c == '\r'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Byte length of the Unicode white space (Go's unicode.IsSpace) at the
 * cursor, 0 if none: where nats-server skips "space" it means all of these. */
static size_t uspace_len(const struct src *S)
{
    const unsigned char *p = (const unsigned char *)S->s + S->pos;
    size_t left = S->len - S->pos;
    if (!left)
        return 0;
    if (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r'))
        return 1;
    if (left >= 2 && p[0] == 0xC2 && (p[1] == 0x85 || p[1] == 0xA0))
        return 2;
    if (left < 3)
        return 0;
    if ((p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80) ||              /* U+1680 */
        (p[0] == 0xE2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 ||
                                          p[2] == 0xA9 || p[2] == 0xAF)) || /* U+2000.. */
        (p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F) ||              /* U+205F */
        (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80))                /* U+3000 */
        return 3;
    return 0;
}

static int skip_uspace(struct src *S)
{
    size_t n = uspace_len(S);
    for (size_t i = 0; i < n; i++)
        adv(S);
    return n != 0;
}

/* The character at the cursor, printable in a message (nats prints a NUL for EOF). */
static const char *chdesc(const struct src *S, char out[8])
{
    int c = peekc(S);
    switch (c) {
    case EOF_C: return "EOF";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    }
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (n > S->len - S->pos)
        n = S->len - S->pos;
    memcpy(out, S->s + S->pos, n);
    out[n] = 0;
    return out;
}

/* Comments run to the end of the line; the newline is left for the caller. */
static void skip_comment(struct src *S)
{
    int c;
    while ((c = peekc(S)) != EOF_C && !is_nl(c))
        adv(S);
}

static int is_comment(const struct src *S)
{
    return peekc(S) == '#' || (peekc(S) == '/' && peekat(S, 1) == '/');
}

static int buf_add(struct src *S, const char *p, size_t n)
{
    if (S->bcap - S->blen <= n) {
        size_t cap = S->bcap ? S->bcap : 64;
        while (cap - S->blen <= n) {
            if (cap > SIZE_MAX / 2)
                return nomem(S);
            cap *= 2;
        }
        char *nb = realloc(S->buf, cap);
        if (!nb)
            return nomem(S);
        S->buf = nb;
        S->bcap = cap;
    }
    if (n)
        memcpy(S->buf + S->blen, p, n);
    S->blen += n;
    return 0;
}

/* --------------------------------------------------------------- nodes */

static struct conf_node *new_node(struct src *S, enum conf_kind k, int line, int col)
{
    struct conf_node *n = arena_alloc(S->run->doc, sizeof(*n));
    if (n) {
        n->kind = k;
        n->file = S->file;
        n->line = line;
        n->col = col;
    }
    return n;
}

static int mk_text(struct src *S, enum conf_kind k, const char *p, size_t len, int line, int col,
                   int quoted, struct conf_node **out)
{
    struct conf_node *n = new_node(S, k, line, col);
    if (!n || !(n->str = arena_strndup(S->run->doc, p, len)))
        return nomem(S);
    n->len = len;
    n->quoted = quoted;
    *out = n;
    return 0;
}

static int vec_push(struct src *S, struct nodevec *v, struct conf_node *n)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        if (cap > UINT32_MAX - 1)
            return nomem(S);
        struct conf_node **nv = realloc(v->v, cap * sizeof(*nv));
        if (!nv)
            return nomem(S);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = n;
    return 0;
}

/* Copy the surviving nodes into the arena as the container's items. */
static int finish_items(struct src *S, struct nodevec *v, struct conf_node *node)
{
    size_t live = 0;
    for (size_t i = 0; i < v->n; i++)
        live += v->v[i] != NULL;
    node->items = arena_alloc(S->run->doc, (live ? live : 1) * sizeof(*node->items));
    if (!node->items)
        return nomem(S);
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i])
            node->items[node->n++] = v->v[i];
    return 0;
}

/* --------------------------------------------------------- map builder */

static uint64_t key_hash(uint64_t seed, const char *k)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 31);
}

static struct conf_node *mapb_get(const struct src *S, const struct mapb *m, const char *key)
{
    if (!m->nslot)
        return NULL;
    size_t mask = m->nslot - 1;
    for (size_t h = key_hash(S->run->doc->seed, key) & mask; m->slot[h]; h = (h + 1) & mask) {
        struct conf_node *e = m->vec.v[m->slot[h] - 1];
        if (strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static int mapb_rehash(struct src *S, struct mapb *m)
{
    size_t n = m->nslot ? m->nslot * 2 : 16;
    uint32_t *slot = calloc(n, sizeof(*slot));
    if (!slot)
        return nomem(S);
    for (size_t i = 0; i < m->vec.n; i++) {
        if (!m->vec.v[i])
            continue;
        size_t h = key_hash(S->run->doc->seed, m->vec.v[i]->key) & (n - 1);
        while (slot[h])
            h = (h + 1) & (n - 1);
        slot[h] = (uint32_t)(i + 1);
    }
    free(m->slot);
    m->slot = slot;
    m->nslot = n;
    return 0;
}

/* Append an entry; an earlier entry with the same key (exact case, as Go's
 * map) is dropped: last wins, and the survivor sits at its own position. */
static int mapb_put(struct src *S, struct mapb *m, struct conf_node *n)
{
    int rc;
    if ((m->live + 1) * 2 > m->nslot && (rc = mapb_rehash(S, m)) < 0)
        return rc;
    if ((rc = vec_push(S, &m->vec, n)) < 0)
        return rc;
    uint32_t idx = (uint32_t)m->vec.n;
    size_t mask = m->nslot - 1;
    size_t h = key_hash(S->run->doc->seed, n->key) & mask;
    for (; m->slot[h]; h = (h + 1) & mask) {
        if (strcmp(m->vec.v[m->slot[h] - 1]->key, n->key) == 0) {
            m->vec.v[m->slot[h] - 1] = NULL;
            m->slot[h] = idx;
            return 0;
        }
    }
    m->slot[h] = idx;
    m->live++;
    return 0;
}

static void mapb_free(struct mapb *m)
{
    free(m->vec.v);
    free(m->slot);
}

static int put_entry(struct src *S, struct mapb *m, const struct keytok *kt, struct conf_node *v)
{
    v->key = kt->key;
    v->key_line = kt->line;
    v->key_col = kt->col;
    return mapb_put(S, m, v);
}

static int depth_enter(struct src *S)
{
    if (S->run->depth >= CONF_MAX_DEPTH)
        return err_here(S, "maximum nesting depth of %d exceeded", CONF_MAX_DEPTH);
    S->run->depth++;
    return 0;
}

/* A file including itself, or an environment variable whose value refers
 * to itself, would only stop at the depth limit with a message wrapped 64
 * times; name the cycle instead. */
static int is_active(const struct run *R, const char *name)
{
    for (int i = 0; i < R->nactive; i++)
        if (strcmp(R->active[i], name) == 0)
            return 1;
    return 0;
}

/* -------------------------------------------------------------- paths */

/* Go's filepath.Clean, lexically: collapse "//", drop ".", fold "x/..". */
static char *path_clean(struct conf_doc *d, const char *p, size_t n)
{
    char *out = arena_alloc(d, n + 2);
    if (!out)
        return NULL;
    int rooted = n && p[0] == '/';
    size_t w = rooted, floor = rooted; /* ".." may not remove below floor */
    out[0] = '/';
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t sl = j - i;
        if (sl == 0 || (sl == 1 && p[i] == '.')) {
            /* nothing */
        } else if (sl == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (w > floor) {
                while (w > floor && out[w - 1] != '/')
                    w--;
                if (w > floor)
                    w--; /* the separator before the removed element */
            } else if (!rooted) {
                if (w)
                    out[w++] = '/';
                memcpy(out + w, "..", 2);
                w += 2;
                floor = w;
            }
        } else {
            if (w > (size_t)rooted)
                out[w++] = '/';
            memcpy(out + w, p + i, sl);
            w += sl;
        }
        i = j + 1;
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = 0;
    return out;
}

/* Go's filepath.Dir. */
static char *path_dir(struct conf_doc *d, const char *file)
{
    const char *sl = strrchr(file, '/');
    if (!sl)
        return path_clean(d, ".", 1);
    return path_clean(d, file, sl == file ? 1 : (size_t)(sl - file));
}

/* Go's filepath.Join(dir, rel): joins even when rel starts with '/'. */
static char *path_join(struct conf_doc *d, const char *dir, const char *rel)
{
    size_t dl = strlen(dir), rl = strlen(rel);
    if (!rl)
        return path_clean(d, dir, dl);
    char *tmp = malloc(dl + rl + 2);
    if (!tmp)
        return NULL;
    memcpy(tmp, dir, dl);
    tmp[dl] = '/';
    memcpy(tmp + dl + 1, rel, rl);
    char *out = path_clean(d, tmp, dl + rl + 1);
    free(tmp);
    return out;
}

/* Whole file into a malloc'd buffer. On failure *op names the failing call. */
static int read_file(const char *path, char **text, size_t *len, const char **op)
{
    *op = "open";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    *op = "read";
    struct stat st;
    size_t cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    size_t n = 0;
    char *buf = NULL;
    int rc = 0;
    for (;;) {
        if (n == cap || !buf) {
            cap = buf ? cap * 2 : cap;
            char *nb = cap > MAX_FILE ? NULL : realloc(buf, cap);
            if (!nb) {
                rc = cap > MAX_FILE ? -EFBIG : -ENOMEM;
                break;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return 0;
}

/* ------------------------------------------------------------ strings */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "\xHH": like nats-server, judge the two bytes before the cursor once two
 * characters are consumed, so an early EOF reports the "\x" itself. */
static int scan_hex(struct src *S)
{
    for (int i = 0; i < 2; i++) {
        if (is_nl(peekc(S)))
            return err_here(S, "Expected two hexadecimal digits after '\\x', but hit end of line");
        adv(S);
    }
    const char *p = S->s + S->pos - 2;
    int hi = hexval((unsigned char)p[0]), lo = hexval((unsigned char)p[1]);
    if (hi < 0 || lo < 0)
        return err_here(S, "Expected two hexadecimal digits after '\\x', but got '%.2s'", p);
    char b = (char)(hi << 4 | lo);
    return buf_add(S, &b, 1);
}

/* After a backslash, in double-quoted and unquoted strings. */
static int scan_escape(struct src *S)
{
    static const char from[] = "tnr\"\\", to[] = "\t\n\r\"\\";
    int c = peekc(S);
    char d[8];
    if (c == 'x') {
        adv(S);
        return scan_hex(S);
    }
    const char *hit = c > 0 ? strchr(from, c) : NULL;
    if (!hit)
        return err_here(S, "Invalid escape character '%s'. Only the following escape characters "
                           "are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.", chdesc(S, d));
    adv(S);
    return buf_add(S, &to[hit - from], 1);
}

static int scan_dq(struct src *S, int line, int col, struct conf_node **out)
{
    size_t seg = S->pos;
    int rc;
    S->blen = 0;
    for (;;) {
        int c = peekc(S);
        if (c == EOF_C)
            return S->pos > seg ? err_here(S, "Unexpected EOF.") : STOP;
        if (c == '"')
            break;
        adv(S);
        if (c != '\\')
            continue;
        if ((rc = buf_add(S, S->s + seg, S->pos - 1 - seg)) < 0 || (rc = scan_escape(S)) < 0)
            return rc;
        seg = S->pos;
    }
    if ((rc = buf_add(S, S->s + seg, S->pos - seg)) < 0)
        return rc;
    adv(S);
    return mk_text(S, CONF_STRING, S->buf, S->blen, line, col, 1, out);
}

static int scan_sq(struct src *S, int line, int col, struct conf_node **out)
{
    size_t start = S->pos;
    int c;
    while ((c = peekc(S)) != '\'') {
        if (c == EOF_C)
            return S->pos > start ? err_here(S, "Unexpected EOF.") : STOP;
        adv(S);
    }
    adv(S);
    return mk_text(S, CONF_STRING, S->s + start, S->pos - 1 - start, line, col, 1, out);
}

/* `( ... )`: ends at a ')' alone on its line; the text keeps the newline
 * before it (and at EOF the ")" too, as nats-server does). */
static int scan_block(struct src *S, int line, int col, struct conf_node **out)
{
    size_t start = S->pos;
    for (;;) {
        int c = peekc(S);
        if (c == EOF_C)
            return err_here(S, "Unexpected EOF processing block.");
        if (c == ')' && S->s[S->pos - 1] == '\n') {
            int nx = peekat(S, 1);
            if (nx == '\n' || nx == EOF_C) {
                size_t end = nx == EOF_C ? S->pos + 1 : S->pos;
                adv(S);
                return mk_text(S, CONF_STRING, S->s + start, end - start, line, col, 1, out);
            }
        }
        adv(S);
    }
}

static int bool_word(const char *s, size_t n, int *v)
{
    static const char *const words[] = { "false", "no", "off", "true", "yes", "on" };
    for (int i = 0; i < 6; i++) {
        if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0) {
            *v = i >= 3;
            return 1;
        }
    }
    return 0;
}

static int resolve_var(struct src *S, const char *tok, size_t len, int line, int col,
                       struct conf_node **out);

/* Unquoted string from `start`; bytes up to the cursor are taken raw (a
 * digit-led token that turned out to be a string). Ends, unconsumed, at a
 * blank, newline, EOF, ';' ',' ']' '}', or, consumed, at a single quote. */
static int scan_unquoted(struct src *S, size_t start, int line, int col, struct conf_node **out)
{
    size_t seg = start;
    int escaped = 0, quote_end = 0, rc, c;
    S->blen = 0;
    for (;;) {
        c = peekc(S);
        if (c == EOF_C || is_nl(c) || is_ws(c) || c == ';' || c == ',' || c == ']' || c == '}')
            break;
        if (c == '\'') {
            quote_end = 1;
            break;
        }
        adv(S);
        if (c != '\\')
            continue;
        if ((rc = buf_add(S, S->s + seg, S->pos - 1 - seg)) < 0 || (rc = scan_escape(S)) < 0)
            return rc;
        seg = S->pos;
        escaped = 1;
    }
    if ((rc = buf_add(S, S->s + seg, S->pos - seg)) < 0)
        return rc;
    if (quote_end)
        adv(S);
    if (!escaped && !quote_end) {
        int b;
        if (bool_word(S->buf, S->blen, &b)) {
            struct conf_node *n = new_node(S, CONF_BOOL, line, col);
            if (!n)
                return nomem(S);
            n->i = b;
            *out = n;
            return 0;
        }
        if (S->blen && S->buf[0] == '$')
            return resolve_var(S, S->buf, S->blen, line, col, out);
    }
    return mk_text(S, CONF_STRING, S->buf, S->blen, line, col, 0, out);
}

/* ------------------------------------------------------------ numbers */

static int is_suffix_letter(int c)
{
    return c > 0 && strchr("kKmMgGtTpPeE", c) != NULL;
}

/* What ends a digit-led token as a number (note: not ']'). */
static int ends_number(int c)
{
    return c == EOF_C || is_nl(c) || is_ws(c) || c == '}' || c == ';' || c == ',';
}

static int size_suffix(const char *s, size_t n, unsigned long long *mult)
{
    static const char letters[] = "kmgtpe";
    *mult = 1;
    if (n == 0)
        return 0;
    const char *l = strchr(letters, s[0] | 0x20);
    if (!l || n > 3)
        return -1;
    char rest[3] = { 0 };
    for (size_t i = 1; i < n; i++)
        rest[i - 1] = (char)(s[i] | 0x20);
    unsigned long long base;
    if (n == 1)
        base = 1000;
    else if (!strcmp(rest, "b") || !strcmp(rest, "i") || !strcmp(rest, "ib"))
        base = 1024;
    else
        return -1;
    for (int p = 0; p <= l - letters; p++)
        *mult *= base;
    return 0;
}

static int make_int(struct src *S, size_t start, int line, int col, struct conf_node **out)
{
    const char *p = S->s + start, *end = S->s + S->pos, *q = p;
    int tl = (int)(end - p > 256 ? 256 : end - p), neg = *q == '-';
    unsigned long long v = 0, lim = neg ? 1ULL << 63 : (1ULL << 63) - 1, mult;
    for (q += neg; q < end && is_digit(*q); q++) {
        unsigned d = (unsigned)(*q - '0');
        if (v > (lim - d) / 10)
            return err_at(S, line, col, "integer '%.*s' is out of the range", tl, p);
        v = v * 10 + d;
    }
    if (size_suffix(q, (size_t)(end - q), &mult) < 0)
        return err_at(S, line, col, "invalid size suffix in integer '%.*s'", tl, p);
    int rc = mk_text(S, CONF_INT, p, (size_t)(end - p), line, col, 0, out);
    if (rc == 0) /* Go multiplies int64s without a check: wrap the same way */
        (*out)->i = (long long)((neg ? 0ULL - v : v) * mult);
    return rc;
}

static int make_float(struct src *S, size_t start, int line, int col, struct conf_node **out)
{
    int rc = mk_text(S, CONF_FLOAT, S->s + start, S->pos - start, line, col, 0, out);
    if (rc)
        return rc;
    /* the token is [-]digits.digits: strtod reads it in the C locale */
    (*out)->f = strtod((*out)->str, NULL);
    if (isinf((*out)->f))
        return err_at(S, line, col, "float '%.256s' is out of the range", (*out)->str);
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int num2(const char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/* "YYYY-" is consumed; the rest must be "MM-DDTHH:MM:SSZ", and a real instant
 * (Go's time.Parse checks the ranges and the day of the month). */
static int scan_datetime(struct src *S, size_t start, int line, int col, struct conf_node **out)
{
    static const char pat[] = "00-00T00:00:00Z";
    char d[8];
    for (const char *p = pat; *p; p++) {
        int c = peekc(S);
        if (*p == '0' && !is_digit(c))
            return err_here(S, "Expected digit in ISO8601 datetime, but found '%s' instead.", chdesc(S, d));
        if (*p != '0' && c != *p)
            return err_here(S, "Expected '%c' in ISO8601 datetime, but found '%s' instead.", *p, chdesc(S, d));
        adv(S);
    }
    const char *t = S->s + start;
    int y = num2(t) * 100 + num2(t + 2), mo = num2(t + 5), dd = num2(t + 8);
    int h = num2(t + 11), mi = num2(t + 14), se = num2(t + 17);
    if (mo < 1 || mo > 12 || dd < 1 || dd > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
        return err_at(S, line, col, "expected Zulu formatted DateTime, but got '%.20s'", t);
    int rc = mk_text(S, CONF_DATETIME, t, 20, line, col, 0, out);
    if (rc == 0)
        (*out)->i = days_from_civil(y, mo, dd) * 86400 + h * 3600 + mi * 60 + se;
    return rc;
}

/* After the suffix letter of `1k`, `1Mb`, `1Gi`...: more b/i letters, then a
 * number ends (a digit too: `1e5` is 1e and a stray 5), else it is a string. */
static int scan_suffix(struct src *S, size_t start, int line, int col, struct conf_node **out)
{
    int c;
    while ((c = peekc(S)) == 'b' || c == 'B' || c == 'i' || c == 'I')
        adv(S);
    if (ends_number(c) || is_digit(c))
        return make_int(S, start, line, col, out);
    return scan_unquoted(S, start, line, col, out);
}

/* After "<digits>.": a float, or with a second dot an IP address (string). */
static int scan_float(struct src *S, size_t start, int line, int col, struct conf_node **out)
{
    char d[8];
    int c;
    if (!is_digit(peekc(S)))
        return err_here(S, "Floats must have a digit after the '.', but got '%s' instead.", chdesc(S, d));
    while (is_digit(peekc(S)))
        adv(S);
    if (peekc(S) != '.')
        return make_float(S, start, line, col, out);
    adv(S);
    while (is_digit(c = peekc(S)) || c == '.' || c == ':' || c == '-')
        adv(S);
    return mk_text(S, CONF_STRING, S->s + start, S->pos - start, line, col, 0, out);
}

/* A value starting with a digit: int, float, datetime, IP, or string. */
static int scan_number(struct src *S, int line, int col, struct conf_node **out)
{
    size_t start = S->pos;
    adv(S);
    for (;;) {
        int c = peekc(S);
        if (is_digit(c)) {
            adv(S);
        } else if (c == '-') {
            if (S->pos - start != 4)
                return err_here(S, "All ISO8601 dates must be in full Zulu form.");
            adv(S);
            return scan_datetime(S, start, line, col, out);
        } else if (c == '.') {
            adv(S);
            return scan_float(S, start, line, col, out);
        } else if (is_suffix_letter(c)) {
            adv(S);
            return scan_suffix(S, start, line, col, out);
        } else if (ends_number(c)) {
            return make_int(S, start, line, col, out);
        } else {
            adv(S); /* kept raw in the string, even ']' or '\' */
            return scan_unquoted(S, start, line, col, out);
        }
    }
}

/* After '-': a negative int (with suffix) or float; no string fallback. */
static int scan_negative(struct src *S, int line, int col, struct conf_node **out)
{
    size_t start = S->pos - 1;
    char d[8];
    int c = peekc(S);
    if (c == '.')
        return err_here(S, "Floats must start with a digit, not '.'.");
    if (!is_digit(c))
        return err_here(S, "Expected a digit but got '%s'.", chdesc(S, d));
    while (is_digit(c = peekc(S)))
        adv(S);
    if (c == '.') {
        adv(S);
        return scan_float(S, start, line, col, out);
    }
    if (is_suffix_letter(c)) {
        adv(S);
        return scan_suffix(S, start, line, col, out);
    }
    return make_int(S, start, line, col, out);
}

/* ---------------------------------------------------------- variables */

/* The variable's value as a new node at the reference's position; children
 * are shared with the definition, which is complete and never changes. */
static int alias(struct src *S, const struct conf_node *e, int line, int col, struct conf_node **out)
{
    struct conf_node *n = arena_alloc(S->run->doc, sizeof(*n));
    if (!n)
        return nomem(S);
    *n = *e;
    n->key = NULL;
    n->key_line = n->key_col = 0;
    n->used_as_var = 0;
    n->file = S->file;
    n->line = line;
    n->col = col;
    *out = n;
    return 0;
}

/* An environment value is parsed as the config text "pk=<value>", alone
 * (no access to the file's keys, no includes), as nats-server does. */
static int resolve_env(struct src *S, const char *name, const char *val, int line, int col,
                       struct conf_node **out)
{
    struct run *R = S->run;
    static const char what[] = "variable reference for '%s' on line %d could not be parsed: %s";
    if (R->depth >= CONF_MAX_DEPTH || R->nactive >= CONF_MAX_DEPTH)
        return err_at(S, line, col, what, name, line, "nested too deeply");
    size_t vl = strlen(val);
    char *text = malloc(vl + 4), *fname = arena_alloc(R->doc, strlen(name) + 2);
    struct conf_node *root = new_node(S, CONF_MAP, 1, 1);
    if (!text || !fname || !root) {
        free(text);
        return nomem(S);
    }
    memcpy(text, "pk=", 3);
    memcpy(text + 3, val, vl + 1);
    fname[0] = '$';
    strcpy(fname + 1, name);
    if (is_active(R, fname)) {
        free(text);
        return err_at(S, line, col, what, name, line, "it refers to itself");
    }
    struct src E = { .run = R, .s = text, .len = vl + 3, .line = 1, .file = fname, .dir = "." };
    R->depth++;
    R->active[R->nactive++] = fname;
    int rc = parse_document(&E, root);
    R->nactive--;
    R->depth--;
    free(E.buf);
    free(text);
    if (rc < 0) {
        char *inner = R->err && R->errlen ? strdup(R->err + R->msg_off) : NULL;
        if (inner)
            err_at(S, line, col, what, name, line, inner);
        free(inner);
        return rc;
    }
    const struct conf_node *pk = NULL;
    for (size_t i = 0; i < root->n; i++)
        if (strcmp(root->items[i]->key, "pk") == 0)
            pk = root->items[i];
    if (!pk)
        return err_at(S, line, col, "variable reference for '%s' on line %d can not be found", name, line);
    return alias(S, pk, line, col, out);
}

/* `tok` is "$NAME": innermost open map first, then outer ones, then the
 * environment; "$2a$..." is a bcrypt hash, not a variable. */
static int resolve_var(struct src *S, const char *tok, size_t len, int line, int col,
                       struct conf_node **out)
{
    if (len >= 4 && memcmp(tok, "$2a$", 4) == 0)
        return mk_text(S, CONF_STRING, tok, len, line, col, 0, out);
    char *name = arena_strndup(S->run->doc, tok + 1, len - 1);
    if (!name)
        return nomem(S);
    for (struct mapb *m = S->scope; m; m = m->outer) {
        struct conf_node *e = mapb_get(S, m, name);
        if (e) {
            e->used_as_var = 1;
            return alias(S, e, line, col, out);
        }
    }
    const char *env = getenv(name);
    if (env)
        return resolve_env(S, name, env, line, col, out);
    return err_at(S, line, col, "variable reference for '%s' on line %d can not be found", name, line);
}

/* ---------------------------------------------------------- includes */

/* Parse the file alone (its variables cannot see ours) and merge its
 * top-level entries into the current map, in its file order. */
static int include_file(struct src *S, struct mapb *m, const char *rel, int line, int col)
{
    static const char what[] = "error parsing include file '%s', %s";
    struct run *R = S->run;
    char eb[128];
    if (!S->allow_include)
        return err_at(S, line, col, "include of '%s' is not allowed here", rel);
    if (R->depth >= CONF_MAX_DEPTH || R->nactive >= CONF_MAX_DEPTH)
        return err_at(S, line, col, "include of '%s' nested too deeply", rel);
    char *path = path_join(R->doc, S->dir, rel), *text;
    struct conf_node *root = new_node(S, CONF_MAP, 1, 1);
    if (!path || !root)
        return nomem(S);
    if (is_active(R, path))
        return err_at(S, line, col, "include of '%s' includes %s again", rel, path);
    size_t len;
    const char *op;
    int rc = read_file(path, &text, &len, &op);
    if (rc < 0) {
        errno_text(-rc, eb, sizeof(eb));
        err_at(S, line, col, "error parsing include file '%s', %s %s: %s", rel, op, path, eb);
        return rc;
    }
    struct src I = { .run = R, .s = text, .len = len, .line = 1, .file = path,
                     .dir = path_dir(R->doc, path), .allow_include = S->allow_include };
    R->depth++;
    R->active[R->nactive++] = path;
    rc = I.dir ? parse_document(&I, root) : nomem(S);
    R->nactive--;
    R->depth--;
    free(I.buf);
    free(text);
    if (rc < 0)
        return wrap_err(S, line, col, rc, what, rel);
    for (size_t i = 0; i < root->n && rc == 0; i++)
        rc = mapb_put(S, m, root->items[i]);
    return rc;
}

/* After the keyword `include` (the blank after it not consumed). */
static int scan_include(struct src *S, struct mapb *m, const struct keytok *kt)
{
    while (is_ws(peekc(S)))
        adv(S);
    int c = peekc(S);
    size_t start, end;
    const char *what = c == '[' ? "start of an array" : c == '{' ? "start of a map"
                     : c == '(' ? "start of a block" : is_digit(c) || c == '-' ? "start of a number"
                     : c == '\\' ? "escape sequence" : is_nl(c) ? "new line" : NULL;
    if (what)
        return err_here(S, "Expected include value but found %s", what);
    if (c == '"' || c == '\'') {
        adv(S);
        for (start = S->pos; peekc(S) != c; adv(S))
            if (peekc(S) == EOF_C)
                return err_here(S, c == '"' ? "Unexpected EOF in double quoted include"
                                            : "Unexpected EOF in quoted include");
        end = S->pos;
        adv(S);
    } else {
        for (start = S->pos; (c = peekc(S)) != EOF_C && !is_nl(c) && !is_ws(c) && c != ';' &&
                             c != '}' && c != '\''; adv(S))
            ;
        end = S->pos;
        if (c == '\'')
            adv(S);
    }
    char *rel = arena_strndup(S->run->doc, S->s + start, end - start);
    return rel ? include_file(S, m, rel, kt->line, kt->col) : nomem(S);
}

/* --------------------------------------------------------------- keys */

static int scan_quoted_key(struct src *S, int in_map, struct keytok *kt)
{
    int q = peekc(S), c;
    adv(S);
    size_t start = S->pos;
    while ((c = peekc(S)) != q) {
        if (c != EOF_C) {
            adv(S);
        } else if (in_map) {
            return err_here(S, q == '"' ? "Unexpected EOF processing double quoted map key."
                                        : "Unexpected EOF processing quoted map key.");
        } else {
            return S->pos > start ? err_here(S, "Unexpected EOF.") : STOP;
        }
    }
    kt->key = arena_strndup(S->run->doc, S->s + start, S->pos - start);
    adv(S);
    return kt->key ? 0 : nomem(S);
}

/* A key; `bare` when a '/' before it forced an unquoted key. Sets *include
 * for the keyword `include` followed by a blank. */
static int scan_key(struct src *S, int in_map, int bare, struct keytok *kt, int *include)
{
    kt->line = S->line;
    kt->col = colno(S);
    *include = 0;
    int c = peekc(S);
    if (!bare && (c == '"' || c == '\''))
        return scan_quoted_key(S, in_map, kt);
    if (!in_map && (c == ':' || c == '='))
        return err_here(S, "Unexpected key separator '%c'", c);
    size_t start = S->pos;
    adv(S); /* the first character belongs to the key, whatever it is */
    for (;;) {
        c = peekc(S);
        if (c == EOF_C) {
            if (in_map)
                return err_here(S, "Unexpected EOF processing map key.");
            break;
        }
        if (uspace_len(S)) {
            *include = S->pos - start == 7 && strncasecmp(S->s + start, "include", 7) == 0;
            break;
        }
        if (c == ':' || c == '=')
            break;
        adv(S);
    }
    kt->key = arena_strndup(S->run->doc, S->s + start, S->pos - start);
    return kt->key ? 0 : nomem(S);
}

/* Blanks (newlines too) and one optional '=' or ':' after a key. */
static void skip_key_end(struct src *S)
{
    while (skip_uspace(S))
        ;
    if (peekc(S) == '=' || peekc(S) == ':')
        adv(S);
}

/* ---------------------------------------------------------------- maps */

static int map_entry(struct src *S, struct mapb *m, int bare)
{
    struct keytok kt;
    struct conf_node *v;
    int include, rc = scan_key(S, 1, bare, &kt, &include);
    if (rc)
        return rc;
    if (include)
        return scan_include(S, m, &kt);
    skip_key_end(S);
    while (skip_uspace(S))
        ;
    if (peekc(S) == ',')
        return err_here(S, "Unexpected map value terminator \",\".");
    if (peekc(S) == '}') /* nats-server would misfile the key; refuse it */
        return err_at(S, kt.line, kt.col, "Expected a value for key '%s'", kt.key);
    if ((rc = parse_value(S, &v)) != 0)
        return rc;
    return put_entry(S, m, &kt, v);
}

/* MAP_KEY_START: skip blanks and comments. Returns CLOSED after '}', 0 at a
 * key (*bare set if a lone '/' preceded it), or an error. */
static int map_key_start(struct src *S, int *bare)
{
    *bare = 0;
    for (;;) {
        int c = peekc(S);
        if (c == ':' || c == '=')
            return err_here(S, "Unexpected key separator '%c'.", c);
        if (c == ']')
            return err_here(S, "Unexpected array end ']' processing map.");
        if (c == EOF_C)
            return err_here(S, "Unexpected EOF processing map.");
        if (skip_uspace(S))
            continue;
        if (is_comment(S)) {
            skip_comment(S);
            continue;
        }
        if (c == '}') {
            adv(S);
            return CLOSED;
        }
        if (c == '/') { /* lone '/': dropped, the key starts right after it */
            adv(S);
            *bare = 1;
        }
        return 0;
    }
}

/* MAP_VALUE_END: returns 0 for the next key, CLOSED after '}', or an error. */
static int map_value_end(struct src *S)
{
    char d[8];
    for (;;) {
        int c = peekc(S);
        if (is_ws(c)) {
            adv(S);
        } else if (is_comment(S)) {
            skip_comment(S);
        } else if (c == ';' || c == ',' || c == '/' || is_nl(c)) {
            adv(S);
            return 0;
        } else if (c == '}') {
            adv(S);
            return CLOSED;
        } else {
            return err_here(S, "Expected a map value terminator \",\" or a map terminator \"}\", "
                               "but got '%s' instead.", chdesc(S, d));
        }
    }
}

/* After '{'. The map is the innermost variable scope while it is read. */
static int parse_map(struct src *S, int line, int col, struct conf_node **out)
{
    struct mapb m = { .outer = S->scope };
    int bare, rc = depth_enter(S);
    if (rc < 0)
        return rc;
    S->scope = &m;
    while ((rc = map_key_start(S, &bare)) == 0 && (rc = map_entry(S, &m, bare)) == 0 &&
           (rc = map_value_end(S)) == 0)
        ;
    S->scope = m.outer;
    S->run->depth--;
    if (rc == CLOSED) {
        struct conf_node *n = new_node(S, CONF_MAP, line, col);
        rc = n ? finish_items(S, &m.vec, n) : nomem(S);
        *out = n;
    }
    mapb_free(&m);
    return rc;
}

/* -------------------------------------------------------------- arrays */

/* ARRAY_VALUE: returns 0 at a value, CLOSED after ']', or an error. */
static int array_value_start(struct src *S)
{
    for (;;) {
        int c = peekc(S);
        if (skip_uspace(S))
            continue;
        if (is_comment(S)) {
            skip_comment(S);
        } else if (c == ',' || c == '/') {
            return err_here(S, "Unexpected array value terminator ','.");
        } else if (c == ']') {
            adv(S);
            return CLOSED;
        } else {
            return 0;
        }
    }
}

/* ARRAY_VALUE_END: returns 0 for the next value, CLOSED after ']', or an error. */
static int array_value_end(struct src *S)
{
    char d[8];
    for (;;) {
        int c = peekc(S);
        if (is_ws(c)) {
            adv(S);
        } else if (is_comment(S)) {
            skip_comment(S);
        } else if (c == ',' || c == '/' || is_nl(c)) {
            adv(S);
            return 0;
        } else if (c == ']') {
            adv(S);
            return CLOSED;
        } else {
            return err_here(S, "Expected an array value terminator \",\" or an array terminator "
                               "\"]\", but got '%s' instead.", chdesc(S, d));
        }
    }
}

/* After '['. */
static int parse_array(struct src *S, int line, int col, struct conf_node **out)
{
    struct nodevec vec = { 0 };
    struct conf_node *v;
    int rc = depth_enter(S);
    if (rc < 0)
        return rc;
    while ((rc = array_value_start(S)) == 0 && (rc = parse_value(S, &v)) == 0 &&
           (rc = vec_push(S, &vec, v)) == 0 && (rc = array_value_end(S)) == 0)
        ;
    S->run->depth--;
    if (rc == CLOSED) {
        struct conf_node *n = new_node(S, CONF_ARRAY, line, col);
        rc = n ? finish_items(S, &vec, n) : nomem(S);
        *out = n;
    }
    free(vec.v);
    return rc;
}

/* -------------------------------------------------------------- values */

/* VALUE: blanks (not newlines) skipped, then the first character decides. */
static int parse_value(struct src *S, struct conf_node **out)
{
    while (is_ws(peekc(S)))
        adv(S);
    int line = S->line, col = colno(S), c = peekc(S);
    switch (c) {
    case '[': adv(S); return parse_array(S, line, col, out);
    case '{': adv(S); return parse_map(S, line, col, out);
    case '\'': adv(S); return scan_sq(S, line, col, out);
    case '"': adv(S); return scan_dq(S, line, col, out);
    case '-': adv(S); return scan_negative(S, line, col, out);
    case '(': adv(S); return scan_block(S, line, col, out);
    case '.': return err_here(S, "Floats must start with a digit");
    case '\n': case '\r': return err_here(S, "Expected value but found new line");
    }
    if (is_digit(c))
        return scan_number(S, line, col, out);
    return scan_unquoted(S, S->pos, line, col, out); /* EOF included: "" */
}

/* ----------------------------------------------------------- top level */

static int top_entry(struct src *S, struct mapb *m)
{
    struct keytok kt;
    struct conf_node *v;
    int include, rc = scan_key(S, 0, 0, &kt, &include);
    if (rc)
        return rc;
    if (include)
        return scan_include(S, m, &kt);
    while (skip_uspace(S))
        ;
    if (peekc(S) == EOF_C) /* a key without a value at the very end: ignored */
        return STOP;
    if (peekc(S) == '=' || peekc(S) == ':')
        adv(S);
    if ((rc = parse_value(S, &v)) != 0)
        return rc;
    return put_entry(S, m, &kt, v);
}

/* TOP_VALUE_END: a lone '/' counts as a blank here. */
static int top_value_end(struct src *S)
{
    char d[8];
    for (;;) {
        int c = peekc(S);
        if (is_comment(S)) {
            skip_comment(S);
            return 0;
        }
        if (is_ws(c) || c == '/') {
            adv(S);
        } else if (c == EOF_C) {
            return 0;
        } else if (is_nl(c) || c == ';' || c == ',' || c == '}') {
            adv(S);
            return 0;
        } else {
            return err_here(S, "Expected a top-level value to end with a new line, comment or EOF, "
                               "but got '%s' instead.", chdesc(S, d));
        }
    }
}

static int parse_top(struct src *S, struct mapb *m)
{
    int rc;
    for (;;) {
        int c = peekc(S);
        if (c == EOF_C)
            return 0;
        if (skip_uspace(S))
            continue;
        if (c == '{') { /* a JSON file's outer braces */
            adv(S);
        } else if (is_comment(S)) {
            skip_comment(S);
        } else if (c == '/') {
            adv(S);
            return err_here(S, "Unexpected EOF.");
        } else if ((rc = top_entry(S, m)) != 0 || (rc = top_value_end(S)) != 0) {
            return rc;
        }
    }
}

static int check_nul(struct src *S)
{
    const char *z = memchr(S->s, 0, S->len);
    if (!z)
        return 0;
    int line = 1;
    const char *ls = S->s;
    for (const char *p = S->s; p < z; p++) {
        if (*p == '\n') {
            line++;
            ls = p + 1;
        }
    }
    return err_at(S, line, (int)(z - ls) + 1, "unexpected NUL byte");
}

/* Fills `root` (already allocated) with the document's top-level map. */
static int parse_document(struct src *S, struct conf_node *root)
{
    struct mapb m = { 0 };
    root->kind = CONF_MAP;
    root->file = S->file;
    root->line = root->col = 1;
    S->scope = &m;
    int rc = check_nul(S);
    if (rc == 0)
        rc = parse_top(S, &m);
    if (rc == STOP)
        rc = 0;
    if (rc == 0)
        rc = finish_items(S, &m.vec, root);
    S->scope = NULL;
    mapb_free(&m);
    return rc;
}

/* ---------------------------------------------------------------- API */

int conf_parse_text(const char *text, size_t len, const char *name, struct conf_node **out,
                    char *err, size_t errlen)
{
    struct conf_doc *doc = calloc(1, sizeof(*doc));
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (!doc || !out || (!text && len)) {
        free(doc);
        if (err && errlen)
            snprintf(err, errlen, "%s:1:1: %s", name ? name : "<text>", doc ? "invalid argument" : "out of memory");
        return doc ? -EINVAL : -ENOMEM;
    }
    doc->seed = (uint64_t)(uintptr_t)doc * 0x9E3779B97F4A7C15ULL;
    struct run R = { .doc = doc, .err = err, .errlen = errlen };
    struct src S = { .run = &R, .s = text ? text : "", .len = len, .line = 1,
                     .allow_include = INCLUDES_ALLOWED };
    S.file = arena_strndup(doc, name ? name : "<text>", strlen(name ? name : "<text>"));
    S.dir = S.file ? path_dir(doc, S.file) : NULL;
    R.active[R.nactive++] = S.file ? path_clean(doc, S.file, strlen(S.file)) : NULL;
    int rc;
    if (!S.dir || !R.active[0]) {
        doc->root.file = "<text>";
        S.file = "<text>";
        rc = nomem(&S);
    } else {
        rc = parse_document(&S, &doc->root);
    }
    free(S.buf);
    if (rc < 0) {
        conf_free(&doc->root);
        return rc;
    }
    *out = &doc->root;
    return 0;
}

int conf_parse_file(const char *path, struct conf_node **out, char *err, size_t errlen)
{
    char *text, eb[128];
    size_t len;
    const char *op;
    if (out)
        *out = NULL;
    int rc = read_file(path, &text, &len, &op);
    if (rc < 0) {
        errno_text(-rc, eb, sizeof(eb));
        if (err && errlen)
            snprintf(err, errlen, "%s:1:1: %s %s: %s", path, op, path, eb);
        return rc;
    }
    rc = conf_parse_text(text, len, path, out, err, errlen);
    free(text);
    return rc;
}

void conf_free(struct conf_node *root)
{
    if (!root)
        return;
    struct conf_doc *doc = (struct conf_doc *)root;
    for (struct chunk *c = doc->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(doc);
}

const struct conf_node *conf_get(const struct conf_node *map, const char *key)
{
    if (!map || map->kind != CONF_MAP || !key)
        return NULL;
    for (size_t i = map->n; i-- > 0;)
        if (map->items[i]->key && strcasecmp(map->items[i]->key, key) == 0)
            return map->items[i];
    return NULL;
}

const char *conf_kind_name(enum conf_kind k)
{
    static const char *const names[] = { "string", "int", "float", "bool", "datetime", "map", "array" };
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

static void vformat_at(const char *file, int line, int col, char *err, size_t errlen,
                       const char *fmt, va_list ap)
{
    if (!err || !errlen)
        return;
    int n = snprintf(err, errlen, "%s:%d:%d: ", file ? file : "<unknown>", line, col);
    size_t off = n < 0 ? 0 : (size_t)n < errlen ? (size_t)n : errlen - 1;
    vsnprintf(err + off, errlen - off, fmt, ap);
}

void conf_errorf(const struct conf_node *n, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat_at(n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0, err, errlen, fmt, ap);
    va_end(ap);
}

void conf_key_errorf(const struct conf_node *n, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int has_key = n && n->key;
    vformat_at(n ? n->file : NULL, has_key ? n->key_line : n ? n->line : 0,
               has_key ? n->key_col : n ? n->col : 0, err, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------ typed readers */

static const char *key_name(const struct conf_node *n)
{
    return n->key ? n->key : "value";
}

static unsigned long long duration_unit(const char *u, size_t n)
{
    static const struct { const char *name; unsigned long long ns; } units[] = {
        { "ns", 1ULL }, { "us", 1000ULL }, { "\xC2\xB5s", 1000ULL }, { "\xCE\xBCs", 1000ULL },
        { "ms", 1000000ULL }, { "s", 1000000000ULL }, { "m", 60000000000ULL },
        { "h", 3600000000000ULL },
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0)
            return units[i].ns;
    return 0;
}

/* One "<int>[.<frac>]<unit>" element of a Go duration, with Go's overflow
 * rules (fraction digits past 63 bits are ignored). Returns 0, -1 invalid,
 * -2 missing unit, -3 unknown unit (*u, *ul name it). */
static int duration_elem(const char **pp, const char *end, unsigned long long *out,
                         const char **u, size_t *ul)
{
    const char *p = *pp, *q = p;
    unsigned long long v = 0, f = 0, unit;
    double scale = 1;
    if (!(*p == '.' || is_digit(*p)))
        return -1;
    for (; p < end && is_digit(*p); p++) {
        if (v > (1ULL << 63) / 10 || (v = v * 10 + (unsigned)(*p - '0')) > 1ULL << 63)
            return -1;
    }
    int pre = p != q, post = 0, over = 0;
    if (p < end && *p == '.') {
        for (q = ++p; p < end && is_digit(*p); p++) {
            if (over || f > ((1ULL << 63) - 1) / 10 || f * 10 + (unsigned)(*p - '0') > 1ULL << 63) {
                over = 1;
                continue;
            }
            f = f * 10 + (unsigned)(*p - '0');
            scale *= 10;
        }
        post = p != q;
    }
    if (!pre && !post)
        return -1;
    for (q = p; p < end && *p != '.' && !is_digit(*p); p++)
        ;
    *u = q;
    *ul = (size_t)(p - q);
    if (p == q)
        return -2;
    if (!(unit = duration_unit(q, *ul)))
        return -3;
    if (v > (1ULL << 63) / unit)
        return -1;
    v *= unit;
    if (f > 0 && (v += (unsigned long long)((double)f * ((double)unit / scale))) > 1ULL << 63)
        return -1;
    *out = v;
    *pp = p;
    return 0;
}

/* Go's time.ParseDuration; on error msg holds Go's text. */
static int go_duration(const char *s, size_t len, long long *ns, char *msg, size_t mlen)
{
    const char *p = s, *end = s + len, *u = NULL;
    size_t ul = 0;
    unsigned long long d = 0, v;
    int neg = 0, rc = 0;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (end - p == 1 && *p == '0') {
        *ns = 0;
        return 0;
    }
    if (p == end)
        rc = -1;
    while (rc == 0 && p < end) {
        if ((rc = duration_elem(&p, end, &v, &u, &ul)) == 0 && (d += v) > 1ULL << 63)
            rc = -1;
    }
    if (rc == 0 && !neg && d > (1ULL << 63) - 1)
        rc = -1;
    if (rc == -2)
        snprintf(msg, mlen, "time: missing unit in duration \"%.*s\"", (int)len, s);
    else if (rc == -3)
        snprintf(msg, mlen, "time: unknown unit \"%.*s\" in duration \"%.*s\"", (int)ul, u, (int)len, s);
    else if (rc < 0)
        snprintf(msg, mlen, "time: invalid duration \"%.*s\"", (int)len, s);
    else
        *ns = (long long)(neg ? 0ULL - d : d);
    return rc < 0 ? -EINVAL : 0;
}

int conf_duration_ns(const struct conf_node *n, long long *ns, int *warned, char *err, size_t errlen)
{
    char msg[256];
    if (warned)
        *warned = 0;
    if (!n) {
        conf_errorf(n, err, errlen, "missing duration");
        return -EINVAL;
    }
    switch (n->kind) {
    case CONF_STRING:
        if (go_duration(n->str, n->len, ns, msg, sizeof(msg)) < 0) {
            conf_errorf(n, err, errlen, "error parsing %s: %s", key_name(n), msg);
            return -EINVAL;
        }
        return 0;
    case CONF_INT: /* seconds, like old nats-server configs; Go wraps on overflow */
        *ns = (long long)((unsigned long long)n->i * 1000000000ULL);
        if (warned)
            *warned = 1;
        conf_errorf(n, err, errlen, "invalid use of field \"%s\": %s should be converted to a duration",
                    key_name(n), key_name(n));
        return 0;
    default:
        conf_errorf(n, err, errlen, "error parsing %s: expected a duration, got %s", key_name(n),
                    conf_kind_name(n->kind));
        return -EINVAL;
    }
}

static int expect_kind(const struct conf_node *n, enum conf_kind k, char *err, size_t errlen)
{
    if (n && n->kind == k)
        return 0;
    if (!n)
        conf_errorf(n, err, errlen, "missing %s value", conf_kind_name(k));
    else
        conf_errorf(n, err, errlen, "error parsing %s: expected %s, got %s", key_name(n),
                    conf_kind_name(k), conf_kind_name(n->kind));
    return -EINVAL;
}

int conf_bool(const struct conf_node *n, int *v, char *err, size_t errlen)
{
    int rc = expect_kind(n, CONF_BOOL, err, errlen);
    if (rc == 0)
        *v = (int)n->i;
    return rc;
}

int conf_int(const struct conf_node *n, long long *v, char *err, size_t errlen)
{
    int rc = expect_kind(n, CONF_INT, err, errlen);
    if (rc == 0)
        *v = n->i;
    return rc;
}

int conf_string(const struct conf_node *n, const char **v, char *err, size_t errlen)
{
    int rc = expect_kind(n, CONF_STRING, err, errlen);
    if (rc == 0)
        *v = n->str;
    return rc;
}
