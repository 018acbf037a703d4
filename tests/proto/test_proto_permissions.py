"""User permissions: publish/subscribe allow and deny lists, queue-only
entries, delivery filtering, allow_responses, default_permissions, and users
inside accounts (nats-compat.md 6.2, 1.5, 1.8, 11 "perms").

The contract checked here, as nats-server 2.9.10 behaves:
- `publish` / `subscribe` take a string or a list (= allow list) or
  `{allow, deny}` (each a string or list). No allow list = everything
  allowed; deny beats allow; wildcards in the lists match as in subjects.
- A denied PUB/HPUB is dropped and answered with
  `-ERR 'Permissions Violation for Publish to "<subject>"'`; a denied SUB
  with `-ERR 'Permissions Violation for Subscription to "<subject>"'`, or
  `... "<subject>" using queue "<queue>"` for a queue SUB. The quoted parts
  are Go's %q of the subject or queue (`"` and `\\` escaped), written
  whole whatever their length. The connection stays open and usable. With
  verbose on, the -ERR replaces the +OK.
- A reply subject is not checked against the publish permissions.
- An entry "subject queue" permits or denies only queue subscriptions of
  that queue; a plain entry covers plain and queue subscriptions alike.
- A wildcard SUB that is allowed but wider than a (plain) subscribe deny
  entry does not receive messages on the denied subjects. What turns this
  filter on is such a SUB (a deny entry within its subject); once on, it
  drops denied subjects from all the connection's deliveries, also to
  wildcard SUBs that hold no deny entry (`*.a` gets `o.a` despite a deny
  `o.>` only until some `x.*` holding a deny `x.y` is subscribed).
- allow_responses lets a user publish to the reply subject of a message it
  received, `max` times (default 1) within `expires`; a reply subject it did
  not receive, or one used up or expired, is a publish violation. Without a
  publish entry, nothing else may be published.
- `authorization { default_permissions }` applies to the block's users that
  have no `permissions` of their own (an empty `permissions: {}` counts as
  own), not to account users; an account's own `default_permissions`
  applies to its users.
"""
import time

import pytest

from proto import client, connect_line

BASE = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}


def pub_err(subject):
    return 'Permissions Violation for Publish to "%s"' % subject


def sub_err(subject, queue=None):
    text = 'Permissions Violation for Subscription to "%s"' % subject
    return text + (' using queue "%s"' % queue if queue else "")


def login(server, user, **opts):
    """Client logged in as user; every user's password is "p"."""
    return client(server, connect=connect_line(dict(BASE, **opts), user=user, password="p"))


def raws(c):
    return [f.raw for f in c.flush()]


def pub(subject, payload=b"x", reply=None):
    r = b" " + reply.encode() if reply else b""
    return b"PUB %s%s %d\r\n%s\r\n" % (subject.encode(), r, len(payload), payload)


def msg(subject, sid, payload=b"x", reply=None):
    r = b" " + reply.encode() if reply else b""
    return b"MSG %s %s%s %d\r\n%s\r\n" % (subject.encode(), sid.encode(), r, len(payload), payload)


PERMS_CONF = """
authorization {
  default_permissions { publish: "dflt.>", subscribe: ["dflt.>", "_INBOX.>"] }
  users: [
    {user: root, password: p, permissions: { publish: ">", subscribe: ">" } }
    {user: pa,   password: p, permissions: { publish: { allow: ["pub.>"] } } }
    {user: ps,   password: p, permissions: { publish: "one" } }
    {user: pl,   password: p, permissions: { publish: ["one", "two.*"] } }
    {user: pd,   password: p, permissions: { publish: { deny: ["pub.secret", "deny.>"] } } }
    {user: pds,  password: p, permissions: { publish: { deny: "secret" } } }
    {user: pb,   password: p, permissions: { publish: { allow: ["pub.>"], deny: ["pub.secret"] } } }
    {user: sa,   password: p, permissions: { subscribe: { allow: ["sub.>"] } } }
    {user: sd,   password: p, permissions: { subscribe: { deny: ["foo.secret", "bar.*.secret", "nosub.>"] } } }
    {user: sq,   password: p, permissions: { subscribe: { allow: ["qs q", "qs.* q"] } } }
    {user: sqd,  password: p, permissions: { subscribe: { deny: ["nosub.* q"] } } }
    {user: v,    password: p, permissions: { publish: { deny: "nopub" }, subscribe: { deny: "nosub" } } }
    {user: dflt, password: p}
    {user: empty, password: p, permissions: {} }
  ]
}
"""


