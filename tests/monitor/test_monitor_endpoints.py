"""Monitoring endpoints, field for field as nats-server 2.9.10 writes them
(nats-compat.md 8): each test runs against gannet and against Debian's
nats-server (or the one binary NATS_SERVER_BIN names), so every expectation
here is also checked on the reference.

Both servers have the implicit system account $SYS, but their internal
subscriptions in it differ in number (nats-server's some 40, gannet's 5),
so subscription counts are compared as differences from a baseline taken
before the scenario.
"""
import re

import pytest

import os

from monhelp import DURATION, RFC3339, UPTIME, Scenario, get_json, http, named_client, start, ts, varz, wait_for
from servers import REFERENCE_BIN

VARZ_KEYS = ["server_id", "server_name", "version", "proto", "go", "host", "port", "max_connections",
             "ping_interval", "ping_max", "http_host", "http_port", "http_base_path", "https_port", "auth_timeout",
             "max_control_line", "max_payload", "max_pending", "cluster", "gateway", "leaf", "mqtt", "websocket",
             "jetstream", "tls_timeout", "write_deadline", "start", "now", "uptime", "mem", "cores", "gomaxprocs",
             "cpu", "connections", "total_connections", "routes", "remotes", "leafnodes", "in_msgs", "out_msgs",
             "in_bytes", "out_bytes", "slow_consumers", "subscriptions", "http_req_stats", "config_load_time",
             "system_account"]
NATS_ONLY = set()
CONNZ_KEYS = ["server_id", "now", "num_connections", "total", "offset", "limit", "connections"]
CONN_HEAD = ["cid", "kind", "type", "ip", "port", "start", "last_activity"]
CONN_TAIL = ["rtt", "uptime", "idle", "pending_bytes", "in_msgs", "out_msgs", "in_bytes", "out_bytes",
             "subscriptions"]
STATS_KEYS = ["num_subscriptions", "num_cache", "num_inserts", "num_removes", "num_matches", "cache_hit_rate",
              "max_fanout", "avg_fanout"]
SUBSZ_KEYS = ["server_id", "now"] + STATS_KEYS + ["total", "offset", "limit", "subscriptions_list"]
STR, NUM = str, (int, float)


def keys(d):
    return [k for k in d if k not in NATS_ONLY]


def conn_keys(c, closed=False):
    want = CONN_HEAD + (["stop", "reason"] if closed else []) + CONN_TAIL
    for k in ("name", "lang", "version", "authorized_user", "subscriptions_list", "subscriptions_list_detail"):
        if k in c:
            want.append(k)
    return want


def by_name(connz):
    return {c.get("name"): c for c in connz["connections"]}


# ---- /varz --------------------------------------------------------------------------

def test_varz_fields_types_and_values(make_server):
    s = start(make_server)
    v = varz(s)
    assert keys(v) == VARZ_KEYS
    assert set(v) - set(VARZ_KEYS) <= NATS_ONLY
    types = {"server_id": STR, "server_name": STR, "version": STR, "go": STR, "host": STR, "http_host": STR,
             "http_base_path": STR, "start": STR, "now": STR, "uptime": STR, "config_load_time": STR,
             "cluster": dict, "gateway": dict, "leaf": dict, "mqtt": dict, "websocket": dict, "jetstream": dict,
             "http_req_stats": dict, "system_account": STR}
    for k in VARZ_KEYS:
        assert isinstance(v[k], types.get(k, NUM)) and not isinstance(v[k], bool), (k, v[k])
    assert (v["version"], v["proto"], v["host"], v["port"]) == ("2.9.10", 1, "127.0.0.1", s.port)
    assert (v["http_host"], v["http_port"], v["http_base_path"], v["https_port"]) == ("127.0.0.1", s.mport, "", 0)
    assert v["server_id"] == v["server_name"] and re.match(r"^N[A-Z2-7]{55}$", v["server_id"])
    assert (v["max_connections"], v["ping_interval"], v["ping_max"], v["auth_timeout"]) == (65536, 120 * 10**9, 2, 2)
    assert (v["max_control_line"], v["max_payload"], v["max_pending"]) == (4096, 1048576, 67108864)
    assert (v["tls_timeout"], v["write_deadline"]) == (2, 10 * 10**9)
    assert all(v[k] == {} for k in ("cluster", "gateway", "leaf", "mqtt", "websocket", "jetstream"))
    for k in ("start", "now", "config_load_time"):
        assert RFC3339.match(v[k]), (k, v[k])
    assert ts(v["config_load_time"]) <= ts(v["now"]) and ts(v["start"]) <= ts(v["now"])
    assert UPTIME.match(v["uptime"])
    assert v["mem"] > 0 and v["cores"] >= 1 and v["gomaxprocs"] >= 1 and v["cpu"] >= 0
    # (the harness's port probe may count in total_connections)
    assert (v["connections"], v["routes"], v["remotes"], v["leafnodes"]) == (0, 0, 0, 0)
    assert (v["in_msgs"], v["out_msgs"], v["in_bytes"], v["out_bytes"], v["slow_consumers"]) == (0, 0, 0, 0, 0)
    assert v["http_req_stats"]["/varz"] == 1
    assert set(v["http_req_stats"]) <= {"/varz", "/connz"}  # start() polled /connz


