/* libFuzzer harness for the configuration parser (core/conf.c).
 *
 * Each input is parsed as a config text. On success the tree is walked (with
 * a visit budget: `$VAR` values share children, so a tree may be a DAG with
 * exponentially many paths) and its invariants are checked, and the typed
 * readers run on every entry; on failure the error must be a positioned,
 * terminated message. The Makefile builds this with -DFUZZING, which makes
 * conf.c refuse `include`, so inputs cannot read files or recurse through
 * them; nesting is bounded by CONF_MAX_DEPTH.
 *
 *   make fuzz && build-fuzz/fuzz_conf -dict=tests/fuzz/conf.dict tests/fuzz/corpus/conf
 */
#include "conf.h"

#include <stdint.h>
#include <string.h>

#define VISIT_BUDGET 20000

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static void exercise_readers(const struct conf_node *n)
{
    char err[256];
    long long v;
    int b, warned;
    const char *s;
    err[0] = 0;
    /* return values vary with the kind; only crashes and garbage matter */
    (void)conf_duration_ns(n, &v, &warned, err, sizeof(err));
    check(memchr(err, 0, sizeof(err)) != NULL);
    (void)conf_bool(n, &b, err, sizeof(err));
    (void)conf_int(n, &v, err, sizeof(err));
    if (conf_string(n, &s, err, sizeof(err)) == 0)
        check(s == n->str);
    conf_key_errorf(n, err, sizeof(err), "unknown field \"%s\"", n->key ? n->key : "");
}

static void walk(const struct conf_node *n, const struct conf_node *parent, int depth, long *budget)
{
    if (--*budget < 0)
        return;
    check(n->file != NULL && n->line >= 1 && n->col >= 1);
    check(depth <= CONF_MAX_DEPTH + 1);
    switch (n->kind) {
    case CONF_STRING:
    case CONF_DATETIME:
        check(n->str != NULL && n->str[n->len] == 0);
        break;
    case CONF_INT:
    case CONF_FLOAT:
        check(n->str != NULL && n->len > 0);
        break;
    case CONF_BOOL:
        check(n->i == 0 || n->i == 1);
        break;
    case CONF_MAP:
    case CONF_ARRAY:
        check(n->n == 0 || n->items != NULL);
        for (size_t i = 0; i < n->n; i++) {
            const struct conf_node *c = n->items[i];
            check(c != NULL);
            check((n->kind == CONF_MAP) == (c->key != NULL));
            if (n->kind == CONF_MAP) {
                check(c->key_line >= 1 && c->key_col >= 1);
                if (n->n <= 256) /* conf_get is a linear scan */
                    check(conf_get(n, c->key) != NULL);
                exercise_readers(c);
            }
            walk(c, n, depth + 1, budget);
        }
        break;
    default:
        check(0);
    }
    (void)parent;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf_node *root = NULL;
    char err[512];
    int rc = conf_parse_text((const char *)data, size, "fuzz.conf", &root, err, sizeof(err));
    if (rc < 0) {
        check(root == NULL);
        check(memchr(err, 0, sizeof(err)) != NULL);
        check(strncmp(err, "fuzz.conf:", 10) == 0);
        return 0;
    }
    check(rc == 0 && root != NULL && root->kind == CONF_MAP);
    long budget = VISIT_BUDGET;
    walk(root, NULL, 0, &budget);
    conf_free(root);
    return 0;
}
