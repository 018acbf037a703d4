"""Reload (SIGHUP) with changed user permissions, seen from connected clients
(nats-compat.md 6.2, 7.4; docs/design.md §6, §18).

The contract checked here, as nats-server 2.9.10 behaves:
- A reload applies a user's new permissions to the connections already
  logged in as that user: a publish the new rules deny gets `-ERR
  'Permissions Violation for Publish to "<subject>"'`, one they allow goes
  through. That holds for users that had no permissions before, for users
  of an account, for nkey users, and for changed default_permissions.
- Each subscription of such a connection that the new rules do not allow is
  removed: the client gets `-ERR 'Permissions Violation for Subscription to
  "<subject>" (sid "<sid>")'` for it (queue subscriptions too, without the
  queue), stays connected, and receives nothing more on it. The server logs
  `[INF] Removed sub "<subject>" (sid "<sid>") for User "<name>" - not
  authorized` (`Nkey "<public key>"` for an nkey user). Several removals
  come in no particular order (nats-server walks a Go map).
- A queue subscription stays when its subject alone or its subject in its
  queue is allowed: a new "subject queue" deny entry does not remove an
  existing `SUB subject queue`, though it refuses a new one.
- A wildcard subscription that stays and holds a new deny entry no longer
  receives the denied subjects.
- Subscriptions the new rules allow, and connections of users whose rules
  did not change (or were removed), are untouched.
- /connz lists what is left. gannet's /varz `subscriptions` and /subsz
  `num_subscriptions` drop by what was removed; nats-server's also count
  its internal subscriptions, which its reload re-creates, so they are
  checked on gannet only.
"""
import json
import re
import signal
import time
import urllib.request

import pytest

from nkeys import KeyPair
from proto import Conn, client, connect_line, msg
from servers import free_port, wait_port

BASE = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}


def login(server, user, password="p"):
    return client(server, connect=connect_line(dict(BASE), user=user, password=password))


def nkey_login(server, kp):
    c = Conn(server.port)
    c.send(connect_line(dict(BASE, nkey=kp.public, sig=kp.sign(c.info["nonce"]))))
    assert c.flush() == []
    return c


def raws(c):
    return [f.raw for f in c.flush()]


def pub(subject, payload=b"x"):
    return b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload)


def removed(subject, sid):
    return ('-ERR \'Permissions Violation for Subscription to "%s" (sid "%s")\'\r\n' % (subject, sid)).encode()


def pub_denied(subject):
    return ('-ERR \'Permissions Violation for Publish to "%s"\'\r\n' % subject).encode()


def wait_log(server, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, "%r not in log:\n%s" % (text, server.log()[-3000:])
        time.sleep(0.05)


def reload(server, conf):
    """Rewrite the config, SIGHUP, wait for the reload to be done."""
    n = server.log().count("Reloaded server configuration")
    with open(server.conf_path, "w") as f:
        f.write(conf)
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while server.log().count("Reloaded server configuration") <= n:
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.05)


def subscribe(c, *subs):
    c.send(b"".join(b"SUB %s\r\n" % s.encode() for s in subs))
    assert raws(c) == []


V1 = """
authorization { users: [
  {user: u, password: p, permissions: {
     subscribe: { allow: ["a.>", "b.>", "c.*", "q.> grp"] }, publish: ["a.>", "b.>"] } }
  {user: w, password: p, permissions: { subscribe: { deny: ["secret.x"] } } }
  {user: o, password: p}
  {user: same, password: p, permissions: { subscribe: ["keep.>"] } }
  {user: root, password: p}
] }
"""
V2 = """
authorization { users: [
  {user: u, password: p, permissions: {
     subscribe: { allow: ["a.>", "c.x"] }, publish: ["a.>"] } }
  {user: w, password: p, permissions: { subscribe: { deny: ["secret.x", "secret.y"] } } }
  {user: o, password: p, permissions: { subscribe: { deny: ["o.>"] }, publish: { deny: "nopub" } } }
  {user: same, password: p, permissions: { subscribe: ["keep.>"] } }
  {user: root, password: p}
] }
"""


