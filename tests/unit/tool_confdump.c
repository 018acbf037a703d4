/* tool_confdump: parse a configuration file with core/conf.c and print the
 * tree as JSON on stdout (exit 0), or the parse error on stderr (exit 1).
 * Used by tests/unit/test_conf_grammar.py to compare gannet with nats-server.
 *
 *   tool_confdump [-p] FILE
 *
 * Maps become objects (entries in file order), arrays arrays, strings
 * strings, ints integers, floats numbers that always carry a '.' or an
 * exponent (so that JSON readers keep them floats), booleans true/false, and
 * datetimes {"$datetime": "<text>", "$epoch": <seconds>}. With -p every value
 * is instead {"kind": ..., "pos": "file:line:col", "value": ...} (plus
 * "key_pos" and "used_as_var" on map entries), for position tests.
 */
#include "conf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void put_string(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c); /* bytes >= 0x80 pass through: configs are UTF-8 */
    }
    putchar('"');
}

static void put_float(double f)
{
    char b[64];
    if (!isfinite(f)) { /* cannot come out of the parser, but stay valid JSON */
        fputs("null", stdout);
        return;
    }
    snprintf(b, sizeof(b), "%.17g", f);
    if (!strpbrk(b, ".eE"))
        strcat(b, ".0");
    fputs(b, stdout);
}

static void dump(const struct conf_node *n, int pos);

static void dump_value(const struct conf_node *n, int pos)
{
    switch (n->kind) {
    case CONF_STRING: put_string(n->str, n->len); break;
    case CONF_INT: printf("%lld", n->i); break;
    case CONF_FLOAT: put_float(n->f); break;
    case CONF_BOOL: fputs(n->i ? "true" : "false", stdout); break;
    case CONF_DATETIME:
        fputs("{\"$datetime\": ", stdout);
        put_string(n->str, n->len);
        printf(", \"$epoch\": %lld}", n->i);
        break;
    case CONF_MAP:
        putchar('{');
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                fputs(", ", stdout);
            put_string(n->items[i]->key, strlen(n->items[i]->key));
            fputs(": ", stdout);
            dump(n->items[i], pos);
        }
        putchar('}');
        break;
    case CONF_ARRAY:
        putchar('[');
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                fputs(", ", stdout);
            dump(n->items[i], pos);
        }
        putchar(']');
        break;
    }
}

static void dump(const struct conf_node *n, int pos)
{
    char where[512];
    if (!pos) {
        dump_value(n, 0);
        return;
    }
    snprintf(where, sizeof(where), "%s:%d:%d", n->file, n->line, n->col);
    printf("{\"kind\": \"%s\", \"pos\": ", conf_kind_name(n->kind));
    put_string(where, strlen(where));
    if (n->key) {
        snprintf(where, sizeof(where), "%d:%d", n->key_line, n->key_col);
        fputs(", \"key_pos\": ", stdout);
        put_string(where, strlen(where));
        printf(", \"used_as_var\": %s", n->used_as_var ? "true" : "false");
    }
    if (n->kind == CONF_STRING)
        printf(", \"quoted\": %s", n->quoted ? "true" : "false");
    fputs(", \"value\": ", stdout);
    dump_value(n, 1);
    putchar('}');
}

int main(int argc, char **argv)
{
    int pos = argc == 3 && strcmp(argv[1], "-p") == 0;
    if (argc != 2 + pos) {
        fprintf(stderr, "usage: %s [-p] FILE\n", argv[0]);
        return 2;
    }
    struct conf_node *root;
    char err[1024];
    if (conf_parse_file(argv[1 + pos], &root, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    dump(root, pos);
    putchar('\n');
    conf_free(root);
    return 0;
}
