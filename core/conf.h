/* Configuration-file parser: reads nats-server (v2.9.10) configuration files
 * unchanged and hands the option loader a tree of typed, positioned nodes.
 *
 * Grammar (nats-compat.md §7.1): `key = v`, `key: v`, `key v`; maps `{}`,
 * arrays `[]`, strings "..." / '...' / unquoted / `( ... )` blocks, numbers
 * with size suffixes, booleans, Zulu datetimes, `$VAR` references (enclosing
 * maps first, then the environment), `include path`, comments `#` and `//`.
 * A whole file that is one JSON object is valid. conf.c's header lists the
 * nats-server quirks that are reproduced on purpose.
 *
 * Threads: parsing touches no global state except reading the environment
 * (getenv) and the file system, so any thread may parse. A parsed tree is
 * never modified afterwards: any number of threads may read it at once;
 * conf_free() must not race with readers. Nothing here locks.
 *
 * Memory: every node of a tree lives in one arena owned by the root; only
 * conf_free(root) releases it. Values reached through `$VAR` share their
 * children with the variable's definition (so a tree is a DAG): never free
 * or modify a node.
 *
 * Errors: every function returns 0 or a negative errno and writes
 * "<file>:<line>:<col>: <message>" into err (lines and columns are 1-based,
 * columns count bytes). Messages use nats-server's wording where it has one.
 */
#ifndef GANNET_CONF_H
#define GANNET_CONF_H

#include <stddef.h>

/* Deepest nesting of maps, arrays, includes and environment-variable values
 * (counted together, since each costs C stack); beyond it parsing fails. */
#define CONF_MAX_DEPTH 64

enum conf_kind { CONF_STRING, CONF_INT, CONF_FLOAT, CONF_BOOL, CONF_DATETIME, CONF_MAP, CONF_ARRAY };

struct conf_node {
    enum conf_kind kind;
    const char *file;      /* file the value came from (include-aware), never NULL */
    int line, col;         /* 1-based position of the value (of the `$` for a variable) */
    const char *key;       /* key as written, when this node is a map entry; else NULL */
    int key_line, key_col; /* position of the key (of its opening quote if quoted) */
    int quoted;            /* string was written quoted ("...", '...' or a ( ) block) */
    int used_as_var;       /* entry was referenced as $var (exempt from unknown-field checks) */
    char *str; size_t len; /* CONF_STRING (NUL-terminated too, may hold \x00 bytes),
                            * CONF_DATETIME text; CONF_INT/CONF_FLOAT: the token as written */
    long long i;           /* CONF_INT (size suffixes applied), CONF_BOOL (0/1),
                            * CONF_DATETIME (seconds since the Unix epoch, UTC) */
    double f;              /* CONF_FLOAT */
    struct conf_node **items; size_t n; /* CONF_MAP entries in file order (duplicates: keep only the last), CONF_ARRAY elements */
};

/* Parse; on error return -EINVAL (or -errno for I/O) and write "<file>:<line>:<col>: <message>" into err.
 * `include` paths are joined to the including file's directory (as Go's
 * filepath.Join does, even when they start with '/'). conf_parse_text takes
 * `name` as the file name for positions and includes (NULL: "<text>").
 * When built with -DFUZZING, includes are refused. */
int conf_parse_file(const char *path, struct conf_node **out, char *err, size_t errlen);
int conf_parse_text(const char *text, size_t len, const char *name, struct conf_node **out, char *err, size_t errlen);
/* Frees a tree returned by conf_parse_*; only roots may be passed; NULL is a no-op. */
void conf_free(struct conf_node *root);
/* Case-insensitive key lookup (the last of keys differing only in case); NULL if absent. */
const struct conf_node *conf_get(const struct conf_node *map, const char *key);

/* Typed readers used by the option loader; each writes "<file>:<line>:<col>: <message naming the key>" into err on failure. */
/* A string is parsed as a Go duration ("1m30s", "500ms", "2h", "-1.5s", "0");
 * a bare int is seconds: that succeeds, sets *warned and leaves nats-server's
 * warning text ("... should be converted to a duration") in err. */
int conf_duration_ns(const struct conf_node *n, long long *ns, int *warned, char *err, size_t errlen);
int conf_bool(const struct conf_node *n, int *v, char *err, size_t errlen);
int conf_int(const struct conf_node *n, long long *v, char *err, size_t errlen);
int conf_string(const struct conf_node *n, const char **v, char *err, size_t errlen);

/* Format an error at a node's value: "<file>:<line>:<col>: <fmt...>" */
void conf_errorf(const struct conf_node *n, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same at the node's key (for "unknown field" errors); at the value if it has no key. */
void conf_key_errorf(const struct conf_node *n, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "string", "int", "float", "bool", "datetime", "map", "array". */
const char *conf_kind_name(enum conf_kind k);

#endif