def test_varz_options_from_config(make_server):
    s = start(make_server, conf='max_payload: 2KB\nmax_connections: 100\nmax_subscriptions: 7\n'
                                'ping_interval: "30s"\nping_max: 4\nwrite_deadline: "3s"\nserver_name: mon1\n'
                                'authorization { user: u, password: p, timeout: 1.5 }\n')
    v = varz(s)
    assert v["server_name"] == "mon1" and v["auth_required"] is True
    assert keys(v) == VARZ_KEYS[:7] + ["auth_required", "max_connections", "max_subscriptions"] + VARZ_KEYS[8:]
    assert (v["max_payload"], v["max_connections"], v["max_subscriptions"]) == (2048, 100, 7)
    assert (v["ping_interval"], v["ping_max"], v["write_deadline"], v["auth_timeout"]) == (30 * 10**9, 4, 3 * 10**9,
                                                                                           1.5)


def test_varz_counters_after_scenario(make_server):
    s = start(make_server)
    base = varz(s)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    v = varz(s)
    assert (v["connections"], v["total_connections"] - base["total_connections"]) == (3, 4)
    assert (v["in_msgs"], v["in_bytes"], v["out_msgs"], v["out_bytes"]) == (2, 7, 3, 12)
    assert v["subscriptions"] - base["subscriptions"] == 3  # alpha 2, beta 1 (gamma's went with it)
    assert v["slow_consumers"] == 0


def test_http_req_stats_counting(make_server):
    """Which requests nats-server counts, under which key: a handler counts
    before decoding its parameters (/connz and /routez after)."""
    s = start(make_server)
    base = varz(s)["http_req_stats"]  # start() polled /connz
    for p in ["/", "/varz", "/connz", "/connz?auth=x", "/connz?sort=bogus", "/routez", "/routez?subs=x",
              "/gatewayz", "/gatewayz?accs=x", "/leafz", "/subsz", "/subscriptionsz", "/subsz?subs=x", "/accountz",
              "/accstatz", "/jsz", "/jsz?accounts=x", "/healthz", "/healthz?js-enabled=x", "/stacksz",
              "/ipqueuesz", "/nope", "/varz/"]:
        http(s.mport, p)
    got = varz(s)["http_req_stats"]
    assert list(got) == sorted(got)  # Go prints a map sorted by key
    assert {k: v - base.get(k, 0) for k, v in got.items()} == {
        "/": 1, "/accountz": 1, "/accstatz": 1, "/connz": 2, "/gatewayz": 2, "/healthz": 2, "/jsz": 2,
        "/leafz": 1, "/routez": 1, "/subsz": 3, "/varz": 2}


# ---- /connz -------------------------------------------------------------------------

