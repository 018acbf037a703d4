/* Route op arguments: see rproto.h. */
#include "rproto.h"

int rproto_rs(const struct proto_msg *m, bool plus, struct rs_args *a)
{
    *a = (struct rs_args){0};
    if (m->argc < 2 || m->argc > (plus ? 4 : 3) || (plus && m->argc == 3))
        return -1;
    a->acc = m->argv[0];
    a->subj = m->argv[1];
    if (m->argc >= 3)
        a->queue = m->argv[2];
    if (plus && m->argc == 4) {
        int64_t v = proto_parse_size(m->argv[3].p, m->argv[3].n);
        if (v < 1)
            return -1;
        a->weight = (int32_t)v;
    }
    const struct pview *last = &m->argv[m->argc >= 3 ? 2 : 1];
    a->sidlen = (size_t)(last->p + last->n - m->argv[0].p);
    return 0;
}

int rproto_rmsg(const struct proto_msg *m, struct rmsg_args *a)
{
    *a = (struct rmsg_args){0};
    int tail = m->op == OP_HMSG ? 2 : 1;
    if (m->argc < 2 + tail)
        return -1;
    a->acc = m->argv[0];
    a->subj = m->argv[1];
    const struct pview *mid = &m->argv[2];
    int nmid = m->argc - 2 - tail;
    if (nmid == 1) { /* one middle argument is the reply, whatever it is (route.go) */
        a->reply = mid[0];
    } else if (nmid >= 2) { /* the first says which form: "+ reply q..." or "| q..." */
        if (mid[0].n != 1 || (mid[0].p[0] != '+' && mid[0].p[0] != '|'))
            return -1;
        bool plus = mid[0].p[0] == '+';
        if (plus)
            a->reply = mid[1];
        a->queues = mid + (plus ? 2 : 1);
        a->nq = (uint32_t)(nmid - (plus ? 2 : 1));
    }
    return 0;
}