def test_reload_removes_subscriptions_no_longer_allowed(make_server):
    s = make_server(conf=V1)
    u, w, o, same = login(s, "u"), login(s, "w"), login(s, "o"), login(s, "same")
    subscribe(u, "a.x 1", "b.x 2", "b.* 3", "c.y 4", "c.x 5", "b.x grp 6", "q.x grp 7", "b.> 8")
    subscribe(w, "secret.* 1", "secret.y 2", "secret.z 3")
    subscribe(o, "o.a 1", "o.* 2", "p 3", "*.a 4")
    subscribe(same, "keep.x 1")
    reload(s, V2)

    assert sorted(raws(u)) == sorted([removed("b.x", 2), removed("b.*", 3), removed("c.y", 4),
                                      removed("b.x", 6), removed("q.x", 7), removed("b.>", 8)])
    assert raws(w) == [removed("secret.y", 2)]
    assert sorted(raws(o)) == sorted([removed("o.a", 1), removed("o.*", 2)])
    assert raws(same) == []
    for name, subj, sid in [("u", "b.x", 2), ("u", "b.>", 8), ("u", "q.x", 7), ("w", "secret.y", 2),
                            ("o", "o.*", 2)]:
        wait_log(s, '[INF] Removed sub "%s" (sid "%d") for User "%s" - not authorized' % (subj, sid, name))

    root = login(s, "root")
    root.send(b"".join(pub(x) for x in ["a.x", "b.x", "b.y", "c.y", "c.x", "q.x", "secret.y", "secret.z",
                                        "o.a", "p", "keep.x"]))
    root.flush()
    assert sorted(raws(u)) == sorted([msg("a.x", 1, b"x"), msg("c.x", 5, b"x")])
    # secret.* stays, but secret.y is now denied: filtered for it
    assert sorted(raws(w)) == sorted([msg("secret.z", 1, b"x"), msg("secret.z", 3, b"x")])
    # *.a stays and holds no deny entry (o.*, which did, is gone): no filter, o.a reaches it
    assert sorted(raws(o)) == sorted([msg("p", 3, b"x"), msg("o.a", 4, b"x")])
    assert raws(same) == [msg("keep.x", 1, b"x")]

    # the new publish rules apply to the same connections
    u.send(pub("b.x") + pub("a.y"))
    assert raws(u) == [pub_denied("b.x")]
    o.send(pub("nopub"))
    assert raws(o) == [pub_denied("nopub")]


def test_queue_subscription_kept_when_its_subject_is_allowed(make_server):
    """A new "d.x q2" deny entry leaves an existing `SUB d.x q2` in place
    (its subject alone is allowed) but refuses a new one; a plain deny entry
    removes queue subscriptions too; "q.> grp" keeps `SUB q.x grp`."""
    v1 = """
authorization { users: [
  {user: u, password: p, permissions: { subscribe: { allow: ["d.>", "q.> grp"] } } }
  {user: root, password: p} ] }
"""
    v2 = v1.replace('allow: ["d.>", "q.> grp"]', 'allow: ["d.>", "q.> grp"], deny: ["d.x q2", "d.y"]')
    s = make_server(conf=v1)
    u = login(s, "u")
    subscribe(u, "d.x q2 1", "d.* 2", "d.y q3 3", "q.x grp 4")
    reload(s, v2)
    assert raws(u) == [removed("d.y", 3)]
    u.send(b"SUB d.x q2 5\r\n")
    assert raws(u) == [b'-ERR \'Permissions Violation for Subscription to "d.x" using queue "q2"\'\r\n']
    root = login(s, "root")
    root.send(pub("d.x", b"1") + pub("d.y", b"2") + pub("d.z", b"3") + pub("q.x", b"4"))
    root.flush()
    assert sorted(raws(u)) == sorted([msg("d.x", 2, b"1"), msg("d.x", 1, b"1"), msg("d.z", 2, b"3"),
                                      msg("q.x", 4, b"4")])