def test_connz_scenario(make_server):
    s = start(make_server)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    cz = get_json(s.mport, "/connz")
    assert list(cz) == CONNZ_KEYS
    assert cz["server_id"] == varz(s)["server_id"] and RFC3339.match(cz["now"])
    assert (cz["num_connections"], cz["total"], cz["offset"], cz["limit"]) == (3, 3, 0, 1024)
    cids = [c["cid"] for c in cz["connections"]]
    assert cids == sorted(cids)
    conns = by_name(cz)
    assert set(conns) == {"alpha", "beta", "pub"}
    for c in cz["connections"]:
        assert list(c) == conn_keys(c)
        assert (c["kind"], c["type"], c["ip"], c["pending_bytes"]) == ("Client", "nats", "127.0.0.1", 0)
        assert isinstance(c["port"], int) and c["port"] > 0
        for k in ("start", "last_activity"):
            assert RFC3339.match(c[k])
        assert UPTIME.match(c["uptime"]) and UPTIME.match(c["idle"]) and DURATION.match(c["rtt"]), c
    a, b, p = conns["alpha"], conns["beta"], conns["pub"]
    assert (a["lang"], a["version"]) == ("python", "1.2.3") and "lang" not in b
    assert (a["subscriptions"], a["in_msgs"], a["out_msgs"], a["out_bytes"]) == (2, 0, 2, 7)
    assert (b["subscriptions"], b["out_msgs"], b["out_bytes"]) == (1, 1, 5)
    assert (p["subscriptions"], p["in_msgs"], p["in_bytes"], p["out_msgs"]) == (0, 2, 7, 0)
    assert a["cid"] < b["cid"] < p["cid"]


def test_connz_subs_list_and_detail(make_server):
    s = start(make_server)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    conns = by_name(get_json(s.mport, "/connz?subs=1"))
    assert sorted(conns["alpha"]["subscriptions_list"]) == ["bar.*", "foo"]
    assert conns["beta"]["subscriptions_list"] == ["foo"]
    assert "subscriptions_list" not in conns["pub"]  # none: left out
    assert list(conns["alpha"]) == conn_keys(conns["alpha"])
    det = by_name(get_json(s.mport, "/connz?subs=detail"))
    a = sorted(det["alpha"]["subscriptions_list_detail"], key=lambda d: d["sid"])
    cid = det["alpha"]["cid"]
    assert a == [{"subject": "foo", "sid": "1", "msgs": 1, "cid": cid},
                 {"subject": "bar.*", "qgroup": "q1", "sid": "2", "msgs": 1, "cid": cid}]
    assert [list(d) for d in a] == [["subject", "sid", "msgs", "cid"], ["subject", "qgroup", "sid", "msgs", "cid"]]
    assert det["beta"]["subscriptions_list_detail"] == [
        {"subject": "foo", "sid": "7", "msgs": 1, "max": 5, "cid": det["beta"]["cid"]}]
    assert "subscriptions_list" not in det["alpha"]
    # subs=false and subs=0 are "no list"
    for q in ("subs=0", "subs=false"):
        assert "subscriptions_list" not in by_name(get_json(s.mport, "/connz?" + q))["alpha"]


def test_connz_closed_with_reason(make_server):
    s = start(make_server)
    sc = Scenario(s)  # noqa: F841
    cz = get_json(s.mport, "/connz?state=closed")
    n = cz["total"]  # gamma, and maybe the harness's port probe
    assert cz["num_connections"] == n and n >= 1
    g = by_name(cz)["gamma"]
    assert list(g) == conn_keys(g, closed=True)
    assert g["reason"] == "Client Closed"
    assert RFC3339.match(g["stop"]) and ts(g["start"]) <= ts(g["stop"])
    for c in cz["connections"]:
        assert list(c) == conn_keys(c, closed=True) and c["reason"]
    assert get_json(s.mport, "/connz?state=CLOSED")["total"] == n  # any case
    for st in ("all", "any"):
        cz = get_json(s.mport, "/connz?state=" + st)
        assert (cz["num_connections"], cz["total"]) == (3 + n, 3 + n)
        named = [c for c in cz["connections"] if c.get("name")]
        assert [c["name"] for c in named] == ["alpha", "beta", "pub", "gamma"]
        assert ["stop" in c for c in named] == [False, False, False, True]
    assert get_json(s.mport, "/connz?state=open")["total"] == 3


def test_closed_connection_keeps_its_subscriptions(make_server):
    s = start(make_server)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    g = by_name(get_json(s.mport, "/connz?state=closed&subs=1"))["gamma"]
    assert (g["subscriptions"], g.get("subscriptions_list")) == (1, ["zzz"])


