"""TLS and configuration reload (SIGHUP), against gannet and nats-server.

Observed with nats-server 2.9.10:
- the certificate and key files are read again at every reload: a client
  that connects afterwards is served the new certificate, while a
  connection established before keeps its session and goes on working
  (PING -> PONG);
- `verify_and_map` cannot change by a reload: the log says
  `config reload not supported for TLSMap: old=false, new=true` and the
  running configuration stays (a client without a certificate still
  connects).
"""
import shutil
import signal
import ssl

PING_LINE = b"PING\r\n"
from servers import poll
from tlshelp import TLSConn, client_ctx, wait_log


def der_of(pem_file):
    with open(pem_file) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def served_cert(port, certs):
    c = TLSConn(port, client_ctx(certs))
    try:
        return c.sock.getpeercert(binary_form=True)
    finally:
        c.close()


def reload_conf(tmp_path, extra=""):
    return ('tls {\n  cert_file: "%s/cur.pem"\n  key_file: "%s/cur-key.pem"\n  ca_file: "%s/ca.pem"\n%s}\n'
            % (tmp_path, tmp_path, tmp_path, extra))


def install(tmp_path, certs, pair):
    shutil.copy(pair.cert, str(tmp_path / "cur.pem"))
    shutil.copy(pair.key, str(tmp_path / "cur-key.pem"))
    shutil.copy(certs.ca.cert, str(tmp_path / "ca.pem"))


def test_reload_serves_new_certificate(make_server, certs, tmp_path):
    install(tmp_path, certs, certs.server)
    s = make_server(conf=reload_conf(tmp_path))
    assert served_cert(s.port, certs) == der_of(certs.server.cert)
    old = TLSConn(s.port, client_ctx(certs))
    install(tmp_path, certs, certs.server_ec)
    s.proc.send_signal(signal.SIGHUP)
    assert poll(lambda: served_cert(s.port, certs) == der_of(certs.server_ec.cert), 5)
    # the connection made before keeps its session and its certificate
    assert old.sock.getpeercert(binary_form=True) == der_of(certs.server.cert)
    old.send(PING_LINE)
    old.expect_frame(b"PONG\r\n")
    old.close()


def test_reload_refuses_verify_and_map_change(make_server, certs, tmp_path):
    install(tmp_path, certs, certs.server)
    s = make_server(conf=reload_conf(tmp_path))
    with open(s.conf_path, "w") as f:
        f.write(reload_conf(tmp_path, "  verify_and_map: true\n") + "authorization { users = [ {user: alice} ] }\n")
    s.proc.send_signal(signal.SIGHUP)
    assert wait_log(s, r"config reload not supported for TLSMap: old=false, new=true")
    # the running configuration stays: no client certificate, no user, still served
    c = TLSConn(s.port, client_ctx(certs))
    c.send(PING_LINE)
    c.expect_frame(b"PONG\r\n")
    c.close()
