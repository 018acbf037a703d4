/* Unit tests of core/conf.c: the grammar (table of texts and the trees they
 * give, in a compact notation), every error (table of texts, positions and
 * messages), positions, variables, includes, the typed readers, limits, and
 * inputs large enough to expose quadratic behaviour. Uses only conf.h, so it
 * links against libgannet.a or against core/conf.c alone. */
#include "unit.h"

#include "conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

struct out {
    char *p;
    size_t n, cap;
};

static void out_add(struct out *o, const char *s, size_t n)
{
    if (o->n + n + 1 > o->cap) {
        o->cap = (o->n + n + 1) * 2;
        o->p = realloc(o->p, o->cap);
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = 0;
}

static void out_fmt(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(struct out *o, const char *fmt, ...)
{
    char b[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    out_add(o, b, (size_t)n);
}

/* Compact notation: {k=v,...} [a,b] "str" 12 1.5 true @2006-01-02T15:04:05Z;
 * control characters in strings are written \n \t \r or \xHH. */
static void show(struct out *o, const struct conf_node *n)
{
    switch (n->kind) {
    case CONF_STRING:
        out_add(o, "\"", 1);
        for (size_t i = 0; i < n->len; i++) {
            unsigned char c = (unsigned char)n->str[i];
            if (c == '\n')
                out_add(o, "\\n", 2);
            else if (c == '\t')
                out_add(o, "\\t", 2);
            else if (c == '\r')
                out_add(o, "\\r", 2);
            else if (c < 0x20 || c == '"' || c == '\\')
                out_fmt(o, "\\x%02x", c);
            else
                out_add(o, (const char *)&c, 1);
        }
        out_add(o, "\"", 1);
        break;
    case CONF_INT: out_fmt(o, "%lld", n->i); break;
    case CONF_FLOAT: out_fmt(o, "%gf", n->f); break;
    case CONF_BOOL: out_add(o, n->i ? "true" : "false", n->i ? 4 : 5); break;
    case CONF_DATETIME: out_add(o, "@", 1); out_add(o, n->str, n->len); break;
    case CONF_MAP:
    case CONF_ARRAY:
        out_add(o, n->kind == CONF_MAP ? "{" : "[", 1);
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                out_add(o, ",", 1);
            if (n->kind == CONF_MAP) {
                out_add(o, n->items[i]->key, strlen(n->items[i]->key));
                out_add(o, "=", 1);
            }
            show(o, n->items[i]);
        }
        out_add(o, n->kind == CONF_MAP ? "}" : "]", 1);
        break;
    }
}

static char errbuf[4096];
static struct out tree_out; /* tree_of()'s result, reused */

/* Parses `text` as "t.conf"; returns the compact tree (static) or NULL. */
static const char *tree_of(const char *text, size_t len)
{
    struct conf_node *root;
    tree_out.n = 0;
    if (conf_parse_text(text, len, "t.conf", &root, errbuf, sizeof(errbuf)) < 0)
        return NULL;
    show(&tree_out, root);
    conf_free(root);
    return tree_out.p;
}

static struct conf_node *parse_ok(const char *text)
{
    struct conf_node *root = NULL;
    int rc = conf_parse_text(text, strlen(text), "t.conf", &root, errbuf, sizeof(errbuf));
    if (rc < 0)
        fprintf(stderr, "unexpected error: %s\n", errbuf);
    CHECK_EQ_INT(rc, 0);
    return root;
}

/* ------------------------------------------------------------ grammar */

static const struct { const char *text, *tree; } grammar[] = {
    /* separators and terminators */
    { "port = 4333; debug yes", "{port=4333,debug=true}" },
    { "port: 1\nb 2\nc=3", "{port=1,b=2,c=3}" },
    { "a = 1, b = 2; c = 3", "{a=1,b=2,c=3}" },
    { "a\n=1", "{a=1}" },
    { "a\n1", "{a=1}" },
    { "a\xC2\xA0" "1", "{a=1}" },
    { "a = 1\r\nb = 2\r\n", "{a=1,b=2}" },
    { "", "{}" },
    { "   \n\t\n", "{}" },
    { "# only\n// comments\n", "{}" },
    { "a = 1 # c\nb = 2 // c\n# c\nc = 3", "{a=1,b=2,c=3}" },
    { "a = 1 / ", "{a=1}" },
    { "a = 1}", "{a=1}" },
    { "{{a = 1", "{a=1}" },
    { "a = 1,,", "{a=1}" },
    { "a = 1\nfoo", "{a=1}" },
    { "a = 1\n\"", "{a=1}" },
    { "\"a b\" = 1\n'c' = 2\n\"\" = 3", "{a b=1,c=2,=3}" },
    { "a{ = 1", "{a{=1}" },
    { "a = =", "{a=\"=\"}" },
    /* JSON */
    { "{\"port\": 4222, \"debug\": false, \"auth\": {\"user\": \"u\", \"t\": 2.5}, \"tags\": [\"a\", \"b\"]}",
      "{port=4222,debug=false,auth={user=\"u\",t=2.5f},tags=[\"a\",\"b\"]}" },
    { "{\n  \"a\": null,\n  \"b\": -1\n}\n", "{a=\"null\",b=-1}" },
    /* strings */
    { "a = \"x\\ty\\nz\\r\\\"\\\\\\x41\\x7e\"", "{a=\"x\\ty\\nz\\r\\x22\\x5cA~\"}" },
    { "a = \"\\x00\"", "{a=\"\\x00\"}" },
    { "a = \"multi\nline\"", "{a=\"multi\\nline\"}" },
    { "a = 'raw \\x \\q \"'", "{a=\"raw \\x5cx \\x5cq \\x22\"}" },
    { "a = ''", "{a=\"\"}" },
    { "a = \"\"", "{a=\"\"}" },
    { "a = /var/run/x.pid", "{a=\"/var/run/x.pid\"}" },
    { "a = b\\x41c\\t", "{a=\"bAc\\t\"}" },
    { "a = a#b", "{a=\"a#b\"}" },
    { "a = a//b", "{a=\"a//b\"}" },
    { "a = foo'", "{a=\"foo\"}" },
    { "a = true'", "{a=\"true\"}" },
    { "a = $x'", "{a=\"$x\"}" },
    { "a =", "{a=\"\"}" },
    { "a = ;", "{a=\"\"}" },
    { "a = }", "{a=\"\"}" },
    { "a = \\x41true", "{a=\"Atrue\"}" },
    { "a = (\nline 1\nline 2\n)\nb = 1", "{a=\"\\nline 1\\nline 2\\n\",b=1}" },
    { "a = (\nx)\n)\n", "{a=\"\\nx)\\n\"}" },
    { "a = (\nx\n)", "{a=\"\\nx\\n)\"}" },
    { "a = (\n  nested ( parens )\n)\n", "{a=\"\\n  nested ( parens )\\n\"}" },
    /* digit-led values */
    { "a = 127.0.0.1", "{a=\"127.0.0.1\"}" },
    { "a = 10.0.0.1:4222", "{a=\"10.0.0.1:4222\"}" },
    { "a = 1.2.3-4", "{a=\"1.2.3-4\"}" },
    { "a = 12abc", "{a=\"12abc\"}" },
    { "a = 1:2", "{a=\"1:2\"}" },
    { "a = 1kx", "{a=\"1kx\"}" },
    { "a = -1kx", "{a=\"-1kx\"}" },
    { "a = 2s", "{a=\"2s\"}" },
    { "a = 500ms", "{a=\"500ms\"}" },
    { "a = 1h30m", "{a=\"1h30m\"}" },
    { "a = 1\\x41", "{a=\"1\\x5cx41\"}" },
    { "a = 1'b'", "{a=\"1'b\"}" },
    { "a = [1k]", "{a=[\"1k\"]}" },
    { "a = [1 ]", "{a=[1]}" },
    { "a = [1]]", "{a=[\"1]\"]}" },
    { "a = [1, 2.5 ,3 ]", "{a=[1,2.5f,3]}" },
    { "a = [1.5]", "{a=[1.5f]}" },
    { "a = [127.0.0.1]", "{a=[\"127.0.0.1\"]}" },
    { "a = 1.5", "{a=1.5f}" },
    { "a = -0.25", "{a=-0.25f}" },
    { "a = 2006-01-02T15:04:05Z", "{a=@2006-01-02T15:04:05Z}" },
    { "a = 2024-02-29T23:59:59Z", "{a=@2024-02-29T23:59:59Z}" },
    /* integers and suffixes */
    { "a = 0\nb = 007\nc = -12", "{a=0,b=7,c=-12}" },
    { "a = 9223372036854775807\nb = -9223372036854775808", "{a=9223372036854775807,b=-9223372036854775808}" },
    { "a = 1k\nb = 1K\nc = 1kb\nd = 1Ki\ne = 1KIB\nf = 1kB", "{a=1000,b=1000,c=1024,d=1024,e=1024,f=1024}" },
    { "a = 2m\nb = 2mb\nc = 2mi\nd = 2MiB", "{a=2000000,b=2097152,c=2097152,d=2097152}" },
    { "a = 1g\nb = 1gb\nc = 1gi\nd = 1gib", "{a=1000000000,b=1073741824,c=1073741824,d=1073741824}" },
    { "a = 1t\nb = 1tb\nc = 1p\nd = 1pb", "{a=1000000000000,b=1099511627776,c=1000000000000000,d=1125899906842624}" },
    { "a = 1e\nb = 1eb\nc = 1ei", "{a=1000000000000000000,b=1152921504606846976,c=1152921504606846976}" },
    { "a = -5k", "{a=-5000}" },
    { "a = 10e", "{a=-8446744073709551616}" },
    { "a = 1e5", NULL }, /* 1e then a stray 5 */
    /* booleans */
    { "a = true\nb = FALSE\nc = Yes\nd = no\ne = ON\nf = off", "{a=true,b=false,c=true,d=false,e=true,f=false}" },
    { "a = \"true\"\nb = truex\nc = tru\\x65", "{a=\"true\",b=\"truex\",c=\"true\"}" },
    /* maps and arrays */
    { "m { a = 1, b { c = [x, y] } }", "{m={a=1,b={c=[\"x\",\"y\"]}}}" },
    { "m {\n a = 1\n b = 2\n}\n", "{m={a=1,b=2}}" },
    { "m { a = 1; b = 2; }", "{m={a=1,b=2}}" },
    { "m = {}\nn = []", "{m={},n=[]}" },
    { "m {\n a\n =\n 1 }", "{m={a=1}}" },
    { "m { a =\n 1 }", "{m={a=1}}" },
    { "m { a = 1 / b = 2 }", "{m={a=1,b=2}}" },
    { "m { /a = 1 }", "{m={a=1}}" },
    { "m { # c\n a = 1 // c\n // c\n}", "{m={a=1}}" },
    { "m { \"a b\": 1, 'c': 2 }", "{m={a b=1,c=2}}" },
    { "a = [x # c\n y // c\n z,\n]", "{a=[\"x\",\"y\",\"z\"]}" },
    { "a = [ x / y ]", "{a=[\"x\",\"y\"]}" },
    { "a = [\n]", "{a=[]}" },
    { "a = [[1 ], [2 ,3 ], []]", "{a=[[1],[2,3],[]]}" },
    { "a = [{x = 1}, {y = 2}]", "{a=[{x=1},{y=2}]}" },
    /* duplicates: last wins, at its own place; keys are case-sensitive */
    { "a = 1\nb = 2\na = 3", "{b=2,a=3}" },
    { "m { a = 1, a = 2 }", "{m={a=2}}" },
    { "A = 1\na = 2", "{A=1,a=2}" },
    /* variables */
    { "x = 5\ny = $x", "{x=5,y=5}" },
    { "x = 5\nm { x = 6, y = $x }\nz = $x", "{x=5,m={x=6,y=6},z=5}" },
    { "x = 5\nm { n { y = $x } }", "{x=5,m={n={y=5}}}" },
    { "x = [1 ,2 ]\na = [$x, $x]", "{x=[1,2],a=[[1,2],[1,2]]}" },
    { "x { a = 1 }\ny = $x", "{x={a=1},y={a=1}}" },
    { "a = [{x = 1, y = $x}]", "{a=[{x=1,y=1}]}" },
    { "x = 1\nx = 2\ny = $x", "{x=2,y=2}" },
    { "\"\" = 4\ny = $", "{=4,y=4}" },
    { "p = $2a$10$abc", "{p=\"$2a$10$abc\"}" },
    { "p = \"$x\"", "{p=\"$x\"}" },
    /* EOF right after an opening quote ends the document quietly */
    { "a = 1\nb = \"", "{a=1}" },
    { "a = 1\nb = '", "{a=1}" },
    { "a = 1\nb = \"x\\t", "{a=1}" },
    { "a = 1\nm { b = 2, c = \"", "{a=1}" },
    { "a = 1\nx = [1 , \"", "{a=1}" },
};

TEST(grammar_table)
{
    for (size_t i = 0; i < sizeof(grammar) / sizeof(grammar[0]); i++) {
        const char *got = tree_of(grammar[i].text, strlen(grammar[i].text));
        int ok = grammar[i].tree ? got && strcmp(got, grammar[i].tree) == 0 : got == NULL;
        if (!ok)
            fprintf(stderr, "row %zu: %s\n  got      %s\n  expected %s\n", i, grammar[i].text,
                    got ? got : errbuf, grammar[i].tree ? grammar[i].tree : "(error)");
        CHECK(ok);
    }
}

/* -------------------------------------------------------------- errors */

static const struct { const char *text, *err; } errors[] = {
    { "a = \"abc", "t.conf:1:9: Unexpected EOF." },
    { "a = 'abc", "t.conf:1:9: Unexpected EOF." },
    { "a = \"x\\ty", "t.conf:1:10: Unexpected EOF." },
    { "\"abc", "t.conf:1:5: Unexpected EOF." },
    { "a = \"x\\q\"", "t.conf:1:8: Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\." },
    { "a = \"x\\", "t.conf:1:8: Invalid escape character 'EOF'." },
    { "a = x\\q", "t.conf:1:7: Invalid escape character 'q'." },
    { "a = \"\\x4g\"", "t.conf:1:10: Expected two hexadecimal digits after '\\x', but got '4g'" },
    { "a = \"\\x4\n\"", "t.conf:1:9: Expected two hexadecimal digits after '\\x', but hit end of line" },
    { "a = \"\\x", "Expected two hexadecimal digits after '\\x', but got '\\x'" },
    { "a = (\nabc", "t.conf:2:4: Unexpected EOF processing block." },
    { "a = (\nabc\n)\r\n", "Unexpected EOF processing block." },
    { "m {", "t.conf:1:4: Unexpected EOF processing map." },
    { "m { a = 1", "t.conf:1:10: Expected a map value terminator \",\" or a map terminator \"}\", but got 'EOF' instead." },
    { "m { a = 1 b = 2 }", "t.conf:1:11: Expected a map value terminator \",\" or a map terminator \"}\", but got 'b' instead." },
    { "m { a", "t.conf:1:6: Unexpected EOF processing map key." },
    { "m { \"a", "t.conf:1:7: Unexpected EOF processing double quoted map key." },
    { "m { 'a", "t.conf:1:7: Unexpected EOF processing quoted map key." },
    { "m { a = , }", "t.conf:1:9: Unexpected map value terminator \",\"." },
    { "m { = 1 }", "t.conf:1:5: Unexpected key separator '='." },
    { "m { : 1 }", "Unexpected key separator ':'." },
    { "m { ] }", "t.conf:1:5: Unexpected array end ']' processing map." },
    { "m { a }", "t.conf:1:5: Expected a value for key 'a'" },
    { "m { a = }", "t.conf:1:5: Expected a value for key 'a'" },
    { "m { a = 1,, }", "Expected a value for key ','" },
    { "a = [x, y", "t.conf:1:10: Expected an array value terminator \",\" or an array terminator \"]\", but got 'EOF' instead." },
    { "a = [", "Expected an array value terminator \",\" or an array terminator \"]\", but got 'EOF' instead." },
    { "a = [x y]", "t.conf:1:8: Expected an array value terminator \",\" or an array terminator \"]\", but got 'y' instead." },
    { "a = [1]", "but got 'EOF' instead." },
    { "a = [1, 2]\n", "but got 'EOF' instead." },
    { "a = [,]", "t.conf:1:6: Unexpected array value terminator ','." },
    { "a = [x,,y]", "t.conf:1:8: Unexpected array value terminator ','." },
    { "a = [/ x]", "Unexpected array value terminator ','." },
    { "= 1", "t.conf:1:1: Unexpected key separator '='" },
    { "a = 1 2", "t.conf:1:7: Expected a top-level value to end with a new line, comment or EOF, but got '2' instead." },
    { "a = 1 /x", "but got 'x' instead." },
    { "a = x y", "but got 'y' instead." },
    { "/x = 1", "t.conf:1:2: Unexpected EOF." },
    { "a = \n1", "t.conf:1:5: Expected value but found new line" },
    { "a = .5", "t.conf:1:5: Floats must start with a digit" },
    { "a = -.5", "t.conf:1:6: Floats must start with a digit, not '.'." },
    { "a = -x", "t.conf:1:6: Expected a digit but got 'x'." },
    { "a = -", "Expected a digit but got 'EOF'." },
    { "a = 1.", "t.conf:1:7: Floats must have a digit after the '.', but got 'EOF' instead." },
    { "a = 1.x", "Floats must have a digit after the '.', but got 'x' instead." },
    { "a = 1.5k", "but got 'k' instead." },
    { "a = 1-", "t.conf:1:6: All ISO8601 dates must be in full Zulu form." },
    { "a = 12345-", "All ISO8601 dates must be in full Zulu form." },
    { "a = 2006-01-02", "t.conf:1:15: Expected 'T' in ISO8601 datetime, but found 'EOF' instead." },
    { "a = 2006-0x", "t.conf:1:11: Expected digit in ISO8601 datetime, but found 'x' instead." },
    { "a = 2006-13-02T15:04:05Z", "t.conf:1:5: expected Zulu formatted DateTime, but got '2006-13-02T15:04:05Z'" },
    { "a = 2023-02-29T00:00:00Z", "expected Zulu formatted DateTime" },
    { "a = 2006-01-02T24:00:00Z", "expected Zulu formatted DateTime" },
    { "a = 2006-01-02T23:60:00Z", "expected Zulu formatted DateTime" },
    { "a = 2006-01-02T23:00:60Z", "expected Zulu formatted DateTime" },
    { "a = 9223372036854775808", "t.conf:1:5: integer '9223372036854775808' is out of the range" },
    { "a = -9223372036854775809", "integer '-9223372036854775809' is out of the range" },
    { "a = 99999999999999999999k", "integer '99999999999999999999k' is out of the range" },
    { "a = 1kbb", "t.conf:1:5: invalid size suffix in integer '1kbb'" },
    { "a = 1kbi", "invalid size suffix" },
    { "a = 1kii", "invalid size suffix" },
    { "a = $nope", "t.conf:1:5: variable reference for 'nope' on line 1 can not be found" },
    { "a = 1\nb = $A", "t.conf:2:5: variable reference for 'A' on line 2 can not be found" },
    { "b = $a\na = 1", "variable reference for 'a' on line 1 can not be found" },
    { "m { t = $m }", "variable reference for 'm' on line 1 can not be found" },
    { "m { a = 1 }\nb = $a", "variable reference for 'a' on line 2 can not be found" },
    { "a = [{x = 1}, $x]", "variable reference for 'x' on line 1 can not be found" },
    { "a\n=\n1", "t.conf:2:2: Expected value but found new line" },
    { "a = 1\n\"foo", "t.conf:2:5: Unexpected EOF." },
    { "a = = 1", "but got '1' instead." },
    { "p = \\$x", "Invalid escape character '$'." },
    { "a = $", "variable reference for '' on line 1 can not be found" },
    { "a = $2b$10$abc", "variable reference for '2b$10$abc' on line 1 can not be found" },
    { "include [", "t.conf:1:9: Expected include value but found start of an array" },
    { "include {", "Expected include value but found start of a map" },
    { "include (", "Expected include value but found start of a block" },
    { "include 5", "Expected include value but found start of a number" },
    { "include -x", "Expected include value but found start of a number" },
    { "include \\x", "Expected include value but found escape sequence" },
    { "include\nx", "t.conf:1:8: Expected include value but found new line" },
    { "include \"x", "t.conf:1:11: Unexpected EOF in double quoted include" },
    { "include 'x", "Unexpected EOF in quoted include" },
    { "a = 1\0", "t.conf:1:6: unexpected NUL byte" },
    { "a = 1\nb = \"\0\"", "t.conf:2:6: unexpected NUL byte" },
};

TEST(error_table)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        /* rows with an embedded NUL carry it before the end of the literal */
        size_t len = strlen(errors[i].text);
        if (strstr(errors[i].err, "NUL"))
            len += 1 + strlen(errors[i].text + len + 1);
        const char *got = tree_of(errors[i].text, len);
        int ok = !got && strstr(errbuf, errors[i].err) != NULL &&
                 (strncmp(errors[i].err, "t.conf:", 7) == 0 || strncmp(errbuf, "t.conf:", 7) == 0);
        if (!ok)
            fprintf(stderr, "row %zu: %s\n  got      %s\n  expected %s\n", i, errors[i].text,
                    got ? got : errbuf, errors[i].err);
        CHECK(ok);
    }
}