def test_connz_cid(make_server):
    s = start(make_server)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    conns = by_name(get_json(s.mport, "/connz"))
    cid = conns["beta"]["cid"]
    cz = get_json(s.mport, "/connz?cid=%d" % cid)
    assert (cz["num_connections"], cz["total"], cz["limit"]) == (1, 3, 1)
    assert cz["connections"][0]["name"] == "beta"
    gcid = by_name(get_json(s.mport, "/connz?state=closed"))["gamma"]["cid"]
    # 2.9.10: with state closed or all, a cid is looked for among the closed ones only
    assert [c["name"] for c in get_json(s.mport, "/connz?state=all&cid=%d" % gcid)["connections"]] == ["gamma"]
    assert get_json(s.mport, "/connz?state=all&cid=%d" % cid)["connections"] == []
    cz = get_json(s.mport, "/connz?cid=%d" % gcid)
    assert (cz["num_connections"], cz["connections"]) == (0, [])


SORTS = {  # option -> (key of the order, descending?)
    "cid": (lambda c: c["cid"], False),
    "start": (lambda c: c["cid"], False),
    "subs": (lambda c: c["subscriptions"], True),
    "pending": (lambda c: c["pending_bytes"], True),
    "msgs_to": (lambda c: c["out_msgs"], True),
    "msgs_from": (lambda c: c["in_msgs"], True),
    "bytes_to": (lambda c: c["out_bytes"], True),
    "bytes_from": (lambda c: c["in_bytes"], True),
    "last": (lambda c: ts(c["last_activity"]), True),
    "uptime": (lambda c: ts(c["start"]), True),  # ascending uptime: the youngest first
}


def sort_scenario(s):
    """Five clients whose counters all differ: client i has i subscriptions,
    publishes i messages of i bytes and receives 5-i messages."""
    cs = []
    for i in range(1, 6):
        c = named_client(s, "c%d" % i)
        c.send("".join("SUB s%d.%d %d\r\n" % (i, k, k) for k in range(i)))
        c.expect_nothing()
        cs.append(c)
    for i, c in enumerate(cs, 1):
        for k in range(5 - i):
            cs[0].send("PUB s%d.0 1\r\nx\r\n" % i)
        cs[0].flush()
    for i, c in enumerate(cs, 1):
        if i > 1:
            c.send(("PUB nowhere %d\r\n" % i + "y" * i + "\r\n") * i)
        c.flush()
    return cs


@pytest.mark.parametrize("opt", sorted(SORTS))
def test_connz_sort(make_server, opt):
    s = start(make_server)
    cs = sort_scenario(s)  # noqa: F841
    cz = get_json(s.mport, "/connz?sort=" + opt)
    assert cz["num_connections"] == 5
    key, desc = SORTS[opt]
    got = [key(c) for c in cz["connections"]]
    assert got == sorted(got, reverse=desc), (opt, got)


def test_connz_sort_idle_is_last_minus_start(make_server):
    """2.9.10's byIdle compares last_activity - start, descending."""
    s = start(make_server)
    cs = sort_scenario(s)  # noqa: F841
    cz = get_json(s.mport, "/connz?sort=idle")
    assert cz["num_connections"] == 5
    got = [ts(c["last_activity"]) - ts(c["start"]) for c in cz["connections"]]
    assert got == sorted(got, reverse=True)


def test_connz_sort_closed_only_options(make_server):
    s = start(make_server)
    cs = sort_scenario(s)
    for c in cs[:3]:
        c.close()
    wait_for(lambda: {"c1", "c2", "c3"} <= set(by_name(get_json(s.mport, "/connz?state=closed"))))
    cz = get_json(s.mport, "/connz?state=closed&sort=stop")
    stops = [ts(c["stop"]) for c in cz["connections"]]
    assert len(stops) >= 3 and stops == sorted(stops, reverse=True)
    cz = get_json(s.mport, "/connz?state=closed&sort=reason")
    reasons = [c["reason"] for c in cz["connections"]]
    assert reasons == sorted(reasons) and reasons.count("Client Closed") >= 3


