/* Route op arguments: see rproto.h. */
#include "rproto.h"

int rproto_rs(const struct proto_msg *m, bool plus, bool has_acc, struct rs_args *a)
{
    *a = (struct rs_args){0};
    int k = has_acc ? 1 : 0; /* where the subject is */
    int argc = m->argc - k;
    if (argc < 1 || argc > (plus ? 3 : 2) || (plus && argc == 2))
        return -1;
    if (has_acc)
        a->acc = m->argv[0];
    a->subj = m->argv[k];
    if (argc >= 2)
        a->queue = m->argv[k + 1];
    if (plus && argc == 3) {
        int64_t v = proto_parse_size(m->argv[k + 2].p, m->argv[k + 2].n);
        if (v < 1)
            return -1;
        a->weight = (int32_t)v;
    }
    const struct pview *last = &m->argv[argc >= 2 ? k + 1 : k];
    a->sid = m->argv[0].p;
    a->sidlen = (size_t)(last->p + last->n - a->sid);
    return 0;
}

int rproto_rmsg(const struct proto_msg *m, bool has_acc, struct rmsg_args *a)
{
    *a = (struct rmsg_args){0};
    int k = has_acc ? 1 : 0;
    int tail = m->op == OP_HMSG ? 2 : 1;
    if (m->argc < 1 + k + tail)
        return -1;
    if (has_acc)
        a->acc = m->argv[0];
    a->subj = m->argv[k];
    const struct pview *mid = &m->argv[k + 1];
    int nmid = m->argc - 1 - k - tail;
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
