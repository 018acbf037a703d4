import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from servers import Server, server_targets  # noqa: E402


@pytest.fixture(params=server_targets(), ids=lambda t: t[0])
def server_bin(request):
    """Binary of the server under test; every protocol test runs once per target."""
    return request.param[1]


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item, so fixtures can see failures."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def make_server(server_bin, request):
    """Factory: make_server(conf=None, args=()) starts a server; all are stopped at teardown.
    When the test failed, the servers' logs are printed (pytest shows them)."""
    started = []

    def start(conf=None, args=()):
        s = Server(server_bin, conf=conf, args=args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for s in started:
            print("---- log of %s (%s) ----\n%s" % (s.kind, " ".join(s.cmd), s.log()[-8000:]))
    check_sanitizer_reports(started)


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "runtime error:")


def check_sanitizer_reports(servers):
    """Under a sanitizer build (GANNET_SANITIZER=1) a report in a server's log fails the test."""
    if not os.environ.get("GANNET_SANITIZER"):
        return
    for s in servers:
        log = s.log()
        for mark in SANITIZER_MARKS:
            assert mark not in log, "sanitizer report in server log:\n" + log[-6000:]


@pytest.fixture
def server(make_server):
    """A server on default settings."""
    return make_server()