@pytest.mark.parametrize("query,text", [
    ("sort=bogus", "invalid sorting option: bogus"),
    ("sort=rtt", "invalid sorting option: rtt"),  # 2.9.10 has no rtt sort yet
    ("sort=CID", "invalid sorting option: CID"),
    ("sort=stop", "sort by stop only valid on closed connections"),
    ("sort=stop&state=all", "sort by stop only valid on closed connections"),
    ("sort=reason", "sort by reason only valid on closed connections"),
    ("state=bogus", "Error decoding state for bogus"),
    ("subs=bogus", "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"bogus\": invalid syntax"),
    ("auth=yes", "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"yes\": invalid syntax"),
    ("offset=x", "Error decoding int for 'offset': strconv.Atoi: parsing \"x\": invalid syntax"),
    ("limit=1.5", "Error decoding int for 'limit': strconv.Atoi: parsing \"1.5\": invalid syntax"),
    ("limit=99999999999999999999",
     "Error decoding int for 'limit': strconv.Atoi: parsing \"99999999999999999999\": value out of range"),
    ("cid=-1", "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"),
    ("cid=%22q%22", "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"\\\"q\\\"\": invalid syntax"),
])
def test_connz_bad_parameters(make_server, query, text):
    s = start(make_server)
    r = http(s.mport, "/connz?" + query)
    assert (r.status, r.reason, r.body.decode()) == (400, "Bad Request", text)
    assert r.names() == ["Date", "Content-Length", "Content-Type"]
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.header("Content-Length") == str(len(text))


def test_connz_limit_offset(make_server):
    s = start(make_server)
    cs = sort_scenario(s)  # noqa: F841
    cids = [c["cid"] for c in get_json(s.mport, "/connz")["connections"]]
    cz = get_json(s.mport, "/connz?limit=2&offset=1")
    assert (cz["num_connections"], cz["total"], cz["offset"], cz["limit"]) == (2, 5, 1, 2)
    assert [c["cid"] for c in cz["connections"]] == cids[1:3]
    cz = get_json(s.mport, "/connz?limit=2&offset=4")
    assert [c["cid"] for c in cz["connections"]] == cids[4:]
    cz = get_json(s.mport, "/connz?offset=9")
    assert (cz["num_connections"], cz["connections"], cz["offset"]) == (0, [], 9)
    cz = get_json(s.mport, "/connz?offset=-3&limit=-1")  # negatives: the defaults
    assert (cz["offset"], cz["limit"], cz["num_connections"]) == (0, 1024, 5)
    cz = get_json(s.mport, "/connz?sort=subs&limit=1")
    assert [c["name"] for c in cz["connections"]] == ["c5"]


def test_connz_account_and_user_filters(make_server):
    s = start(make_server)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    assert get_json(s.mport, "/connz?acc=%24G")["num_connections"] == 3
    cz = get_json(s.mport, "/connz?acc=nope")  # lookupAccount fails: no id, no list
    assert list(cz) == CONNZ_KEYS
    assert (cz["server_id"], cz["connections"], cz["total"], cz["num_connections"]) == ("", None, 0, 0)
    cz = get_json(s.mport, "/connz?user=nobody")
    assert (cz["num_connections"], cz["total"], cz["connections"]) == (0, 3, [])


def test_connz_auth_user(make_server):
    s = start(make_server, conf="authorization { users: [ {user: alice, password: pw}, {user: bob, password: pw} ] }\n")
    a = named_client(s, "a", user="alice", **{"pass": "pw"})  # noqa: F841
    b = named_client(s, "b", user="bob", **{"pass": "pw"})  # noqa: F841
    conns = by_name(get_json(s.mport, "/connz?auth=1"))
    assert (conns["a"]["authorized_user"], conns["b"]["authorized_user"]) == ("alice", "bob")
    assert list(conns["a"]) == conn_keys(conns["a"])
    assert "authorized_user" not in by_name(get_json(s.mport, "/connz"))["a"]
    cz = get_json(s.mport, "/connz?auth=1&user=bob")
    assert [c["name"] for c in cz["connections"]] == ["b"] and cz["total"] == 2


# ---- /subsz --------------------------------------------------------------------------