@pytest.fixture
def perms(make_server):
    return make_server(conf=PERMS_CONF)


@pytest.fixture
def root(perms):
    """Sees every message published in the global account."""
    c = login(perms, "root")
    c.send(b"SUB > 1\r\n")
    c.expect_nothing()
    return c


# ---- publish ----------------------------------------------------------------------------------

@pytest.mark.parametrize("user,allowed", [
    ("pa", ["pub.x", "pub.x.y"]),
    ("ps", ["one"]),                     # string form
    ("pl", ["one", "two.x"]),            # list form
    ("pd", ["ok", "pub.public", "deny"]),
    ("pds", ["public"]),
    ("pb", ["pub.ok"]),
    ("sa", ["anything"]),                # no publish entry at all
])
def test_publish_allowed(perms, root, user, allowed):
    c = login(perms, user)
    c.send(b"".join(pub(s) for s in allowed))
    c.expect_nothing()
    assert raws(root) == [msg(s, "1") for s in allowed]


@pytest.mark.parametrize("user,denied,allowed", [
    ("pa", "other", "pub.x"),            # not in the allow list
    ("pa", "pub", "pub.x"),              # pub.> does not cover pub
    ("ps", "one.two", "one"),
    ("pl", "two.x.y", "two.x"),
    ("pd", "pub.secret", "ok"),
    ("pd", "deny.a.b", "ok"),            # wildcard deny
    ("pds", "secret", "public"),         # deny as a string
    ("pb", "pub.secret", "pub.ok"),      # deny beats allow
    ("dflt", "x", "dflt.x"),             # default_permissions
], ids=lambda v: v)
def test_publish_denied(perms, root, user, denied, allowed):
    """-ERR for the denied subject, nothing delivered, and the connection
    goes on working (the allowed publish after it is delivered)."""
    c = login(perms, user)
    c.send(pub(denied))
    c.expect_err(pub_err(denied))
    c.expect_nothing()
    c.send(pub(allowed))
    c.expect_nothing()
    assert raws(root) == [msg(allowed, "1")]


