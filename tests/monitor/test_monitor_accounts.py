"""Monitoring of accounts (nats-compat.md 8, 6.3): /accountz with the
exports and imports of each account, /accstatz with each account's own
figures, and gannet's per-account Prometheus series.

As nats-server 2.9.10 shows them:
- /accountz?acc=X: "exports" (configured ones; for the system account also
  the three services the server exports: $SYS.REQ.ACCOUNT.*.CONNZ and
  .STATZ "Streamed", $SYS.DEBUG.SUBSCRIBERS "Singleton"), each
  {"subject","type"} plus "response_type" for services and
  "approved_accounts" for private exports; "imports": streams
  {"subject" (the exporter's), "account", "local_subject" (with the prefix
  or `to` applied), "type":"stream", "invalid","share","tracking"} and
  services {"subject" (local), "account", "to" (the exporter's subject),
  "type":"service", ...}, then the three system imports every account but
  the system account has. nats-server lists both from Go maps, so in no
  fixed order: compared as sets.
- /accstatz: one entry per account with connections (all accounts with
  ?unused=1): "received" counts what the account's clients published,
  "sent" what was delivered to them, plus every delivery of a stream the
  account exports to an importer's subscribers (nats-server keeps the
  importers' shadow subscriptions in the exporter's index, so it counts
  those deliveries there too): A's 4 messages, 3 of them also taken by B,
  make A's "sent" 4 + 3. B's "sent" is 3 with gannet (what its clients
  got); nats-server 2.9.10 shows 0 or 3 from one run to the next (the
  delivery was counted in A's index already), so for it either is taken.
"""
import pytest

from monhelp import get_json, http, start, wait_for
from proto import client, connect_line
from servers import GANNET_BIN

GANNET_ONLY = pytest.mark.parametrize("server_bin", [GANNET_BIN], ids=["gannet"])

CONF = """
accounts {
  A: { users: [{user: a, password: a}],
       exports: [{stream: "ev.>"}, {service: "svc.x", response_type: stream}, {service: "priv", accounts: [B]},
                 {stream: "ps.>", accounts: [B]}] }
  B: { users: [{user: b, password: b}],
       imports: [{stream: {account: A, subject: "ev.>"}, prefix: "pa"},
                 {service: {account: A, subject: "svc.x"}, to: "loc.x"},
                 {service: {account: A, subject: "priv"}},
                 {stream: {account: A, subject: "ps.>"}, to: "ps2.>"}] }
  C: { users: [{user: c, password: c}] }
}
"""


def login(s, user):
    return client(s, connect=connect_line({"verbose": False, "pedantic": False, "user": user, "pass": user}))


def sysimports(acc):
    return {("$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS", "$SYS.REQ.ACCOUNT.%s.CONNZ" % acc),
            ("$SYS.REQ.SERVER.PING.CONNZ", "$SYS", "$SYS.REQ.ACCOUNT.%s.CONNZ" % acc),
            ("$SYS.REQ.ACCOUNT.PING.STATZ", "$SYS", "$SYS.REQ.ACCOUNT.%s.STATZ" % acc)}


def test_accountz_exports_and_imports(make_server):
    s = start(make_server, conf=CONF)
    z = get_json(s.mport, "/accountz")
    assert z["system_account"] == "$SYS" and sorted(z["accounts"]) == ["$G", "$SYS", "A", "B", "C"]
    a = get_json(s.mport, "/accountz?acc=A")["account_detail"]
    assert list(a)[list(a).index("subscriptions") + 1:] == ["exports", "imports", "sublist_stats"]
    assert sorted(tuple(sorted(e.items(), key=lambda kv: kv[0])) for e in a["exports"]) == sorted([
        (("response_type", "Streamed"), ("subject", "svc.x"), ("type", "service")),
        (("approved_accounts", ["B"]), ("response_type", "Singleton"), ("subject", "priv"), ("type", "service")),
        (("approved_accounts", ["B"]), ("subject", "ps.>"), ("type", "stream")),
        (("subject", "ev.>"), ("type", "stream"))])
    for e in a["exports"]:  # the key order of ExtExport
        assert list(e) == [k for k in ("subject", "type", "response_type", "approved_accounts") if k in e]
    assert {(i["subject"], i["account"], i["to"]) for i in a["imports"]} == sysimports("A")

    b = get_json(s.mport, "/accountz?acc=B")["account_detail"]
    assert "exports" not in b
    streams = [i for i in b["imports"] if i["type"] == "stream"]
    services = [i for i in b["imports"] if i["type"] == "service"]
    for i in streams:
        assert list(i) == ["subject", "account", "local_subject", "type", "invalid", "share", "tracking"]
    for i in services:
        assert list(i) == ["subject", "account", "to", "type", "invalid", "share", "tracking"]
        assert (i["invalid"], i["share"], i["tracking"]) == (False, False, False)
    assert {(i["subject"], i["account"], i["local_subject"]) for i in streams} == {
        ("ev.>", "A", "pa.ev.>"), ("ps.>", "A", "ps2.>")}
    assert {(i["subject"], i["account"], i["to"]) for i in services} == {
        ("loc.x", "A", "svc.x"), ("priv", "A", "priv")} | sysimports("B")

    sysd = get_json(s.mport, "/accountz?acc=%24SYS")["account_detail"]
    assert sysd["is_system"] is True and "imports" not in sysd
    assert {(e["subject"], e["response_type"]) for e in sysd["exports"]} == {
        ("$SYS.REQ.ACCOUNT.*.CONNZ", "Streamed"), ("$SYS.REQ.ACCOUNT.*.STATZ", "Streamed"),
        ("$SYS.DEBUG.SUBSCRIBERS", "Singleton")}


