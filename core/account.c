/* Accounts: see account.h. */
#include "account.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int account_init(struct account *a, const char *name, uint32_t id, bool is_system)
{
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->id = id;
    a->is_system = is_system;
    if (!a->name)
        return -ENOMEM;
    return sublist_init(&a->sl);
}

void account_destroy(struct account *a)
{
    if (!a->name)
        return;
    sublist_destroy(&a->sl);
    free(a->name);
    a->name = NULL;
}