def test_publish_denied_hpub(perms, root):
    c = login(perms, "pb")
    c.send(b"HPUB pub.secret 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    c.expect_err(pub_err("pub.secret"))
    c.expect_nothing()
    root.expect_nothing()


def test_publish_denied_with_reply(perms, root):
    c = login(perms, "pa")
    c.send(pub("other", reply="pub.r"))
    c.expect_err(pub_err("other"))
    c.expect_nothing()
    root.expect_nothing()


def test_reply_subject_not_checked(perms, root):
    """Publish permissions concern the subject only: pa may name any reply."""
    c = login(perms, "pa")
    c.send(pub("other.reply"))
    c.expect_err(pub_err("other.reply"))
    c.send(pub("pub.x", reply="other.reply"))
    c.expect_nothing()
    assert raws(root) == [msg("pub.x", "1", reply="other.reply")]


def test_many_violations_keep_connection(perms, root):
    c = login(perms, "pa")
    c.send(b"".join(pub("bad.%d" % i) for i in range(5)) + pub("pub.ok"))
    for i in range(5):
        c.expect_err(pub_err("bad.%d" % i))
    c.expect_nothing()
    assert raws(root) == [msg("pub.ok", "1")]


# ---- subscribe --------------------------------------------------------------------------------

@pytest.mark.parametrize("user,sub,err", [
    ("sa", "other 2", sub_err("other")),
    ("sa", "> 2", sub_err(">")),
    ("sa", "other q 2", sub_err("other", "q")),
    ("sd", "foo.secret 2", sub_err("foo.secret")),
    ("sd", "nosub.x 2", sub_err("nosub.x")),
    ("sd", "nosub.> 2", sub_err("nosub.>")),          # a deny matching the whole wildcard sub
    ("sd", "nosub.* q 2", sub_err("nosub.*", "q")),
    ("dflt", "x 2", sub_err("x")),
], ids=lambda v: v)
def test_subscribe_denied(perms, root, user, sub, err):
    """-ERR, no subscription made (a publish to it is not delivered), the
    connection stays usable."""
    c = login(perms, user)
    c.send(b"SUB %s\r\n" % sub.encode())
    c.expect_err(err)
    c.expect_nothing()
    subject = sub.split()[0].replace("*", "x").replace(">", "x")
    root.send(pub(subject))
    root.flush()
    c.expect_nothing()


@pytest.mark.parametrize("user,sub,subject", [
    ("sa", "sub.x 2", "sub.x"),
    ("sa", "sub.> q 2", "sub.a.b"),      # a plain allow entry covers queue subs too
    ("sd", "foo.* 2", "foo.public"),
    ("sd", "nosub 2", "nosub"),
    ("dflt", "dflt.x 2", "dflt.x"),
    ("empty", "x 2", "x"),
], ids=lambda v: v)
def test_subscribe_allowed(perms, root, user, sub, subject):
    c = login(perms, user)
    c.send(b"SUB %s\r\n" % sub.encode())
    c.expect_nothing()
    root.send(pub(subject))
    root.flush()
    assert raws(c) == [msg(subject, "2")]


def test_wildcard_deny_filters_broader_subscription(perms, root):
    """sd may subscribe foo.*, bar.> and >, but messages on its denied
    subjects (foo.secret, bar.*.secret, nosub.>) are not delivered to them."""
    c = login(perms, "sd")
    c.send(b"SUB foo.* 1\r\nSUB bar.> 2\r\nSUB > 3\r\n")
    c.expect_nothing()
    root.send(pub("foo.secret") + pub("foo.public") + pub("bar.a.secret") + pub("bar.a.b")
              + pub("nosub.q") + pub("other"))
    root.flush()
    assert sorted(raws(c)) == sorted([
        msg("foo.public", "1"), msg("foo.public", "3"),
        msg("bar.a.b", "2"), msg("bar.a.b", "3"),
        msg("other", "3")])


def test_deny_filter_needs_a_deny_entry_within_the_subscription(make_server):
    """The filter is turned on by an allowed wildcard SUB that holds a deny
    entry (x.y within x.*), not by any wildcard: *.a does not hold o.>, so
    o.a reaches it. Once on, the filter applies to every delivery of the
    connection, *.a's included (nats-server's per-connection mperms)."""
    conf = """authorization { users: [
      {user: u, password: p, permissions: { subscribe: { deny: ["o.>", "x.y"] } } }
      {user: root, password: p} ] }"""
    s = make_server(conf=conf)
    c, r = login(s, "u"), login(s, "root")
    c.send(b"SUB *.a 1\r\n")
    c.expect_nothing()
    r.send(pub("o.a"))
    r.flush()
    assert raws(c) == [msg("o.a", "1")]
    c.send(b"SUB x.* 2\r\n")
    c.expect_nothing()
    r.send(pub("o.a") + pub("x.y") + pub("x.a"))
    r.flush()
    assert sorted(raws(c)) == sorted([msg("x.a", "1"), msg("x.a", "2")])


def test_queue_only_allow(perms, root):
    """Entries "qs q" and "qs.* q": only queue q may subscribe there."""
    c = login(perms, "sq")
    c.send(b"SUB qs 1\r\n")
    c.expect_err(sub_err("qs"))
    c.send(b"SUB qs r 2\r\n")
    c.expect_err(sub_err("qs", "r"))
    c.send(b"SUB qs.* 3\r\n")
    c.expect_err(sub_err("qs.*"))
    c.send(b"SUB qs q 4\r\nSUB qs.x q 5\r\nSUB qs.* q 6\r\n")
    c.expect_nothing()
    root.send(pub("qs") + pub("qs.x"))
    root.flush()
    # 5 and 6 are one queue group: one copy of qs.x.
    got = raws(c)
    assert got[0] == msg("qs", "4") and got[1:] in ([msg("qs.x", "5")], [msg("qs.x", "6")]), got


def test_queue_only_deny(perms, root):
    """Entry "nosub.* q" denies queue q on subjects it matches; plain subs and
    other queues are allowed."""
    c = login(perms, "sqd")
    c.send(b"SUB nosub.* q 1\r\n")
    c.expect_err(sub_err("nosub.*", "q"))
    c.send(b"SUB nosub.x q 2\r\n")
    c.expect_err(sub_err("nosub.x", "q"))
    c.send(b"SUB nosub.* 3\r\nSUB nosub.* r 4\r\n")
    c.expect_nothing()
    root.send(pub("nosub.x"))
    root.flush()
    assert sorted(raws(c)) == sorted([msg("nosub.x", "3"), msg("nosub.x", "4")])


def test_queue_deny_does_not_filter_deliveries(make_server):
    conf = """authorization { users: [
      {user: u, password: p, permissions: { subscribe: { deny: ["foo.secret q"] } } }
      {user: root, password: p} ] }"""
    s = make_server(conf=conf)
    c = login(s, "u")
    c.send(b"SUB foo.secret q 4\r\n")
    c.expect_err(sub_err("foo.secret", "q"))
    c.send(b"SUB foo.* 1\r\nSUB foo.* q 2\r\nSUB foo.secret 3\r\n")
    c.expect_nothing()
    r = login(s, "root")
    r.send(pub("foo.secret"))
    r.flush()
    assert sorted(raws(c)) == sorted([msg("foo.secret", "1"), msg("foo.secret", "2"), msg("foo.secret", "3")])


def test_violation_errors_quote_and_keep_long_subjects(make_server):
    """The subject (and queue, and reply) in a Permissions Violation is Go's
    %q of it: `"` and `\\` escaped, UTF-8 kept; and it is written whole, a
    1000-byte subject included, each -ERR a complete line."""
    conf = """authorization { users: [
      {user: u, password: p, permissions: { publish: { deny: ["d.>"] }, subscribe: { deny: ["d.>"] } } } ] }"""
    s = make_server(conf=conf)
    c = login(s, "u")
    c.send('PUB d.a"b\\c\u00e9 1\r\nx\r\nSUB d.a"b 1\r\nSUB d.x q"\\ 2\r\nPUB x _R_.a"b 1\r\nx\r\n'.encode())
    assert raws(c) == [
        b'-ERR \'Permissions Violation for Publish to "d.a\\"b\\\\c\xc3\xa9"\'\r\n',
        b'-ERR \'Permissions Violation for Subscription to "d.a\\"b"\'\r\n',
        b'-ERR \'Permissions Violation for Subscription to "d.x" using queue "q\\"\\\\"\'\r\n',
        b'-ERR \'Permissions Violation for Publish with Reply of "_R_.a\\"b"\'\r\n',
    ]
    long = "d." + "x" * 1000
    c.send(pub(long) + b"SUB %s 3\r\nSUB %s q 4\r\n" % (long.encode(), long.encode()))
    assert [f.text for f in c.flush()] == [pub_err(long), sub_err(long), sub_err(long, "q")]


# ---- verbose ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op,err", [
    (b"PUB nopub 1\r\nx\r\n", pub_err("nopub")),
    (b"HPUB nopub 12 12\r\nNATS/1.0\r\n\r\n\r\n", pub_err("nopub")),
    (b"SUB nosub 1\r\n", sub_err("nosub")),
    (b"SUB nosub q 1\r\n", sub_err("nosub", "q")),
], ids=["pub", "hpub", "sub", "queue-sub"])
def test_verbose_violation_sends_err_instead_of_ok(perms, op, err):
    c = client(perms, connect=connect_line(dict(BASE, verbose=True), user="v", password="p"))
    c.send(op)
    c.expect_err(err)
    c.expect_nothing()
    c.send(b"PUB ok 1\r\nx\r\nSUB ok 2\r\nUNSUB 2\r\n")
    assert raws(c) == [b"+OK\r\n"] * 3