TEST(error_codes_and_outputs)
{
    struct conf_node *root = (struct conf_node *)1;
    CHECK_EQ_INT(conf_parse_text("a = [", 5, "t.conf", &root, errbuf, sizeof(errbuf)), -EINVAL);
    CHECK(root == NULL);
    /* a tiny or absent error buffer is fine */
    char tiny[8];
    CHECK_EQ_INT(conf_parse_text("a = [", 5, "t.conf", &root, tiny, sizeof(tiny)), -EINVAL);
    CHECK_EQ_STR(tiny, "t.conf:");
    CHECK_EQ_INT(conf_parse_text("a = [", 5, "t.conf", &root, NULL, 0), -EINVAL);
    CHECK_EQ_INT(conf_parse_text(NULL, 3, "t.conf", &root, errbuf, sizeof(errbuf)), -EINVAL);
    /* no name: "<text>" */
    CHECK_EQ_INT(conf_parse_text("a = [", 5, NULL, &root, errbuf, sizeof(errbuf)), -EINVAL);
    CHECK(strncmp(errbuf, "<text>:1:", 9) == 0);
    CHECK_EQ_INT(conf_parse_text(NULL, 0, NULL, &root, errbuf, sizeof(errbuf)), 0);
    CHECK(root && root->kind == CONF_MAP && root->n == 0);
    conf_free(root);
    conf_free(NULL);
}