def test_subsz_stats_only(make_server):
    s = start(make_server)
    base = get_json(s.mport, "/subsz")
    assert list(base) == STATS_KEYS
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    st = get_json(s.mport, "/subsz")
    assert list(st) == STATS_KEYS
    assert st["num_subscriptions"] - base["num_subscriptions"] == 3
    assert st["num_inserts"] - base["num_inserts"] == 4 and st["num_removes"] - base["num_removes"] == 1
    assert all(isinstance(st[k], (int, float)) for k in STATS_KEYS)
    assert get_json(s.mport, "/subscriptionsz") .keys() == st.keys()
    assert get_json(s.mport, "/subsz?subs=1&test=nomatch") .keys() == st.keys()  # empty page: stats alone


def test_subsz_list_and_test_subject(make_server):
    s = start(make_server)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    cz = by_name(get_json(s.mport, "/connz"))
    a, b = cz["alpha"]["cid"], cz["beta"]["cid"]
    sz = get_json(s.mport, "/subsz?subs=1")
    assert list(sz) == SUBSZ_KEYS
    mine = sorted((d for d in sz["subscriptions_list"] if d["cid"] in (a, b)), key=lambda d: (d["cid"], d["sid"]))
    assert mine == [{"account": "$G", "subject": "foo", "sid": "1", "msgs": 1, "cid": a},
                    {"account": "$G", "subject": "bar.*", "qgroup": "q1", "sid": "2", "msgs": 1, "cid": a},
                    {"account": "$G", "subject": "foo", "sid": "7", "msgs": 1, "max": 5, "cid": b}]
    sz = get_json(s.mport, "/subsz?subs=1&test=foo")
    assert (sz["total"], sz["offset"], sz["limit"]) == (2, 0, 1024)
    assert sorted((d["cid"], d["sid"]) for d in sz["subscriptions_list"]) == [(a, "1"), (b, "7")]
    sz = get_json(s.mport, "/subsz?subs=1&test=bar.baz")
    assert [d["sid"] for d in sz["subscriptions_list"]] == ["2"]
    sz = get_json(s.mport, "/subsz?subs=1&test=foo&limit=1&offset=1")
    assert (sz["total"], sz["offset"], sz["limit"], len(sz["subscriptions_list"])) == (1, 1, 1, 1)


@pytest.mark.parametrize("query,text", [
    ("test=foo.*", "invalid test subject, must be valid publish subject: foo.*"),
    ("test=foo..bar", "invalid test subject, must be valid publish subject: foo..bar"),
    ("test=%3E", "invalid test subject, must be valid publish subject: >"),
    ("subs=x", "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"x\": invalid syntax"),
    ("offset=1e3", "Error decoding int for 'offset': strconv.Atoi: parsing \"1e3\": invalid syntax"),
])
def test_subsz_bad_parameters(make_server, query, text):
    s = start(make_server)
    r = http(s.mport, "/subsz?" + query)
    assert (r.status, r.body.decode()) == (400, text)


def test_subsz_other_account_is_empty(make_server):
    s = start(make_server)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    assert get_json(s.mport, "/subsz?acc=nope") == dict.fromkeys(STATS_KEYS, 0)


# ---- the other endpoints --------------------------------------------------------------

def test_healthz(make_server):
    s = start(make_server)
    r = http(s.mport, "/healthz")
    assert (r.status, r.body) == (200, b'{"status":"ok"}')
    assert r.names() == ["Content-Type", "Date", "Content-Length"]
    assert (r.header("Content-Type"), r.header("Content-Length")) == ("application/json", "15")
    for q in ("js-enabled-only=true", "js-server-only=1", "js-enabled=false"):
        assert http(s.mport, "/healthz?" + q).body == b'{"status":"ok"}'
    r = http(s.mport, "/healthz?js-enabled-only=maybe")
    assert r.status == 400 and r.body == (b"Error decoding boolean for 'js-enabled-only': strconv.ParseBool: "
                                          b"parsing \"maybe\": invalid syntax")