# ---- default_permissions ------------------------------------------------------------------------

def test_default_permissions_applied(perms, root):
    c = login(perms, "dflt")
    c.send(pub("dflt.a") + b"SUB dflt.b 5\r\n")
    c.expect_nothing()
    c.send(pub("other"))
    c.expect_err(pub_err("other"))
    c.send(b"SUB other 6\r\n")
    c.expect_err(sub_err("other"))
    assert raws(root) == [msg("dflt.a", "1")]
    root.send(pub("dflt.b") + pub("other"))
    assert raws(root) == [msg("dflt.b", "1"), msg("other", "1")]
    assert raws(c) == [msg("dflt.b", "5")]


def test_own_permissions_replace_defaults(perms, root):
    """pa has its own publish list: the default's dflt.> is not added."""
    c = login(perms, "pa")
    c.send(pub("dflt.x"))
    c.expect_err(pub_err("dflt.x"))
    c.expect_nothing()
    root.expect_nothing()


def test_empty_permissions_block_allows_everything(perms, root):
    d = login(perms, "dflt")
    d.send(pub("x"))
    d.expect_err(pub_err("x"))
    c = login(perms, "empty")
    c.send(pub("x") + pub("dflt.x") + b"SUB y 2\r\n")
    c.expect_nothing()
    assert raws(root) == [msg("x", "1"), msg("dflt.x", "1")]


