/* Placeholder until the monitoring server lands: no http port can be
 * configured yet (opts refuses the keys), so there is nothing to start. */
#include "monitor.h"

#include "server.h"

int monitor_start(struct server *s)
{
    (void)s;
    return 0;
}

void monitor_stop(struct server *s) { (void)s; }
