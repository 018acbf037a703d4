"""TLS on routes: `cluster { tls { cert_file, key_file, ca_file, verify } }`.

Topologies as in tests/cluster (tests/lib/cluster.py): with NATS_SERVER_BIN
set, only that binary (`nn`, or `gg`); otherwise gg, nn, gn, ng (filter with
CLUSTER_TOPOLOGIES). The seed (node A) is dialled by the other node.

Observed with nats-server 2.9.10:
- Route TLS is TLS-first: the accepting node sends nothing in plaintext and
  waits for a ClientHello (a raw TCP client gets no bytes and is closed after
  the cluster tls timeout: log `rid:N - TLS handshake timeout` or the read
  error, `Router connection closed: TLS Handshake Failure`). After the
  handshake, the route INFO comes over TLS, with `"proto":2` and
  `"headers":true,"tls_required":true,"tls_verify":true,"max_payload":1048576`.
- /varz "cluster": "tls_required": true, "tls_verify": true, "tls_timeout"
  (0.5 here) and "auth_timeout" = tls timeout + 1 (1.5); the top level has
  no tls_required then.
- verify: true: a peer without a client certificate gets a fatal
  bad_certificate alert (log `TLS route handshake error: tls: client didn't
  provide a certificate`).
- Both nodes with cluster tls (server cert with IP SAN 127.0.0.1, EKU
  serverAuth+clientAuth, same CA): the route forms (/routez num_routes 1 on
  each) and carries messages both ways.
- TLS seed, plain peer: the peer dials and sends CONNECT in plaintext; the
  seed logs `rid:N - TLS route handshake error: tls: first record does not
  look like a TLS handshake` and `rid:N - Router connection closed: TLS
  Handshake Failure`; the peer logs `Router connection closed: Client
  Closed`; the peer retries about every second; no route.
- Plain seed, TLS peer: the peer's ClientHello reaches the seed's route
  parser: seed logs `Router parser ERROR, state=0, i=0: proto='"\\x16\\x03...`
  and `Router connection closed: Protocol Violation`; the peer logs `TLS
  route handshake error: tls: first record does not look like a TLS
  handshake` (the seed's plaintext INFO). No route.
- Peer whose certificate is from another CA (and which trusts only that CA):
  each side logs a `TLS route handshake error: ...` (`remote error: tls: bad
  certificate` on the seed, `x509: certificate signed by unknown authority`
  on the peer); no route.
"""
import re
import socket
import ssl

import pytest

import cluster as cl
from proto import Conn, parse_info
from servers import poll
from clusterfix import _cluster_logs_on_failure, make_cluster  # noqa: F401 (fixtures)
from tlshelp import CERT_REFUSED_ALERTS, client_ctx, tls_block




def route_tls(certs, pair=None, ca=None, verify=True, **opts):
    """The tls block for inside cluster {} (indented)."""
    pair = pair or certs.server
    opts = dict(opts)
    opts["ca_file"] = (ca or certs.ca).cert
    if verify:
        opts["verify"] = True
    text = tls_block(certs, pair=pair, **opts)
    return "".join("  " + l + "\n" for l in text.splitlines())


def count(pattern, text):
    return len(re.findall(pattern, text, re.M))


def cross(c, src, dst, subject):
    sub = c[dst].client()
    pub = c[src].client()
    sub.send(b"SUB %s 1\r\n" % subject.encode())
    sub.flush()
    assert cl.probe(pub, sub, subject) >= 1


@pytest.mark.parametrize("topology", cl.topologies(2))
def test_route_tls_mesh_and_messages(make_cluster, certs, topology):
    c = make_cluster(topology, cluster_conf=route_tls(certs))
    assert [n.num_routes() for n in c] == [1, 1]
    cross(c, 0, 1, cl.uniq("tls.route.ab."))
    cross(c, 1, 0, cl.uniq("tls.route.ba."))
    # a big message across the TLS route
    sub, pub = c[1].client(), c[0].client()
    subj = cl.uniq("tls.route.big.")
    sub.send(b"SUB %s 1\r\n" % subj.encode())
    sub.flush()
    cl.sync_interest(sub, pub)
    big = bytes(range(256)) * 1000
    pub.send(b"PUB %s %d\r\n" % (subj.encode(), len(big)) + big + b"\r\n")
    f = sub.frame()
    assert f.op == "MSG" and f.subject == subj and f.payload == big


