/* gannet: a NATS server. main() is the control thread: options, logging,
 * server start, then signals until shutdown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "server.h"

int main(int argc, char **argv)
{
    struct opts o;
    int rc = opts_load(&o, argc, argv);
    if (rc != 0) {
        opts_free(&o);
        return rc > 0 ? 0 : 1;
    }
    struct log_config lc = {.debug = o.debug, .trace = o.trace, .logtime = o.logtime,
                            .logtime_utc = o.logtime_utc, .file = o.log_file};
    if (log_open(&lc) < 0) {
        fprintf(stderr, "gannet: cannot open log file %s\n", o.log_file);
        opts_free(&o);
        return 1;
    }
    struct server srv;
    rc = server_init(&srv, &o);
    if (rc == 0)
        rc = server_run(&srv);
    server_free(&srv);
    opts_free(&o);
    return rc == 0 ? 0 : 1;
}