# ---- allow_responses -----------------------------------------------------------------------------

RESP_CONF = """
authorization { users: [
  {user: root, password: p}
  {user: r1, password: p, permissions: { subscribe: "svc", allow_responses: true } }
  {user: r2, password: p, permissions: { subscribe: "svc", allow_responses: { max: 2, expires: "1s" } } }
  {user: rp, password: p, permissions: { publish: "other", subscribe: "svc", allow_responses: true } }
] }
"""


@pytest.fixture
def resp(make_server):
    return make_server(conf=RESP_CONF)


def responder(server, user):
    c = login(server, user)
    c.send(b"SUB svc 1\r\n")
    c.expect_nothing()
    return c


@pytest.fixture
def requester(resp):
    c = login(resp, "root")
    c.send(b"SUB _INBOX.> 9\r\n")
    c.expect_nothing()
    return c


def ask(requester, responder, inbox="_INBOX.a"):
    requester.send(pub("svc", b"q", reply=inbox))
    requester.flush()
    assert raws(responder) == [msg("svc", "1", b"q", reply=inbox)]


@pytest.mark.parametrize("user,max_replies", [("r1", 1), ("r2", 2), ("rp", 1)])
def test_allow_responses_max(resp, requester, user, max_replies):
    c = responder(resp, user)
    ask(requester, c)
    for i in range(max_replies):
        c.send(pub("_INBOX.a", b"r%d" % i))
        c.expect_nothing()
    c.send(pub("_INBOX.a", b"late"))
    c.expect_err(pub_err("_INBOX.a"))
    c.expect_nothing()
    assert raws(requester) == [msg("_INBOX.a", "9", b"r%d" % i) for i in range(max_replies)]


def test_allow_responses_each_request_counts(resp, requester):
    c = responder(resp, "r1")
    ask(requester, c, "_INBOX.a")
    ask(requester, c, "_INBOX.b")
    c.send(pub("_INBOX.b", b"rb") + pub("_INBOX.a", b"ra"))
    c.expect_nothing()
    c.send(pub("_INBOX.a", b"again"))
    c.expect_err(pub_err("_INBOX.a"))
    assert raws(requester) == [msg("_INBOX.b", "9", b"rb"), msg("_INBOX.a", "9", b"ra")]


def test_allow_responses_only_to_received_replies(resp, requester):
    """No publish entry: nothing but replies may be published, and only to a
    reply subject the user received."""
    c = responder(resp, "r1")
    c.send(pub("any"))
    c.expect_err(pub_err("any"))
    c.send(pub("_INBOX.zzz"))
    c.expect_err(pub_err("_INBOX.zzz"))
    c.expect_nothing()
    requester.expect_nothing()