NO_SYS = """
no_system_account: true
accounts { A: { users: [{user: a, password: a}] } }
"""


def test_accountz_without_system_account(make_server):
    s = start(make_server, conf=NO_SYS)
    z = get_json(s.mport, "/accountz")
    assert "system_account" not in z and sorted(z["accounts"]) == ["$G", "A"]
    assert "system_account" not in get_json(s.mport, "/varz")
    a = get_json(s.mport, "/accountz?acc=A")["account_detail"]
    assert "imports" not in a and "exports" not in a


def statz(s, unused=False):
    return {e["acc"]: e for e in get_json(s.mport, "/accstatz" + ("?unused=1" if unused else ""))["account_statz"]}


def traffic(s):
    """A publishes 3 on ev.1 (5 bytes each) and 1 on other (2 bytes); B gets
    the three through its stream import (and one A subscriber gets all four)."""
    asub, bsub, apub = login(s, "a"), login(s, "b"), login(s, "a")
    asub.send(b"SUB > 1\r\nPING\r\n")
    asub.expect(b"PONG\r\n")
    bsub.send(b"SUB pa.ev.* 1\r\nPING\r\n")
    bsub.expect(b"PONG\r\n")
    apub.send(b"PUB ev.1 5\r\nhello\r\n" * 3 + b"PUB other 2\r\nhi\r\nPING\r\n")
    apub.expect(b"PONG\r\n")
    for _ in range(3):
        f = bsub.frame()
        assert (f.op, f.subject, f.payload) == ("MSG", "pa.ev.1", b"hello"), f
    assert sorted(asub.frame().subject for _ in range(4)) == ["ev.1"] * 3 + ["other"]
    return asub, bsub, apub


def settled(st):
    return (st.get("A", {}).get("received", {}).get("msgs"), st.get("A", {}).get("sent", {}).get("msgs"),
            st.get("B", {}).get("conns")) == (4, 7, 1)


def test_accstatz_per_account(make_server):
    s = start(make_server, conf=CONF)
    assert statz(s) == {}
    assert set(statz(s, unused=True)) == {"$G", "$SYS", "A", "B", "C"}
    keep = traffic(s)  # noqa: F841 (the clients stay connected)
    # nats-server adds up some of its counters after the write or read that made them
    wait_for(lambda: settled(statz(s)))
    st = statz(s)
    assert set(st) == {"A", "B"}
    a, b = st["A"], st["B"]
    assert list(a) == ["acc", "conns", "leafnodes", "total_conns", "sent", "received", "slow_consumers"]
    assert (a["conns"], a["total_conns"], a["leafnodes"], a["slow_consumers"]) == (2, 2, 0, 0)
    assert a["received"] == {"msgs": 4, "bytes": 17} and a["sent"] == {"msgs": 7, "bytes": 32}
    assert (b["conns"], b["received"]) == (1, {"msgs": 0, "bytes": 0})
    assert b["sent"] in ([{"msgs": 0, "bytes": 0}] if s.kind == "nats-server" else []) + [{"msgs": 3, "bytes": 15}]
    assert statz(s, unused=True)["C"]["conns"] == 0


@GANNET_ONLY
def test_account_metrics_agree_with_accstatz(make_server):
    from exthelp import Metrics
    s = start(make_server, conf=CONF)
    keep = traffic(s)  # noqa: F841
    wait_for(lambda: settled(statz(s)))
    st = statz(s, unused=True)
    m = Metrics(http(s.mport, "/metrics").body)
    for acc, e in st.items():
        assert m.get("gannet_account_connections", account=acc) == e["conns"]
        assert m.get("gannet_account_messages_received_total", account=acc) == e["received"]["msgs"]
        assert m.get("gannet_account_bytes_received_total", account=acc) == e["received"]["bytes"]
        assert m.get("gannet_account_messages_sent_total", account=acc) == e["sent"]["msgs"]
        assert m.get("gannet_account_bytes_sent_total", account=acc) == e["sent"]["bytes"]
        assert m.get("gannet_account_slow_consumers_total", account=acc) == e["slow_consumers"]
    subs = {a: get_json(s.mport, "/accountz?acc=" + a.replace("$", "%24"))["account_detail"]["subscriptions"]
            for a in st}
    for acc, n in subs.items():
        assert m.get("gannet_account_subscriptions", account=acc) == n
    assert (subs["A"], subs["B"], subs["C"]) == (1, 1, 0)
    assert m.type["gannet_account_messages_sent_total"] == "counter"
    assert m.type["gannet_account_connections"] == "gauge"
