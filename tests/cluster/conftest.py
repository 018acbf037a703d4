"""Fixtures of the cluster tests (helpers in tests/lib/cluster.py, fixtures
in tests/lib/clusterfix.py); module-scoped clusters come from
cluster.managed()."""
from clusterfix import _cluster_logs_on_failure, make_cluster  # noqa: F401 (fixtures)