/* ----------------------------------------------------------- positions */

TEST(positions)
{
    struct conf_node *root = parse_ok("x = 5\nm {\n  \"k\": 'v'\n  y = $x\n}\n  arr = [1 , \"s\"]\n");
    if (!root)
        return;
    CHECK_EQ_STR(root->file, "t.conf");
    CHECK_EQ_INT(root->n, 3);
    const struct conf_node *x = conf_get(root, "x"), *m = conf_get(root, "m");
    const struct conf_node *arr = conf_get(root, "ARR");
    CHECK(x && m && arr);
    if (!x || !m || !arr)
        goto out;
    CHECK_EQ_INT(x->line, 1);
    CHECK_EQ_INT(x->col, 5);
    CHECK_EQ_INT(x->key_line, 1);
    CHECK_EQ_INT(x->key_col, 1);
    CHECK_EQ_STR(x->str, "5");
    CHECK(x->used_as_var);
    CHECK_EQ_INT(m->line, 2);
    CHECK_EQ_INT(m->col, 3);
    const struct conf_node *k = conf_get(m, "k"), *y = conf_get(m, "y");
    CHECK(k && y);
    if (k) {
        CHECK_EQ_INT(k->key_line, 3);
        CHECK_EQ_INT(k->key_col, 3);
        CHECK_EQ_INT(k->line, 3);
        CHECK_EQ_INT(k->col, 8);
        CHECK(k->quoted);
        CHECK(!k->used_as_var);
    }
    if (y) { /* a variable's value sits where it is referenced */
        CHECK_EQ_INT(y->kind, CONF_INT);
        CHECK_EQ_INT(y->i, 5);
        CHECK_EQ_INT(y->line, 4);
        CHECK_EQ_INT(y->col, 7);
        CHECK_EQ_STR(y->key, "y");
    }
    CHECK_EQ_INT(arr->key_line, 6);
    CHECK_EQ_INT(arr->key_col, 3);
    CHECK_EQ_INT(arr->n, 2);
    if (arr->n == 2) {
        CHECK_EQ_INT(arr->items[0]->col, 10);
        CHECK(arr->items[0]->key == NULL);
        CHECK_EQ_INT(arr->items[1]->col, 14);
        CHECK(arr->items[1]->quoted);
    }
out:
    conf_free(root);
}