def test_routez_gatewayz_leafz_when_none(make_server):
    s = start(make_server)
    sid = varz(s)["server_id"]
    r = get_json(s.mport, "/routez")
    assert list(r) == ["server_id", "now", "num_routes", "routes"]
    assert (r["server_id"], r["num_routes"], r["routes"]) == (sid, 0, [])
    assert get_json(s.mport, "/routez?subs=detail")["routes"] == []
    g = get_json(s.mport, "/gatewayz?accs=1")
    assert list(g) == ["server_id", "now", "outbound_gateways", "inbound_gateways"]
    assert (g["outbound_gateways"], g["inbound_gateways"]) == ({}, {})
    lz = get_json(s.mport, "/leafz?subs=true")
    assert list(lz) == ["server_id", "now", "leafnodes", "leafs"]
    assert (lz["leafnodes"], lz["leafs"]) == (0, None)
    for p, text in [("/routez?subs=maybe", "Error decoding boolean for 'subs'"),
                    ("/gatewayz?accs=2", "Error decoding boolean for 'accs'"),
                    ("/leafz?subs=detail", "Error decoding boolean for 'subs'")]:
        r = http(s.mport, p)
        assert r.status == 400 and r.body.decode().startswith(text), (p, r)


def test_jsz_disabled(make_server):
    s = start(make_server)
    j = get_json(s.mport, "/jsz")
    assert list(j) == ["server_id", "now", "disabled", "config", "memory", "storage", "reserved_memory",
                       "reserved_storage", "accounts", "ha_assets", "api", "streams", "consumers", "messages",
                       "bytes"]
    assert j["disabled"] is True and j["config"] == {"max_memory": 0, "max_storage": 0}
    assert j["api"] == {"total": 0, "errors": 0}
    assert all(j[k] == 0 for k in ("memory", "storage", "reserved_memory", "reserved_storage", "accounts",
                                   "ha_assets", "streams", "consumers", "messages", "bytes"))
    assert get_json(s.mport, "/jsz?accounts=true&streams=1&consumers=1&config=1&offset=1&limit=2") .keys() == j.keys()
    r = http(s.mport, "/jsz?leader-only=true")
    assert (r.status, r.body) == (400, b"filtered response: not leader")


def test_accountz(make_server):
    s = start(make_server)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    a = get_json(s.mport, "/accountz")
    assert keys(a) == ["server_id", "now", "system_account", "accounts"]
    assert a["system_account"] == "$SYS" and sorted(a["accounts"]) == ["$G", "$SYS"]
    d = get_json(s.mport, "/accountz?acc=%24G")
    assert keys(d) == ["server_id", "now", "system_account", "account_detail"]
    det = d["account_detail"]
    want = ["account_name", "update_time", "expired", "complete", "jetstream_enabled", "leafnode_connections",
            "client_connections", "subscriptions", "imports", "sublist_stats"]
    assert list(det) == want
    # the services every account imports from the system account (nats-server: in map order)
    assert sorted((i["subject"], i["account"], i["to"], i["type"]) for i in det["imports"]) == [
        ("$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS", "$SYS.REQ.ACCOUNT.$G.CONNZ", "service"),
        ("$SYS.REQ.ACCOUNT.PING.STATZ", "$SYS", "$SYS.REQ.ACCOUNT.$G.STATZ", "service"),
        ("$SYS.REQ.SERVER.PING.CONNZ", "$SYS", "$SYS.REQ.ACCOUNT.$G.CONNZ", "service")]
    sysd = get_json(s.mport, "/accountz?acc=%24SYS")["account_detail"]
    assert sysd["is_system"] is True and "imports" not in sysd
    assert sorted((e["subject"], e["type"], e["response_type"]) for e in sysd["exports"]) == [
        ("$SYS.DEBUG.SUBSCRIBERS", "service", "Singleton"), ("$SYS.REQ.ACCOUNT.*.CONNZ", "service", "Streamed"),
        ("$SYS.REQ.ACCOUNT.*.STATZ", "service", "Streamed")]
    assert (det["account_name"], det["expired"], det["complete"], det["jetstream_enabled"]) == ("$G", False, True,
                                                                                               False)
    assert (det["leafnode_connections"], det["client_connections"]) == (0, 3)
    assert list(det["sublist_stats"]) == STATS_KEYS and RFC3339.match(det["update_time"])
    r = http(s.mport, "/accountz?acc=nope")
    assert (r.status, r.body) == (400, b"Account nope does not exist")


