/* GANNET_FAILPOINTS parsing: see failpoint.h. */
#include "failpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct failpoints failpoints;

static const char *const site_names[FP__COUNT] = {
    [FP_SUB] = "sub", [FP_SID] = "sid", [FP_OBLOCK] = "oblock", [FP_SQE] = "sqe",
    [FP_BATCH] = "batch", [FP_CONN] = "conn", [FP_INQ] = "inq",
};

int failpoints_init(const char *spec, char *err, size_t errlen)
{
    if (!spec || !*spec)
        return 0;
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return -1;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':'), *end = NULL;
        long n = colon ? strtol(colon + 1, &end, 10) : 0;
        int site = -1;
        if (colon) {
            *colon = 0;
            for (int i = 0; i < FP__COUNT; i++)
                if (strcmp(tok, site_names[i]) == 0)
                    site = i;
        }
        if (site < 0 || !end || *end || n < 1 || n > 1000000000) {
            snprintf(err, errlen, "GANNET_FAILPOINTS: bad entry \"%s\" (want site:N, sites sub sid oblock sqe batch "
                     "conn inq, N >= 1)", tok);
            rc = -1;
            break;
        }
        failpoints.every[site] = (uint32_t)n;
        failpoints.any = true;
    }
    free(copy);
    return rc;
}