TEST(quoted_flag_and_kinds)
{
    struct conf_node *root = parse_ok("a = \"x\"\nb = 'x'\nc = x\nd = (\nx\n)\ne = 1.2.3\nf = 1.5\n"
                                      "g = 2006-01-02T15:04:05Z\nh = \"\\x00z\"");
    if (!root)
        return;
    CHECK(conf_get(root, "a")->quoted);
    CHECK(conf_get(root, "b")->quoted);
    CHECK(!conf_get(root, "c")->quoted);
    CHECK(conf_get(root, "d")->quoted);
    CHECK(!conf_get(root, "e")->quoted);
    CHECK_EQ_INT(conf_get(root, "f")->kind, CONF_FLOAT);
    CHECK_EQ_STR(conf_get(root, "f")->str, "1.5");
    const struct conf_node *g = conf_get(root, "g");
    CHECK_EQ_INT(g->kind, CONF_DATETIME);
    CHECK_EQ_INT(g->i, 1136214245);
    CHECK_EQ_INT(g->len, 20);
    const struct conf_node *h = conf_get(root, "h");
    CHECK_EQ_INT(h->len, 2);
    CHECK(h->str[0] == 0 && h->str[1] == 'z' && h->str[2] == 0);
    CHECK_EQ_STR(conf_kind_name(CONF_DATETIME), "datetime");
    CHECK_EQ_STR(conf_kind_name((enum conf_kind)42), "unknown");
    conf_free(root);
}

