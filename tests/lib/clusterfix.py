"""The cluster fixtures (tests/cluster/conftest.py imports them, and so do
other directories' cluster tests, e.g. tests/tls/test_tls_routes.py):
make_cluster(topology, **kw) starts a cluster for one test
(make_cluster.unstarted(...) builds one to start by hand); when a test
fails, the logs of every cluster it used (its own, and the module-scoped
ones still running) are printed, which pytest shows with the failure."""
import pytest

import cluster as cl


@pytest.fixture(autouse=True)
def _cluster_logs_on_failure(request):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for c in cl.LIVE:
            print("==== cluster %s (still running) ====\n%s" % (c.topology, c.logs()))


@pytest.fixture
def make_cluster(request):
    """Factory: make_cluster(topology, **Cluster kwargs) -> started Cluster;
    all are stopped at teardown (logs printed if the test failed)."""
    made = []

    def make(topology, **kw):
        c = cl.start_cluster(topology, **kw)
        made.append(c)
        return c

    def make_unstarted(topology, **kw):
        c = cl.Cluster(topology, start=False, **kw)
        cl.LIVE.append(c)
        made.append(c)
        return c

    make.unstarted = make_unstarted
    yield make
    for c in made:
        c.stop()
        if c in cl.LIVE:
            cl.LIVE.remove(c)
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for c in made:
            print("==== cluster %s ====\n%s" % (c.topology, c.logs()))
    for c in made:
        cl.check_sanitizer_reports(c)