def test_accstatz(make_server):
    s = start(make_server)
    a = get_json(s.mport, "/accstatz")
    assert list(a) == ["server_id", "now", "account_statz"] and isinstance(a["account_statz"], list)
    sc = Scenario(s)  # noqa: F841 (its clients must stay connected)
    a = get_json(s.mport, "/accstatz")
    (g,) = a["account_statz"]
    assert list(g) == ["acc", "conns", "leafnodes", "total_conns", "sent", "received", "slow_consumers"]
    assert (g["acc"], g["conns"], g["leafnodes"], g["total_conns"], g["slow_consumers"]) == ("$G", 3, 0, 3, 0)
    assert g["sent"] == {"msgs": 3, "bytes": 12} and g["received"] == {"msgs": 2, "bytes": 7}
    assert "$G" in [x["acc"] for x in get_json(s.mport, "/accstatz?unused=1")["account_statz"]]
    assert http(s.mport, "/accstatz?unused=x").status == 400


def test_ipqueuesz_and_stacksz(make_server):
    s = start(make_server)
    r = http(s.mport, "/stacksz")
    assert r.status == 200 and r.header("Content-Type") == "application/json" and r.body
    r = http(s.mport, "/ipqueuesz")
    assert r.status == 200 and r.header("Content-Type") == "application/json" and isinstance(r.json(), dict)


def test_root_page(make_server):
    s = start(make_server)
    r = http(s.mport, "/")
    assert r.status == 200
    assert r.names() == ["Date", "Content-Type", "Transfer-Encoding"]
    assert (r.header("Content-Type"), r.chunked) == ("text/html; charset=utf-8", True)
    html = r.body.decode()
    assert html.startswith('<html lang="en">') and html.endswith("</html>")
    links = re.findall(r"<a href=\.(/\w+)", html)
    assert links == ["/varz", "/jsz", "/connz", "/accountz", "/accstatz", "/subsz", "/routez", "/leafz", "/gatewayz",
                     "/healthz"]


# ---- slow consumers ------------------------------------------------------------------

SLOW_CONF = """
max_pending: 100KB
max_payload: 64KB
write_deadline: "1s"
"""


def test_slow_consumer_counted_and_closed(make_server):
    s = start(make_server, conf=SLOW_CONF)
    slow = named_client(s, "slow", conn={"rcvbuf": 4096})
    slow.send(b"SUB data 1\r\n")
    slow.expect_nothing()
    pub = named_client(s, "pub")
    payload = b"x" * 60000
    for _ in range(200):  # 12 MB for a reader that never reads
        pub.send(b"PUB data 60000\r\n" + payload + b"\r\n")
        if varz(s)["slow_consumers"]:
            break
    # nats-server 2.9.10 may count the same consumer twice: at max_pending,
    # then again when the stuck write passes write_deadline
    wait_for(lambda: varz(s)["slow_consumers"] >= 1)
    c = wait_for(lambda: by_name(get_json(s.mport, "/connz?state=closed")).get("slow"))
    assert c["reason"] == "Slow Consumer (Pending Bytes)"
    assert get_json(s.mport, "/accstatz")["account_statz"][0]["slow_consumers"] >= 1


def test_connz_many_clients(make_server):
    """Snapshots from every shard, merged: all there, in cid order, paged."""
    s = start(make_server)
    cs = [named_client(s, "m%03d" % i) for i in range(150)]
    for i, c in enumerate(cs):
        c.send("SUB many.%d 1\r\n" % i)
    for c in cs:
        c.expect_nothing()
    cz = get_json(s.mport, "/connz?subs=1")
    assert (cz["num_connections"], cz["total"]) == (150, 150)
    cids = [c["cid"] for c in cz["connections"]]
    assert cids == sorted(cids) and len(set(cids)) == 150
    assert sorted(c["name"] for c in cz["connections"]) == ["m%03d" % i for i in range(150)]
    assert all(c["subscriptions_list"] == ["many.%d" % int(c["name"][1:])] for c in cz["connections"])
    page = get_json(s.mport, "/connz?limit=50&offset=100")
    assert [c["cid"] for c in page["connections"]] == cids[100:150]
    sz = get_json(s.mport, "/subsz?subs=1&test=many.77")
    assert [d["subject"] for d in sz["subscriptions_list"]] == ["many.77"]