TEST(conf_get_case_and_duplicates)
{
    struct conf_node *root = parse_ok("Port = 1\nport = 2\nDEBUG = true\n");
    if (!root)
        return;
    CHECK_EQ_INT(root->n, 3);
    CHECK_EQ_INT(conf_get(root, "PORT")->i, 2); /* the last of the case variants */
    CHECK(conf_get(root, "debug") != NULL);
    CHECK(conf_get(root, "nope") == NULL);
    CHECK(conf_get(NULL, "x") == NULL);
    CHECK(conf_get(conf_get(root, "port"), "x") == NULL);
    CHECK(conf_get(root, NULL) == NULL);
    conf_free(root);
}

/* ----------------------------------------------------------- variables */

TEST(variables_marking_and_env)
{
    struct conf_node *root = parse_ok("a = 1\nb = $a\nm { c = 2, d = $c, e = $b }\na = 3");
    if (!root)
        return;
    CHECK(!conf_get(root, "a")->used_as_var); /* redefined after use, like nats-server */
    CHECK(conf_get(root, "b")->used_as_var);
    const struct conf_node *m = conf_get(root, "m");
    CHECK(conf_get(m, "c")->used_as_var);
    CHECK(!conf_get(m, "d")->used_as_var);
    CHECK_EQ_INT(conf_get(m, "e")->i, 1);
    conf_free(root);

    setenv("GANNET_TEST_INT", "1k", 1);
    setenv("GANNET_TEST_MAP", "{ a = 1, b = [x , y] }", 1);
    setenv("GANNET_TEST_CHAIN", "$GANNET_TEST_INT", 1);
    setenv("GANNET_TEST_STR", "hello", 1);
    setenv("GANNET_TEST_EMPTY", "", 1);
    CHECK_EQ_STR(tree_of("a = $GANNET_TEST_INT", 20), "{a=1000}");
    const char *t = "a = $GANNET_TEST_MAP\nb = $GANNET_TEST_CHAIN\nc = $GANNET_TEST_STR\nd = $GANNET_TEST_EMPTY";
    CHECK_EQ_STR(tree_of(t, strlen(t)), "{a={a=1,b=[\"x\",\"y\"]},b=1000,c=\"hello\",d=\"\"}");
    /* the file's keys win over the environment */
    t = "GANNET_TEST_STR = mine\na = $GANNET_TEST_STR";
    CHECK_EQ_STR(tree_of(t, strlen(t)), "{GANNET_TEST_STR=\"mine\",a=\"mine\"}");
    /* env values cannot see the file's keys */
    setenv("GANNET_TEST_REF", "$gannet_local", 1);
    t = "gannet_local = 1\na = $GANNET_TEST_REF";
    CHECK(tree_of(t, strlen(t)) == NULL);
    CHECK(strstr(errbuf, "variable reference for 'gannet_local' on line 1 can not be found") != NULL);
    setenv("GANNET_TEST_BAD", "foo bar", 1);
    CHECK(tree_of("a = $GANNET_TEST_BAD", 20) == NULL);
    CHECK(strstr(errbuf, "t.conf:1:5: variable reference for 'GANNET_TEST_BAD' on line 1 could not be parsed: "
                         "Expected a top-level value to end with a new line, comment or EOF, but got 'b' instead.") != NULL);
    /* an env value that ends quietly (the EOF quirk) defines nothing */
    setenv("GANNET_TEST_QUOTE", "\"", 1);
    CHECK(tree_of("a = $GANNET_TEST_QUOTE", 22) == NULL);
    CHECK(strstr(errbuf, "can not be found") != NULL);
    /* env values may not include files */
    setenv("GANNET_TEST_INC", "1\ninclude /etc/passwd", 1);
    CHECK(tree_of("a = $GANNET_TEST_INC", 20) == NULL);
    CHECK(strstr(errbuf, "not allowed") != NULL);
    /* a self-referencing variable stops at the depth limit instead of the stack */
    setenv("GANNET_TEST_LOOP", "$GANNET_TEST_LOOP", 1);
    CHECK(tree_of("a = $GANNET_TEST_LOOP", 21) == NULL);
    CHECK_EQ_STR(errbuf, "t.conf:1:5: variable reference for 'GANNET_TEST_LOOP' on line 1 could not be parsed: "
                         "variable reference for 'GANNET_TEST_LOOP' on line 1 could not be parsed: it refers to itself");
    setenv("GANNET_TEST_PING", "[$GANNET_TEST_PONG]", 1);
    setenv("GANNET_TEST_PONG", "$GANNET_TEST_PING", 1);
    CHECK(tree_of("a = $GANNET_TEST_PING", 21) == NULL);
    CHECK(strstr(errbuf, "could not be parsed: it refers to itself") != NULL);
}

