"""Publish/subscribe delivery, wildcards, headers, echo
(nats-compat.md 1.4, 1.6, 1.9, 2, 11 "pub/sub", "headers", "echo")."""
from proto import client, connect_line, msg


def subscribe(server, *subs, connect=None):
    """A client with the given "subject [queue] sid" subscriptions in place."""
    c = client(server) if connect is None else client(server, connect=connect)
    c.send(b"".join(b"SUB " + s.encode() + b"\r\n" for s in subs))
    c.expect_nothing()
    return c


def publish(pub, data):
    pub.send(data)
    pub.expect_nothing()  # barrier: the publish has been routed


def received(sub, sort=False):
    raws = [f.raw for f in sub.flush()]
    return sorted(raws) if sort else raws


def test_basic_pub_sub(server):
    sub = subscribe(server, "foo 1")
    pub = client(server)
    publish(pub, b"PUB foo 5\r\nhello\r\n")
    assert received(sub) == [b"MSG foo 1 5\r\nhello\r\n"]


def test_reply_and_wildcard(server):
    sub = subscribe(server, "foo.* 2")
    pub = client(server)
    publish(pub, b"PUB foo.bar rep 2\r\nhi\r\n")
    assert received(sub) == [b"MSG foo.bar 2 rep 2\r\nhi\r\n"]


def test_empty_payload(server):
    sub = subscribe(server, "foo 1")
    pub = client(server)
    publish(pub, b"PUB foo 0\r\n\r\nPUB foo r 0\r\n\r\n")
    assert received(sub) == [b"MSG foo 1 0\r\n\r\n", b"MSG foo 1 r 0\r\n\r\n"]


def test_sid_is_any_token(server):
    sub = subscribe(server, "foo abc-DEF_9", "foo 0")
    pub = client(server)
    publish(pub, b"PUB foo 1\r\nx\r\n")
    assert received(sub, sort=True) == [b"MSG foo 0 1\r\nx\r\n", b"MSG foo abc-DEF_9 1\r\nx\r\n"]


def test_order_preserved_per_subscription(server):
    sub = subscribe(server, "foo 1")
    pub = client(server)
    publish(pub, b"".join(b"PUB foo 3\r\n%03d\r\n" % i for i in range(200)))
    assert received(sub) == [msg("foo", 1, b"%03d" % i) for i in range(200)]


def test_own_subscription_gets_own_publish(server):
    c = subscribe(server, "foo 1")
    c.send(b"PUB foo 2\r\nhi\r\n")
    assert received(c) == [b"MSG foo 1 2\r\nhi\r\n"]


def test_overlapping_wildcards(server):
    sub = subscribe(server, "foo.* 1", "foo.> 2", "> 3", "foo.bar 4")
    pub = client(server)
    publish(pub, b"PUB foo.bar 1\r\na\r\n")
    assert received(sub, sort=True) == [msg("foo.bar", sid, "a") for sid in (1, 2, 3, 4)]
    publish(pub, b"PUB foo 1\r\nb\r\n")          # foo.> does not match foo
    assert received(sub) == [b"MSG foo 3 1\r\nb\r\n"]
    publish(pub, b"PUB foo.bar.baz 1\r\nc\r\n")  # * is one token only
    assert received(sub, sort=True) == [msg("foo.bar.baz", 2, "c"), msg("foo.bar.baz", 3, "c")]
    publish(pub, b"PUB bar 1\r\nd\r\n")
    assert received(sub) == [b"MSG bar 3 1\r\nd\r\n"]


def test_overlapping_wildcards_across_connections(server):
    subs = [subscribe(server, s) for s in ("*.bar 1", "foo.* 1", "*.* 1", "foo.bar 1", "*.> 1", "foo.baz 1")]
    pub = client(server)
    publish(pub, b"PUB foo.bar 1\r\nx\r\n")
    assert [received(s) for s in subs] == [[msg("foo.bar", 1, "x")]] * 5 + [[]]


def test_wildcard_chars_inside_tokens_are_literal(server):
    sub = subscribe(server, "foo* 1", "* 2", "f>o 3")
    pub = client(server)
    publish(pub, b"PUB foo* 1\r\na\r\n")
    assert received(sub, sort=True) == [b"MSG foo* 1 1\r\na\r\n", b"MSG foo* 2 1\r\na\r\n"]
    publish(pub, b"PUB fooX 1\r\nb\r\n")
    assert received(sub) == [b"MSG fooX 2 1\r\nb\r\n"]
    publish(pub, b"PUB f>o 1\r\nc\r\n")
    assert received(sub, sort=True) == [b"MSG f>o 2 1\r\nc\r\n", b"MSG f>o 3 1\r\nc\r\n"]