def test_reload_with_new_default_permissions_and_account_users(make_server):
    """default_permissions and the permissions of a user of an account
    reload the same way; a user whose permissions are removed (one of an
    account: no defaults apply there) keeps all and may subscribe more."""
    v1 = """
authorization {
  default_permissions: { subscribe: ["dflt.>"] }
  users: [ {user: d, password: p} ]
}
accounts { A { users: [ {user: a, password: p, permissions: { subscribe: ["x.>", "y.>"] }},
                        {user: free, password: p, permissions: { subscribe: ["f.a"] }},
                        {user: ar, password: p} ] } }
"""
    v2 = v1.replace('["dflt.>"]', '["dflt.a"]').replace('["x.>", "y.>"]', '["x.>"]') \
           .replace(', permissions: { subscribe: ["f.a"] }', "")
    s = make_server(conf=v1)
    d, a, free = login(s, "d"), login(s, "a"), login(s, "free")
    subscribe(d, "dflt.a 1", "dflt.b 2")
    subscribe(a, "x.1 1", "y.1 2")
    subscribe(free, "f.a 1")
    free.send(b"SUB f.b 2\r\n")
    assert raws(free) == [b'-ERR \'Permissions Violation for Subscription to "f.b"\'\r\n']
    reload(s, v2)
    assert raws(d) == [removed("dflt.b", 2)]
    assert raws(a) == [removed("y.1", 2)]
    assert raws(free) == []
    subscribe(free, "f.b 2")
    ar = login(s, "ar")
    ar.send(pub("x.1") + pub("y.1"))
    ar.flush()
    assert raws(a) == [msg("x.1", 1, b"x")]


def test_reload_nkey_user_logged_by_key(make_server):
    kp = KeyPair()
    conf = '\nauthorization { users: [ {nkey: %s, permissions: { subscribe: %s }} ] }\n'
    s = make_server(conf=conf % (kp.public, '["n.>"]'))
    c = nkey_login(s, kp)
    subscribe(c, "n.a 1", "n.b 2")
    reload(s, conf % (kp.public, '["n.a"]'))
    assert raws(c) == [removed("n.b", 2)]
    wait_log(s, '[INF] Removed sub "n.b" (sid "2") for Nkey "%s" - not authorized' % kp.public)


SYS_SUBS = 5  # gannet's internal $SYS.REQ subscriptions, counted as nats-server counts its own


def test_removed_subscriptions_leave_the_counts(make_server):
    """/connz lists what is left of each connection's subscriptions; on
    gannet /varz and /subsz count exactly the clients' subscriptions plus
    the system account's 5 request subscriptions (core/events.c)."""
    mport = free_port()
    s = make_server(conf=V1, args=["-m", str(mport)])
    wait_port(mport, proc=s.proc)

    def get(path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (mport, path), timeout=5) as r:
            return json.load(r)

    u, w = login(s, "u"), login(s, "w")
    subscribe(u, "a.x 1", "b.x 2", "b.* 3", "c.y 4", "c.x 5")
    subscribe(w, "secret.* 1", "secret.y 2")
    before = {"varz": get("/varz")["subscriptions"], "subsz": get("/subsz")["num_subscriptions"]}
    reload(s, V2)
    assert len(raws(u)) == 3 and len(raws(w)) == 1

    def lists():
        return sorted(sorted(c.get("subscriptions_list", [])) for c in get("/connz?subs=1")["connections"])

    deadline = time.monotonic() + 5
    while lists() != [["a.x", "c.x"], ["secret.*"]]:
        assert time.monotonic() < deadline, lists()
        time.sleep(0.05)
    if s.kind == "gannet":
        assert before == {"varz": 7 + SYS_SUBS, "subsz": 7 + SYS_SUBS}
        while get("/subsz")["num_subscriptions"] != 3 + SYS_SUBS:
            assert time.monotonic() < deadline, get("/subsz")
            time.sleep(0.05)
        assert get("/varz")["subscriptions"] == 3 + SYS_SUBS