/* ------------------------------------------------------------ includes */

static char tmpdir[64];

static void write_file(const char *rel, const char *text)
{
    char path[256], dir[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *sl = dir + strlen(tmpdir) + 1; (sl = strchr(sl, '/')); *sl++ = '/') {
        *sl = 0;
        mkdir(dir, 0700);
    }
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int parse_path(const char *rel, struct conf_node **root)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    return conf_parse_file(path, root, errbuf, sizeof(errbuf));
}

TEST(includes)
{
    struct conf_node *root;
    char expect[512];
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/gannet_conf_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    write_file("main.conf", "port = 1\ninclude inc/a.conf\nm {\n  include \"inc/b.conf\"; z = 9\n}\ny = $q\n");
    write_file("inc/a.conf", "q = 7\nport = 2\ninclude deeper/c.conf\n");
    write_file("inc/deeper/c.conf", "\n\n  c = 'from c'\n");
    write_file("inc/b.conf", "u = $q2\nq2 = 3\n");
    CHECK_EQ_INT(parse_path("main.conf", &root), -EINVAL); /* b.conf cannot see main's keys */
    snprintf(expect, sizeof(expect), "%s/main.conf:4:3: error parsing include file 'inc/b.conf', %s/inc/b.conf:1:5: "
             "variable reference for 'q2' on line 1 can not be found", tmpdir, tmpdir);
    CHECK_EQ_STR(errbuf, expect);

    write_file("inc/b.conf", "q2 = 3\nu = $q2\n");
    CHECK_EQ_INT(parse_path("main.conf", &root), 0);
    if (root) {
        struct out o = { 0 };
        show(&o, root);
        CHECK_EQ_STR(o.p, "{q=7,port=2,c=\"from c\",m={q2=3,u=3,z=9},y=7}");
        free(o.p);
        const struct conf_node *c = conf_get(root, "c");
        snprintf(expect, sizeof(expect), "%s/inc/deeper/c.conf", tmpdir);
        CHECK_EQ_STR(c->file, expect);
        CHECK_EQ_INT(c->line, 3);
        CHECK_EQ_INT(c->col, 7);
        CHECK_EQ_INT(c->key_col, 3);
        CHECK(conf_get(root, "q")->used_as_var);
        conf_free(root);
    }

    /* missing include: the errno comes back, nats-server's words too */
    write_file("miss.conf", "a = 1\n  include ./nope.conf\n");
    CHECK_EQ_INT(parse_path("miss.conf", &root), -ENOENT);
    snprintf(expect, sizeof(expect), "%s/miss.conf:2:3: error parsing include file './nope.conf', open %s/nope.conf: "
             "no such file or directory", tmpdir, tmpdir);
    CHECK_EQ_STR(errbuf, expect);
    /* a directory */
    write_file("dir.conf", "include inc\n");
    CHECK_EQ_INT(parse_path("dir.conf", &root), -EISDIR);
    CHECK(strstr(errbuf, "read ") && strstr(errbuf, "is a directory"));
    /* "/x" is joined to the including file's directory, as Go's filepath.Join does */
    write_file("abs.conf", "include /inc/a.conf\n");
    write_file("inc/deeper/c.conf", "c = 1\n");
    CHECK_EQ_INT(parse_path("abs.conf", &root), 0);
    CHECK_EQ_INT(conf_get(root, "q")->i, 7);
    conf_free(root);
    /* include cycles are named; a file included twice side by side is fine */
    write_file("self.conf", "a = 1\ninclude self.conf\n");
    CHECK_EQ_INT(parse_path("self.conf", &root), -EINVAL);
    snprintf(expect, sizeof(expect), "%s/self.conf:2:1: include of 'self.conf' includes %s/self.conf again",
             tmpdir, tmpdir);
    CHECK_EQ_STR(errbuf, expect);
    write_file("ping.conf", "include pong.conf\n");
    write_file("pong.conf", "include ping.conf\n");
    CHECK_EQ_INT(parse_path("ping.conf", &root), -EINVAL);
    CHECK(strstr(errbuf, "include of 'ping.conf' includes ") != NULL);
    write_file("twice.conf", "include inc/deeper/c.conf\nm { include inc/deeper/c.conf }\n");
    CHECK_EQ_INT(parse_path("twice.conf", &root), 0);
    conf_free(root);
    /* a top-level file that does not exist */
    CHECK_EQ_INT(parse_path("none.conf", &root), -ENOENT);
    snprintf(expect, sizeof(expect), "%s/none.conf:1:1: open %s/none.conf: no such file or directory", tmpdir, tmpdir);
    CHECK_EQ_STR(errbuf, expect);
    CHECK(root == NULL);
}

