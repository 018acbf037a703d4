"""gannet and nats-server side by side: both run the same scenario, then
every endpoint's answer is compared, key for key (and in order), type for
type, and value for value where both servers must agree.

Both have the system account ($SYS, with "system_account" in /varz and
/accountz and the system imports in every other account). Allowed
differences: the number of the system account's internal subscriptions
(nats-server has some 40, gannet 5) and so the subscription counts.
"""
import os

import pytest

from monhelp import Scenario, get_json, http, wait_for
from servers import GANNET_BIN, REFERENCE_BIN, Server, free_port, wait_port

pytestmark = pytest.mark.skipif(not os.path.exists(REFERENCE_BIN), reason="no reference nats-server")

NATS_ONLY_KEYS = set()


@pytest.fixture
def pair():
    """(gannet, nats-server), each monitoring on a port of its own."""
    started = []
    try:
        for b in (GANNET_BIN, REFERENCE_BIN):
            m = free_port()
            s = Server(b, args=["-m", str(m)])
            started.append(s)
            wait_port(m, proc=s.proc)
            s.mport = m
            wait_for(lambda: get_json(m, "/connz?state=closed")["total"] >= 1)  # the harness's probe
        yield started
    finally:
        for s in started:
            s.stop()


def kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if v is None:
        return "null"
    return type(v).__name__


def same_shape(g, n, path="$"):
    """Same keys in the same order (nats-server may have NATS_ONLY_KEYS
    more), same JSON types; each list element of gannet's against one of
    nats-server's with the same keys."""
    assert kind(g) == kind(n), (path, g, n)
    if isinstance(g, dict):
        nk = [k for k in n if k not in NATS_ONLY_KEYS]
        assert list(g) == nk, (path, list(g), list(n))
        for k in g:
            same_shape(g[k], n[k], path + "." + k)
    elif isinstance(g, list) and g and n:
        # lists come in no fixed order (Go maps): each element must be like
        # one of the other side's (omitempty makes keys vary)
        for a in g:
            like = [b for b in n if not isinstance(a, dict) or
                    list(a) == [k for k in b if k not in NATS_ONLY_KEYS]]
            assert like, (path, a)
            same_shape(a, like[0], path + "[]")


ENDPOINTS = ["/varz", "/connz", "/connz?subs=1", "/connz?subs=detail&auth=1", "/connz?state=closed",
             "/connz?state=all&sort=uptime", "/connz?limit=1&offset=1&sort=msgs_to", "/connz?acc=nope",
             "/subsz", "/subsz?subs=1", "/subsz?subs=1&test=foo", "/routez", "/gatewayz", "/leafz", "/accountz",
             "/accountz?acc=%24G", "/accstatz", "/jsz", "/healthz"]


def by_name(conns):
    return {c.get("name"): c for c in conns}


def test_same_shapes_and_values(pair):
    gs, ns = pair
    scen = [Scenario(gs), Scenario(ns)]  # noqa: F841 (the clients stay connected)
    for ep in ENDPOINTS:
        g, n = get_json(gs.mport, ep), get_json(ns.mport, ep)
        if isinstance(g.get("connections"), list) and g["connections"]:
            # the same named connections, in the same order, each of the same shape
            gc = [c for c in g["connections"] if c.get("name")]
            nc = [c for c in n["connections"] if c.get("name")]
            assert [c["name"] for c in gc] == [c["name"] for c in nc], ep
            for a, b in zip(gc, nc):
                same_shape(a, b, ep + ":" + a["name"])
                for k in ("subscriptions", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "pending_bytes",
                          "kind", "type", "ip", "lang", "version", "reason"):
                    if a["name"] == "gamma" and k in ("subscriptions", "pending_bytes"):
                        # see test_closed_connection_keeps_its_subscriptions; and what
                        # was queued at the close (a PING, say) is a matter of timing
                        continue
                    assert a.get(k) == b.get(k), (ep, a["name"], k)
                for k in ("subscriptions_list",):
                    if k in a:
                        assert sorted(a[k]) == sorted(b[k]), (ep, a["name"])
            g, n = dict(g, connections=[]), dict(n, connections=[])
        same_shape(g, n, ep)


def test_counters_agree(pair):
    gs, ns = pair
    base = [get_json(s.mport, "/varz") for s in pair]
    scen = [Scenario(gs), Scenario(ns)]  # noqa: F841
    g, n = get_json(gs.mport, "/varz"), get_json(ns.mport, "/varz")
    for k in ("connections", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "slow_consumers"):
        assert g[k] == n[k], k
    for k in ("total_connections", "subscriptions"):
        assert g[k] - base[0][k] == n[k] - base[1][k], k
    assert g["http_req_stats"].keys() == n["http_req_stats"].keys()
    a, b = get_json(gs.mport, "/accstatz"), get_json(ns.mport, "/accstatz")
    assert a["account_statz"][0] == b["account_statz"][0]
    sg = sorted((d["subject"], d.get("qgroup"), d["sid"], d["msgs"], d.get("max"))
                for d in get_json(gs.mport, "/subsz?subs=1")["subscriptions_list"])
    sn = sorted((d["subject"], d.get("qgroup"), d["sid"], d["msgs"], d.get("max"))
                for d in get_json(ns.mport, "/subsz?subs=1")["subscriptions_list"] if d["account"] == "$G"
                and not d["subject"].startswith("$SYS."))
    assert sg == sn


def test_same_bytes(pair):
    """Answers that carry no server id or time are byte for byte the same."""
    gs, ns = pair
    for p in ("/", "/healthz", "/healthz?callback=cb", "/nope", "/connz?sort=bogus", "//varz", "/ipqueuesz",
              "/subsz?test=a.>", "/connz?state=x", "/jsz?leader-only=1"):
        rg, rn = http(gs.mport, p), http(ns.mport, p)
        assert (rg.status, rg.headers[:1] if rg.names()[0] != "Date" else [], rg.names(), rg.body) == \
               (rn.status, rn.headers[:1] if rn.names()[0] != "Date" else [], rn.names(), rn.body), p