def test_subjects_are_case_sensitive(server):
    sub = subscribe(server, "Foo.Bar 1")
    pub = client(server)
    publish(pub, b"PUB foo.bar 1\r\na\r\nPUB Foo.Bar 1\r\nb\r\nPUB FOO.BAR 1\r\nc\r\n")
    assert received(sub) == [b"MSG Foo.Bar 1 1\r\nb\r\n"]


def test_utf8_subject(server):
    subj = "caf\u00e9.\u65e5\u672c".encode()
    sub = subscribe(server, subj.decode() + " 1", "caf\u00e9.* 2")
    pub = client(server)
    publish(pub, b"PUB " + subj + b" 2\r\nhi\r\n")
    assert received(sub, sort=True) == sorted([b"MSG " + subj + b" 1 2\r\nhi\r\n", b"MSG " + subj + b" 2 2\r\nhi\r\n"])


# ---- headers ----------------------------------------------------------------------

def test_hpub_to_header_and_plain_subscribers(server):
    hsub = subscribe(server, "foo 1")
    plain = subscribe(server, "foo 1", connect=b'CONNECT {"verbose":false,"pedantic":false}\r\n')
    pub = client(server)
    publish(pub, b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    assert received(hsub) == [b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"]
    # Non-header subscribers get the payload only, size recomputed.
    assert received(plain) == [b"MSG foo 1 2\r\nhi\r\n"]


def test_hpub_with_reply_and_header_fields(server):
    hdr = b"NATS/1.0\r\nA: 1\r\nBee: two words\r\nA: again\r\n\r\n"
    hsub = subscribe(server, "foo.* 7")
    plain = subscribe(server, "foo.* 8", connect=connect_line(verbose=False, headers=False))
    pub = client(server)
    publish(pub, b"HPUB foo.x _INBOX.1 %d %d\r\n" % (len(hdr), len(hdr) + 5) + hdr + b"hello\r\n")
    assert received(hsub) == [b"HMSG foo.x 7 _INBOX.1 %d %d\r\n" % (len(hdr), len(hdr) + 5) + hdr + b"hello\r\n"]
    assert received(plain) == [b"MSG foo.x 8 _INBOX.1 5\r\nhello\r\n"]


def test_hpub_header_only_to_plain_subscriber(server):
    plain = subscribe(server, "foo 1", connect=b'CONNECT {"verbose":false}\r\n')
    pub = client(server)
    publish(pub, b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n")
    assert received(plain) == [b"MSG foo 1 0\r\n\r\n"]


def test_header_block_not_validated(server):
    """The server does not parse the header block: odd ones pass unchanged."""
    hsub = subscribe(server, "foo 1")
    pub = client(server)
    publish(pub, b"HPUB foo 2 5\r\nabcde\r\nHPUB foo 10 10\r\nNATS/1.0\r\n\r\n")
    assert received(hsub) == [
        b"HMSG foo 1 2 5\r\nabcde\r\n",
        b"HMSG foo 1 10 10\r\nNATS/1.0\r\n\r\n",
    ]


def test_hpub_with_empty_header_is_delivered_as_msg(server):
    """A zero-length header block means "no headers": even a header-capable
    subscriber gets a plain MSG with the payload."""
    hsub = subscribe(server, "foo 1")
    pub = client(server)
    publish(pub, b"HPUB foo 0 1\r\nx\r\nHPUB foo r 0 0\r\n\r\n")
    assert received(hsub) == [b"MSG foo 1 1\r\nx\r\n", b"MSG foo 1 r 0\r\n\r\n"]


def test_plain_pub_to_header_subscriber_is_msg(server):
    hsub = subscribe(server, "foo 1")
    pub = client(server, connect=b'CONNECT {"verbose":false}\r\n')
    publish(pub, b"PUB foo 2\r\nhi\r\n")
    assert received(hsub) == [b"MSG foo 1 2\r\nhi\r\n"]


# ---- echo --------------------------------------------------------------------------

def test_echo_false(server):
    noecho = subscribe(server, "foo 1", "foo q 2", connect=connect_line(verbose=False, echo=False))
    other = subscribe(server, "foo 5")
    noecho.send(b"PUB foo 2\r\nhi\r\n")
    assert received(noecho) == []
    assert received(other) == [b"MSG foo 5 2\r\nhi\r\n"]
    # Messages from other connections are still delivered to it.
    other.send(b"PUB foo 2\r\nho\r\n")
    other.expect_frame(b"MSG foo 5 2\r\nho\r\n")
    assert received(noecho, sort=True) == [b"MSG foo 1 2\r\nho\r\n", b"MSG foo 2 2\r\nho\r\n"]


def test_echo_true_is_default(server):
    c = subscribe(server, "foo 1", connect=connect_line(verbose=False, echo=True))
    c.send(b"PUB foo 1\r\na\r\n")
    assert received(c) == [b"MSG foo 1 1\r\na\r\n"]