/* Include paths are cleaned like Go's filepath.Join: "./", "//", "x/.." go. */
TEST(include_paths)
{
    struct conf_node *root;
    char expect[512];
    write_file("p/q/x.conf", "include ..//../inc/./deeper/../deeper/c.conf\n");
    write_file("inc/deeper/c.conf", "c = 1\n");
    CHECK_EQ_INT(parse_path("p/q/x.conf", &root), 0);
    if (root) {
        snprintf(expect, sizeof(expect), "%s/inc/deeper/c.conf", tmpdir);
        CHECK_EQ_STR(conf_get(root, "c")->file, expect);
        conf_free(root);
    }
    write_file("p/y.conf", "include \"\"\n");
    CHECK_EQ_INT(parse_path("p/y.conf", &root), -EISDIR);
    snprintf(expect, sizeof(expect), "error parsing include file '', read %s/p: is a directory", tmpdir);
    CHECK(strstr(errbuf, expect) != NULL);
    /* relative to the including file even when the top file was given relatively */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK_EQ_INT(chdir(tmpdir), 0);
    CHECK_EQ_INT(conf_parse_file("./p/q/x.conf", &root, errbuf, sizeof(errbuf)), 0);
    if (root) {
        CHECK_EQ_STR(conf_get(root, "c")->file, "inc/deeper/c.conf");
        CHECK_EQ_STR(root->file, "./p/q/x.conf");
        conf_free(root);
    }
    CHECK_EQ_INT(chdir(cwd), 0);
}

/* ------------------------------------------------------- typed readers */

static const struct { const char *text; long long ns; const char *err; } duration_rows[] = {
    { "\"1m30s\"", 90000000000LL, NULL },
    { "\"500ms\"", 500000000LL, NULL },
    { "\"2h\"", 7200000000000LL, NULL },
    { "\"1.5h\"", 5400000000000LL, NULL },
    { "\".5s\"", 500000000LL, NULL },
    { "\"1.s\"", 1000000000LL, NULL },
    { "\"-1s\"", -1000000000LL, NULL },
    { "\"+3ns\"", 3, NULL },
    { "\"0\"", 0, NULL },
    { "\"1us\"", 1000, NULL },
    { "\"1\xC2\xB5s\"", 1000, NULL },
    { "\"1\xCE\xBCs\"", 1000, NULL },
    { "\"1h2m3s4ms5us6ns\"", 3723004005006LL, NULL },
    { "\"2562047h47m16.854775807s\"", 9223372036854775807LL, NULL },
    { "\"-2562047h47m16.854775808s\"", (-9223372036854775807LL - 1), NULL },
    { "\"1.0000000000000000000000001s\"", 1000000000LL, NULL },
    { "2s", 2000000000LL, NULL },
    { "\"2562047h47m16.854775808s\"", 0, "error parsing d: time: invalid duration \"2562047h47m16.854775808s\"" },
    { "\"\"", 0, "error parsing d: time: invalid duration \"\"" },
    { "\"abc\"", 0, "error parsing d: time: invalid duration \"abc\"" },
    { "\".s\"", 0, "time: invalid duration \".s\"" },
    { "\"-\"", 0, "time: invalid duration \"-\"" },
    { "\"1\"", 0, "error parsing d: time: missing unit in duration \"1\"" },
    { "\"1x\"", 0, "error parsing d: time: unknown unit \"x\" in duration \"1x\"" },
    { "\"1s2\"", 0, "time: missing unit in duration \"1s2\"" },
    { "\"99999999999h\"", 0, "time: invalid duration" },
    { "1.5", 0, "t.conf:1:5: error parsing d: expected a duration, got float" },
    { "true", 0, "expected a duration, got bool" },
};

TEST(durations)
{
    char text[128], err[256];
    for (size_t i = 0; i < sizeof(duration_rows) / sizeof(duration_rows[0]); i++) {
        snprintf(text, sizeof(text), "d = %s", duration_rows[i].text);
        struct conf_node *root = parse_ok(text);
        if (!root)
            continue;
        long long ns = -42;
        int warned = -1;
        err[0] = 0;
        int rc = conf_duration_ns(conf_get(root, "d"), &ns, &warned, err, sizeof(err));
        int ok = duration_rows[i].err ? rc == -EINVAL && strstr(err, duration_rows[i].err) != NULL
                                  : rc == 0 && ns == duration_rows[i].ns && warned == 0;
        if (!ok)
            fprintf(stderr, "duration row %zu (%s): rc %d ns %lld err %s\n", i, text, rc, ns, err);
        CHECK(ok);
        conf_free(root);
    }
    /* a bare int is seconds, with nats-server's warning */
    struct conf_node *root = parse_ok("ping_interval: 2m");
    long long ns = 0;
    int warned = 0;
    CHECK_EQ_INT(conf_duration_ns(conf_get(root, "ping_interval"), &ns, &warned, err, sizeof(err)), 0);
    CHECK_EQ_INT(ns, 2000000LL * 1000000000LL);
    CHECK_EQ_INT(warned, 1);
    CHECK_EQ_STR(err, "t.conf:1:16: invalid use of field \"ping_interval\": ping_interval should be converted to a duration");
    CHECK_EQ_INT(conf_duration_ns(NULL, &ns, &warned, err, sizeof(err)), -EINVAL);
    conf_free(root);
}