@pytest.mark.parametrize("topology", cl.topologies(1))
def test_route_port_is_tls_first(make_cluster, certs, topology):
    c = make_cluster(topology, cluster_conf=route_tls(certs, timeout=0.5))
    node = c[0]
    # plaintext: nothing is sent, closed by the handshake timeout
    raw = Conn(node.cport, read_info=False)
    assert raw.read_to_eof(timeout=5) == b""
    # TLS first: the route INFO comes inside TLS
    s = socket.create_connection(("127.0.0.1", node.cport), timeout=5)
    t = client_ctx(certs, cert=certs.alice).wrap_socket(s, server_hostname="127.0.0.1")
    buf = b""
    while not buf.endswith(b"\r\n"):
        chunk = t.recv(65536)
        assert chunk, "EOF before the route INFO: %r" % buf
        buf += chunk
    t.close()
    info = parse_info(buf)
    assert info["proto"] == 2 and info["tls_required"] is True and info["tls_verify"] is True
    assert b'"headers":true,"tls_required":true,"tls_verify":true,"max_payload":1048576' in buf
    assert poll(lambda: re.search(r"rid:\d+ - Router connection closed: TLS Handshake Failure", node.log()), 5)


@pytest.mark.parametrize("topology", cl.topologies(1))
def test_route_tls_varz(make_cluster, certs, topology):
    c = make_cluster(topology, cluster_conf=route_tls(certs, timeout=0.5))
    v = c[0].varz()["cluster"]
    assert (v["tls_required"], v["tls_verify"], v["tls_timeout"], v["auth_timeout"]) == (True, True, 0.5, 1.5), v
    assert "tls_required" not in c[0].varz()  # the client port has no TLS


@pytest.mark.parametrize("topology", cl.topologies(1))
def test_route_port_requires_client_cert(make_cluster, certs, topology):
    c = make_cluster(topology, cluster_conf=route_tls(certs))
    s = socket.create_connection(("127.0.0.1", c[0].cport), timeout=5)
    with pytest.raises(ssl.SSLError) as e:
        t = client_ctx(certs).wrap_socket(s, server_hostname="127.0.0.1")
        t.recv(65536)  # TLS 1.3: the alert comes after the client's handshake
    assert e.value.reason in CERT_REFUSED_ALERTS
    s.close()
    assert poll(lambda: "TLS route handshake error: tls: client didn't provide a certificate" in c[0].log(), 5)


FIRST_RECORD = r"rid:\d+ - TLS route handshake error: tls: first record does not look like a TLS handshake"


@pytest.mark.parametrize("topology", cl.topologies(2))
@pytest.mark.parametrize("which", ["tls-seed", "tls-peer"])
def test_route_tls_vs_plain_no_route(make_cluster, certs, topology, which):
    c = make_cluster.unstarted(topology)
    tls_node = c[0] if which == "tls-seed" else c[1]
    plain_node = c[1] if which == "tls-seed" else c[0]
    tls_node.cluster_conf = route_tls(certs)
    c[0].start()
    c[1].start()
    # two failed attempts by the peer (it retries about once a second)
    assert poll(lambda: count(FIRST_RECORD, tls_node.log()) >= 2, 10), tls_node.log()[-3000:]
    assert [n.num_routes() for n in c] == [0, 0]
    if which == "tls-seed":
        assert re.search(r"rid:\d+ - Router connection closed: TLS Handshake Failure", tls_node.log())
        assert re.search(r"rid:\d+ - Router connection closed: Client Closed", plain_node.log())
    else:
        assert re.search(r"rid:\d+ - Router connection closed: Protocol Violation", plain_node.log())
        assert re.search(r"Router parser ERROR, state=0, i=0: proto='\"\\x16\\x03", plain_node.log())


@pytest.mark.parametrize("topology", cl.topologies(2))
def test_route_untrusted_peer_no_route(make_cluster, certs, topology):
    c = make_cluster.unstarted(topology)
    c[0].cluster_conf = route_tls(certs)
    c[1].cluster_conf = route_tls(certs, pair=certs.mallory, ca=certs.untrusted_ca)
    c[0].start()
    c[1].start()
    pat = r"rid:\d+ - TLS route handshake error: "
    assert poll(lambda: count(pat, c[0].log()) >= 3 and count(pat, c[1].log()) >= 3, 10)
    assert [n.num_routes() for n in c] == [0, 0]
    assert "x509: certificate signed by unknown authority" in c[1].log()
