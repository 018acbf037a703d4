"""The monitoring port's HTTP, as nats-server 2.9.10's Go http.Server speaks
it: status lines, header order, Content-Length up to 2048 bytes and chunked
beyond, keep-alive and close rules, JSONP, redirects of unclean paths, and
the answers to requests it cannot parse. Each test runs against gannet and
nats-server; only the Date header's value is not compared.
"""
import re

import pytest

from monhelp import HTTPConn, http, named_client, start

DATE = re.compile(rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n")


def nodate(raw):
    assert DATE.search(raw), raw
    return DATE.sub(b"Date: X\r\n", raw)


def test_not_found(make_server):
    s = start(make_server)
    for p in ("/nope", "/varz/", "/VARZ", "/varz%2f", "/raftz", "/debug/vars"):
        r = http(s.mport, p)
        assert nodate(r.raw) == (b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                 b"X-Content-Type-Options: nosniff\r\nDate: X\r\nContent-Length: 19\r\n\r\n"
                                 b"404 page not found\n"), p


def test_json_headers(make_server):
    s = start(make_server)
    r = http(s.mport, "/routez")
    assert (r.version, r.status, r.reason) == ("HTTP/1.1", 200, "OK")
    assert r.names() == ["Content-Type", "Date", "Content-Length"]
    assert r.header("Content-Type") == "application/json"
    assert int(r.header("Content-Length")) == len(r.body)
    body = r.body.decode()
    assert body.startswith('{\n  "server_id": "') and body.endswith("\n}")  # MarshalIndent, two spaces
    assert "\n  \"routes\": []" in body


def test_jsonp_callback(make_server):
    s = start(make_server)
    r = http(s.mport, "/healthz?callback=cb")
    assert nodate(r.raw) == (b"HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nDate: X\r\n"
                             b"Content-Length: 19\r\n\r\ncb({\"status\":\"ok\"})")
    r = http(s.mport, "/varz?x=1&callback=my%20fn")
    assert r.header("Content-Type") == "application/javascript"
    assert r.body.startswith(b"my fn({\n") and r.body.endswith(b"})")
    r = http(s.mport, "/varz?callback=")  # empty: plain JSON
    assert r.header("Content-Type") == "application/json" and r.body.startswith(b"{")
    r = http(s.mport, "/connz?sort=bogus&callback=cb")  # errors are never wrapped
    assert (r.status, r.body) == (400, b"invalid sorting option: bogus")


def many_subs(s, n=60):
    c = named_client(s, "many")
    c.send("".join("SUB subject.number.%03d %d\r\n" % (i, i) for i in range(n)))
    c.expect_nothing()
    return c


def test_large_body_is_chunked(make_server):
    """Go buffers 2048 bytes: a longer body goes out chunked (one chunk)."""
    s = start(make_server)
    c = many_subs(s)  # noqa: F841
    r = http(s.mport, "/connz?subs=1")
    assert len(r.body) > 2048
    assert r.names() == ["Content-Type", "Date", "Transfer-Encoding"]
    assert r.chunked and r.json()["num_connections"] == 1
    head, _, rest = r.raw.partition(b"\r\n\r\n")
    assert rest == b"%x\r\n" % len(r.body) + r.body + b"\r\n0\r\n\r\n"
    # HTTP/1.0 cannot chunk: no length, the close ends the body
    with HTTPConn(s.mport) as hc:
        hc.request("/connz?subs=1", version="HTTP/1.0", headers=[("Connection", "keep-alive")])
        r = hc.response()
        assert r.version == "HTTP/1.0" and r.names() == ["Content-Type", "Date"]
        assert r.json()["num_connections"] == 1
        hc.expect_eof()


def test_head(make_server):
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.request("/healthz", method="HEAD")
        r = hc.response(head=True)
        assert nodate(r.raw) == (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: X\r\n"
                                 b"Content-Length: 15\r\n\r\n")
        hc.request("/", method="HEAD")  # long body: neither length nor chunking
        r = hc.response(head=True)
        assert r.status == 200 and r.names() == ["Date", "Content-Type"]
        assert hc.still_open()


def test_keep_alive_two_requests(make_server):
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.request("/varz")
        r1 = hc.response()
        hc.request("/healthz")
        r2 = hc.response()
        assert (r1.status, r2.status, r2.body) == (200, 200, b'{"status":"ok"}')
        assert r1.json()["http_req_stats"]["/varz"] >= 1
        assert hc.still_open()


def test_pipelined_requests(make_server):
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /healthz?callback=f HTTP/1.1\r\nHost: x\r\n\r\n")
        assert [hc.response().status for _ in range(3)] == [200, 404, 200]
        assert hc.still_open()


def test_connection_close(make_server):
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.request("/healthz", headers=[("Connection", "close")])
        r = hc.response()
        assert nodate(r.raw) == (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: X\r\n"
                                 b"Content-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}")
        hc.expect_eof()


def test_http10(make_server):
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.request("/healthz", version="HTTP/1.0")
        r = hc.response()
        assert nodate(r.raw) == (b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nDate: X\r\n"
                                 b"Content-Length: 15\r\n\r\n{\"status\":\"ok\"}")
        hc.expect_eof()
    with HTTPConn(s.mport) as hc:
        hc.request("/healthz", version="HTTP/1.0", headers=[("Connection", "keep-alive")])
        r = hc.response()
        assert r.names() == ["Content-Type", "Date", "Content-Length", "Connection"]
        assert r.header("Connection") == "keep-alive"
        hc.request("/healthz", version="HTTP/1.0", headers=[("Connection", "keep-alive")])
        assert hc.response().status == 200


def test_methods_and_bodies(make_server):
    """Handlers ignore the method; a request body is skipped, by its length
    or its chunks, and the connection goes on."""
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.send(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        assert hc.response().body == b'{"status":"ok"}'
        hc.send(b"PUT /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n")
        assert hc.response().status == 200
        hc.send(b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # any token is a method
        assert hc.response().status == 200
        assert hc.still_open()


def test_expect_continue_closes(make_server):
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.send(b"POST /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab")
        r = hc.response()
        assert r.status == 200 and r.header("Connection") == "close"
        hc.expect_eof()


def test_absolute_and_escaped_targets(make_server):
    s = start(make_server)
    assert http(s.mport, "/%76arz").status == 200
    with HTTPConn(s.mport) as hc:
        hc.send(b"GET http://example.com:8222/healthz?callback=z HTTP/1.1\r\nHost: x\r\n\r\n")
        assert hc.response().body == b'z({"status":"ok"})'
        hc.send(b"GET /healthz HTTP/1.1\nHost: x\n\n")  # bare LF line ends
        assert hc.response().status == 200


@pytest.mark.parametrize("path,location", [
    ("//varz", "/varz"), ("/./varz", "/varz"), ("/a/../varz", "/varz"), ("/x/..//connz?subs=1", "/connz?subs=1"),
    ("/varz/.", "/varz"), ("/nope/", None),
])
def test_unclean_path_redirected(make_server, path, location):
    s = start(make_server)
    r = http(s.mport, path)
    if location is None:  # clean already (the trailing slash stays): 404
        assert r.status == 404
        return
    body = b'<a href="%s">Moved Permanently</a>.\n\n' % location.replace("&", "&amp;").encode()
    assert nodate(r.raw) == (b"HTTP/1.1 301 Moved Permanently\r\nContent-Type: text/html; charset=utf-8\r\n"
                             b"Location: " + location.encode() + b"\r\nDate: X\r\nContent-Length: %d\r\n\r\n"
                             % len(body) + body)


def test_star_target(make_server):
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        r = hc.response()
        assert nodate(r.raw) == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: X\r\n\r\n"
        hc.send(b"GET * HTTP/1.1\r\nHost: x\r\n\r\n")
        r = hc.response()
        assert nodate(r.raw) == b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: X\r\nContent-Length: 0\r\n\r\n"
        hc.expect_eof()


PLAIN = b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("request_,status,text", [
    (b"GARBAGE\r\n\r\n", b"400 Bad Request", None),
    (b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"400 Bad Request", None),
    (b"GET /healthz\r\n\r\n", b"400 Bad Request", None),
    (b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"400 Bad Request", None),
    (b"GET healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"400 Bad Request", None),
    (b"GET /healthz FOO/1.1\r\nHost: x\r\n\r\n", b"400 Bad Request", None),
    (b"G(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"400 Bad Request", None),
    (b"GET /heal%zz HTTP/1.1\r\nHost: x\r\n\r\n", b"400 Bad Request", None),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"400 Bad Request", None),
    (b"GET /healthz HTTP/1.1\r\n  folded: x\r\nHost: x\r\n\r\n", b"400 Bad Request", None),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", b"400 Bad Request", None),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", b"400 Bad Request", None),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", b"400 Bad Request",
     None),
    (b"GET /healthz HTTP/1.1\r\n\r\n", b"400 Bad Request", b"missing required Host header"),
    (b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", b"400 Bad Request", b"malformed Host header"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", b"400 Bad Request", b"invalid header name"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", b"400 Bad Request", b"invalid header value"),
    (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", b"505 HTTP Version Not Supported", b"unsupported protocol version"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", b"501 Not Implemented", None),
])
def test_malformed_requests(make_server, request_, status, text):
    """Go's answers to what it cannot parse; the connection is closed."""
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.send(request_)
        if status.startswith(b"501"):
            want = b"HTTP/1.1 " + status + PLAIN + b"Unsupported transfer encoding"
        elif text:
            want = b"HTTP/1.1 " + status + b": " + text + PLAIN + status + b": " + text
        else:
            want = b"HTTP/1.1 " + status + PLAIN + status
        assert hc.read_to_eof() == want


def test_header_too_large(make_server):
    """Past the head limit: 431 and close (gannet's limit is 64 KiB, Go's
    1 MiB: the answer is the same beyond both)."""
    s = start(make_server)
    with HTTPConn(s.mport, timeout=10) as hc:
        try:
            hc.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (1 << 21) + b"\r\n\r\n")
        except OSError:
            pass  # the server may close while we still write
        want = b"HTTP/1.1 431 Request Header Fields Too Large" + PLAIN + b"431 Request Header Fields Too Large"
        assert hc.read_to_eof() == want


def test_bad_request_after_good_one(make_server):
    s = start(make_server)
    with HTTPConn(s.mport) as hc:
        hc.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP\r\n\r\n")
        assert hc.response().status == 200
        r = hc.response()
        assert (r.status, r.header("Connection"), r.body) == (400, "close", b"400 Bad Request")
        hc.expect_eof()


def test_many_idle_connections(make_server):
    """Idle monitoring connections do not lock the next client out (gannet
    drops the longest idle beyond 256; nats-server keeps them all)."""
    s = start(make_server)
    idle = [HTTPConn(s.mport) for _ in range(300)]
    try:
        assert http(s.mport, "/healthz").body == b'{"status":"ok"}'
        idle[-1].request("/healthz")
        assert idle[-1].response().status == 200
    finally:
        for c in idle:
            c.close()