def test_allow_responses_with_publish_allow(resp, requester):
    """rp's own publish list still applies besides the responses."""
    c = responder(resp, "rp")
    requester.send(b"SUB other 8\r\n")
    requester.expect_nothing()
    c.send(pub("other"))
    c.expect_nothing()
    c.send(pub("elsewhere"))
    c.expect_err(pub_err("elsewhere"))
    assert raws(requester) == [msg("other", "8")]


def test_allow_responses_expire(resp, requester):
    """r2 may answer twice within 1s: after 1s even the first answer is refused."""
    c = responder(resp, "r2")
    ask(requester, c, "_INBOX.a")
    ask(requester, c, "_INBOX.b")
    c.send(pub("_INBOX.a", b"in-time"))
    c.expect_nothing()
    time.sleep(1.1)
    c.send(pub("_INBOX.a", b"late") + pub("_INBOX.b", b"late"))
    c.expect_err(pub_err("_INBOX.a"))
    c.expect_err(pub_err("_INBOX.b"))
    c.expect_nothing()
    assert raws(requester) == [msg("_INBOX.a", "9", b"in-time")]


# ---- permissions of account users -------------------------------------------------------------------

ACC_CONF = """
authorization { default_permissions { publish: "dflt.>" }
  users: [ {user: g, password: p} ] }
accounts {
  A { users: [
        {user: a, password: p, permissions: { publish: { deny: "secret" }, subscribe: { allow: ["a.>"] } } }
        {user: a0, password: p}
        {user: ar, password: p, permissions: { subscribe: "svc.>", allow_responses: true } }
      ],
      exports: [ {service: "svc.>"} ] }
  B { users: [ {user: b, password: p} ],
      imports: [ {service: {account: A, subject: "svc.x"}, to: "asvc"} ] }
  C { default_permissions { publish: "cdflt.>" }
      users: [ {user: c0, password: p}, {user: c1, password: p, permissions: { publish: "own" } } ] }
}
"""


@pytest.fixture
def accs(make_server):
    return make_server(conf=ACC_CONF)


def test_account_user_permissions(accs):
    peer = login(accs, "a0")
    peer.send(b"SUB > 1\r\n")
    peer.expect_nothing()
    c = login(accs, "a")
    c.send(pub("secret"))
    c.expect_err(pub_err("secret"))
    c.send(b"SUB b 2\r\n")
    c.expect_err(sub_err("b"))
    c.send(pub("x") + b"SUB a.b 3\r\n")
    c.expect_nothing()
    assert raws(peer) == [msg("x", "1")]
    peer.send(pub("a.b"))
    assert raws(peer) == [msg("a.b", "1")]
    assert raws(c) == [msg("a.b", "3")]


def test_top_level_defaults_not_applied_to_account_users(accs):
    g = login(accs, "g")
    g.send(pub("x"))
    g.expect_err(pub_err("x"))
    a0 = login(accs, "a0")
    a0.send(pub("x") + b"SUB y 1\r\n")
    a0.expect_nothing()


def test_account_default_permissions(accs):
    c0 = login(accs, "c0")
    c0.send(pub("cdflt.x"))
    c0.expect_nothing()
    c0.send(pub("x"))
    c0.expect_err(pub_err("x"))
    c1 = login(accs, "c1")
    c1.send(pub("own"))
    c1.expect_nothing()
    c1.send(pub("cdflt.x"))
    c1.expect_err(pub_err("cdflt.x"))


def test_allow_responses_through_service_import(accs):
    """A responder with only allow_responses may answer a request that came
    through a service import once, on its _R_ reply."""
    ar = login(accs, "ar", headers=False)
    ar.send(b"SUB svc.> 1\r\n")
    ar.expect_nothing()
    b = login(accs, "b")
    b.send(b"SUB _INBOX.> 1\r\n" + pub("asvc", b"q", reply="_INBOX.1"))
    b.expect_nothing()
    [f] = ar.flush()
    assert f.subject == "svc.x" and f.reply.startswith("_R_.")
    ar.send(pub(f.reply, b"r"))
    ar.expect_nothing()
    ar.send(pub(f.reply, b"r2"))
    ar.expect_err(pub_err(f.reply))
    assert raws(b) == [msg("_INBOX.1", "1", b"r")]