TEST(typed_readers)
{
    char err[256];
    struct conf_node *root = parse_ok("b = yes\ni = 1k\ns = 'str'\nf = 1.5\nm { x = 1 }");
    if (!root)
        return;
    int bv = 0;
    long long iv = 0;
    const char *sv = NULL;
    CHECK_EQ_INT(conf_bool(conf_get(root, "b"), &bv, err, sizeof(err)), 0);
    CHECK_EQ_INT(bv, 1);
    CHECK_EQ_INT(conf_int(conf_get(root, "i"), &iv, err, sizeof(err)), 0);
    CHECK_EQ_INT(iv, 1000);
    CHECK_EQ_INT(conf_string(conf_get(root, "s"), &sv, err, sizeof(err)), 0);
    CHECK_EQ_STR(sv, "str");
    CHECK_EQ_INT(conf_bool(conf_get(root, "s"), &bv, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, "t.conf:3:5: error parsing s: expected bool, got string");
    CHECK_EQ_INT(conf_int(conf_get(root, "f"), &iv, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, "t.conf:4:5: error parsing f: expected int, got float");
    CHECK_EQ_INT(conf_string(conf_get(root, "m"), &sv, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, "t.conf:5:3: error parsing m: expected string, got map");
    CHECK_EQ_INT(conf_int(NULL, &iv, err, sizeof(err)), -EINVAL);
    CHECK_EQ_STR(err, "<unknown>:0:0: missing int value");
    const struct conf_node *x = conf_get(conf_get(root, "m"), "x");
    conf_errorf(x, err, sizeof(err), "bad %s %d", "thing", 7);
    CHECK_EQ_STR(err, "t.conf:5:9: bad thing 7");
    conf_key_errorf(x, err, sizeof(err), "unknown field \"%s\"", x->key);
    CHECK_EQ_STR(err, "t.conf:5:5: unknown field \"x\"");
    conf_key_errorf(root, err, sizeof(err), "root");
    CHECK_EQ_STR(err, "t.conf:1:1: root");
    conf_errorf(x, NULL, 0, "ignored");
    conf_free(root);
}

/* -------------------------------------------------------------- limits */

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *p = malloc(hl + ul * times + tl + 1), *w = p;
    memcpy(w, head, hl);
    w += hl;
    for (size_t i = 0; i < times; i++, w += ul)
        memcpy(w, unit, ul);
    memcpy(w, tail, tl + 1);
    return p;
}

TEST(nesting_depth)
{
    char *open = repeat("a = ", "[", CONF_MAX_DEPTH, "x");
    char *text = repeat(open, "]", CONF_MAX_DEPTH, "");
    CHECK(tree_of(text, strlen(text)) != NULL);
    free(open);
    free(text);
    open = repeat("a = ", "[", CONF_MAX_DEPTH + 1, "x");
    text = repeat(open, "]", CONF_MAX_DEPTH + 1, "");
    CHECK(tree_of(text, strlen(text)) == NULL);
    CHECK(strstr(errbuf, "maximum nesting depth of 64 exceeded") != NULL);
    free(open);
    free(text);
    text = repeat("a = ", "{b = ", 100000, "");
    CHECK(tree_of(text, strlen(text)) == NULL);
    CHECK(strstr(errbuf, "maximum nesting depth") != NULL);
    free(text);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Inputs that a quadratic step would make take minutes; each must finish
 * well under a second or two even under valgrind's slowdown budget. */
TEST(large_inputs)
{
    struct out o = { 0 };
    double t0 = now();
    for (int i = 0; i < 200000; i++)
        out_fmt(&o, "key%d = %d\n", i, i);
    out_fmt(&o, "last = $key123\n");
    struct conf_node *root = parse_ok(o.p);
    if (root) {
        CHECK_EQ_INT(root->n, 200001);
        CHECK_EQ_INT(conf_get(root, "last")->i, 123);
        conf_free(root);
    }
    o.n = 0; /* one key redefined 200000 times */
    for (int i = 0; i < 200000; i++)
        out_fmt(&o, "k = %d\n", i);
    if ((root = parse_ok(o.p))) {
        CHECK_EQ_INT(root->n, 1);
        CHECK_EQ_INT(root->items[0]->i, 199999);
        conf_free(root);
    }
    o.n = 0; /* each variable twice the previous: shared, not copied */
    out_fmt(&o, "v0 = [x , y ]\n");
    for (int i = 1; i < 200; i++)
        out_fmt(&o, "v%d = [$v%d, $v%d]\n", i, i - 1, i - 1);
    if ((root = parse_ok(o.p))) {
        CHECK_EQ_INT(root->n, 200);
        conf_free(root);
    }
    free(o.p);
    char *text = repeat("s = \"", "0123456789abcdef", 1 << 18, "\""); /* 4 MiB string */
    if ((root = parse_ok(text))) {
        CHECK_EQ_INT(root->items[0]->len, 16u << 18);
        conf_free(root);
    }
    free(text);
    text = repeat("a = [", "x, ", 300000, "]");
    if ((root = parse_ok(text))) {
        CHECK_EQ_INT(root->items[0]->n, 300000);
        conf_free(root);
    }
    free(text);
    text = repeat("a = (\n", "line\\x\"'\n", 200000, ")\n");
    if ((root = parse_ok(text)))
        conf_free(root);
    free(text);
    text = repeat("a = \"", "\\t", 1000000, "\"");
    if ((root = parse_ok(text))) {
        CHECK_EQ_INT(root->items[0]->len, 1000000);
        conf_free(root);
    }
    free(text);
    text = repeat("", "# comment line\n", 200000, "a = 1");
    CHECK(tree_of(text, strlen(text)) != NULL);
    free(text);
    CHECK(now() - t0 < 20.0);
}

int main(void)
{
    RUN(grammar_table);
    RUN(error_table);
    RUN(error_codes_and_outputs);
    RUN(positions);
    RUN(quoted_flag_and_kinds);
    RUN(conf_get_case_and_duplicates);
    RUN(variables_marking_and_env);
    RUN(includes);
    RUN(include_paths);
    RUN(durations);
    RUN(typed_readers);
    RUN(nesting_depth);
    RUN(large_inputs);
    free(tree_out.p);
    return unit_report();
}
