"""Subject mappings (`mappings {}` at top level for the global account, and
per account), as nats-server 2.9.10 applies them to what a client
publishes: a literal or wildcard source, a destination with `$n` or
`{{wildcard(n)}}` references, weighted destinations (what the weights
leave to 100% keeps the subject). Both servers."""
import subprocess

import pytest

from proto import client, connect_line

BASE = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}


def msgs(c):
    return [f.raw for f in c.flush()]


def test_literal_mapping(make_server):
    s = make_server(conf='mappings { "foo": "bar" }\n')
    sub = client(s)
    sub.send(b"SUB foo 1\r\nSUB bar 2\r\n")
    sub.flush()
    pub = client(s)
    pub.send(b"PUB foo 2\r\nhi\r\nPUB other 1\r\nx\r\n")
    pub.flush()
    assert msgs(sub) == [b"MSG bar 2 2\r\nhi\r\n"]


@pytest.mark.parametrize("dest", ["orders.$1.new", "orders.{{wildcard(1)}}.new", "orders.{{ wildcard(1) }}.new"])
def test_wildcard_references(make_server, dest):
    s = make_server(conf='mappings { "orders.*": "%s" }\n' % dest)
    sub = client(s)
    sub.send(b"SUB orders.> 1\r\n")
    sub.flush()
    pub = client(s)
    pub.send(b"PUB orders.42 1\r\nx\r\n")
    pub.flush()
    assert msgs(sub) == [b"MSG orders.42.new 1 1\r\nx\r\n"]


def test_references_swap_tokens(make_server):
    s = make_server(conf='mappings { "a.*.*": "b.$2.$1" }\n')
    sub = client(s)
    sub.send(b"SUB b.> 1\r\n")
    sub.flush()
    pub = client(s)
    pub.send(b"PUB a.one.two 1\r\nx\r\n")
    pub.flush()
    assert msgs(sub) == [b"MSG b.two.one 1 1\r\nx\r\n"]


def test_reply_and_headers_kept(make_server):
    s = make_server(conf='mappings { "req": "svc.req" }\n')
    sub = client(s, connect=connect_line(BASE))
    sub.send(b"SUB svc.req 1\r\n")
    sub.flush()
    pub = client(s, connect=connect_line(BASE))
    pub.send(b"HPUB req _INBOX.r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    pub.flush()
    assert msgs(sub) == [b"HMSG svc.req 1 _INBOX.r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"]


def test_weighted_destinations_split_the_traffic(make_server):
    s = make_server(conf='mappings { "w": [ {destination: "w.a", weight: 50%}, {destination: "w.b", weight: 50%} ] }\n')
    sub = client(s)
    sub.send(b"SUB w.* 1\r\nSUB w 2\r\n")
    sub.flush()
    pub = client(s)
    pub.send(b"PUB w 1\r\nx\r\n" * 200)
    pub.flush()
    got = msgs(sub)
    a, b = got.count(b"MSG w.a 1 1\r\nx\r\n"), got.count(b"MSG w.b 1 1\r\nx\r\n")
    assert a + b == 200 and a > 0 and b > 0, (a, b)  # each side empty with probability 2^-200


def test_weights_below_100_keep_the_rest(make_server):
    s = make_server(conf='mappings { "p": [ {destination: "p.moved", weight: 60} ] }\n')
    sub = client(s)
    sub.send(b"SUB p 1\r\nSUB p.moved 2\r\n")
    sub.flush()
    pub = client(s)
    pub.send(b"PUB p 1\r\nx\r\n" * 200)
    pub.flush()
    got = msgs(sub)
    kept, moved = got.count(b"MSG p 1 1\r\nx\r\n"), got.count(b"MSG p.moved 2 1\r\nx\r\n")
    assert kept + moved == 200 and kept > 0 and moved > 0, (kept, moved)


def test_account_mapping_stays_in_its_account(make_server):
    conf = ("accounts {\n"
            "  A { users: [ {user: a, password: a} ], mappings: { \"in\": \"out\" } }\n"
            "  B { users: [ {user: b, password: b} ] }\n"
            "}\n")
    s = make_server(conf=conf)
    a = client(s, connect=connect_line(dict(BASE, user="a", **{"pass": "a"})))
    b = client(s, connect=connect_line(dict(BASE, user="b", **{"pass": "b"})))
    a.send(b"SUB out 1\r\nSUB in 2\r\n")
    b.send(b"SUB out 1\r\nSUB in 2\r\n")
    a.flush()
    b.flush()
    a.send(b"PUB in 1\r\nx\r\n")
    assert msgs(a) == [b"MSG out 1 1\r\nx\r\n"]
    b.send(b"PUB in 1\r\ny\r\n")
    assert msgs(b) == [b"MSG in 2 1\r\ny\r\n"]


@pytest.mark.parametrize("conf,error", [
    ('mappings { "a": [ {destination: "b", weight: 150} ] }\n', "Invalid weight 150 for mapping destination"),
    ('mappings { "a": [ {destination: "b"} ] }\n', 'Missing weight for mapping destination "b"'),
    ('mappings { "a..b": "c" }\n', 'Subject "a..b" is not a valid subject'),
], ids=["weight_over_100", "missing_weight", "bad_source"])
def test_bad_mapping_refused(server_bin, tmp_path, conf, error):
    path = tmp_path / "m.conf"
    path.write_text(conf)
    r = subprocess.run([server_bin, "-t", "-c", str(path)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and error in r.stderr, r.stderr
