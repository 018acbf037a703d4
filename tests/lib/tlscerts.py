"""Test certificates for the TLS tests, made with the openssl CLI.

generate(dir) writes, once per test session (tests/tls/conftest.py has the
session fixture), into a fresh directory:

- ca: the trusted CA (RSA-2048, self-signed, CN=Gannet Test CA);
- server: RSA-2048 server cert signed by ca, CN=localhost, SANs DNS:localhost,
  IP:127.0.0.1, IP:::1, EKU serverAuth+clientAuth (so that route nodes can
  present it as client certificates too);
- server_ec: the same as ECDSA P-256;
- server_expired: the same names (RSA) but expired (notAfter a day before
  notBefore, both in the past of "now + 0" -- openssl x509 -days -1);
- alice: client cert signed by ca, subject O=Gannet Test, CN=alice (Go prints
  it "CN=alice,O=Gannet Test"), SAN email:alice@example.com, EKU clientAuth;
- bob: client cert signed by ca, subject O=Gannet Test, CN=bob, no SAN;
- untrusted_ca and mallory: a second CA nobody trusts and a client cert
  (CN=mallory, SAN email:alice@example.com) signed by it.

Every entry is a Pair(cert, key) of file paths; pin(pair) is the lowercase hex
sha256 of the certificate's DER SubjectPublicKeyInfo, as nats-server's
pinned_certs takes it (computed with openssl, not Python).
"""
import dataclasses
import os
import subprocess

OPENSSL = "openssl"


@dataclasses.dataclass(frozen=True)
class Pair:
    cert: str
    key: str


@dataclasses.dataclass(frozen=True)
class TLSCerts:
    dir: str
    ca: Pair
    server: Pair
    server_ec: Pair
    server_expired: Pair
    alice: Pair
    bob: Pair
    untrusted_ca: Pair
    mallory: Pair

    @property
    def ca_file(self):
        return self.ca.cert

    def pin(self, pair):
        return spki_sha256(pair.cert)


def _run(args, cwd, stdin=None):
    r = subprocess.run([OPENSSL] + args, cwd=cwd, input=stdin, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r.stdout


def _key(d, name, ec=False):
    path = os.path.join(d, name + "-key.pem")
    if ec:
        _run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path], d)
    else:
        _run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path], d)
    return path


def _ca(d, name, cn):
    key = _key(d, name)
    cert = os.path.join(d, name + ".pem")
    _run(["req", "-x509", "-new", "-key", key, "-sha256", "-days", "30", "-subj", "/CN=" + cn,
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
          "-out", cert], d)
    return Pair(cert, key)


def _leaf(d, name, ca, subj, exts, ec=False, days="30"):
    key = _key(d, name, ec)
    csr = os.path.join(d, name + ".csr")
    cert = os.path.join(d, name + ".pem")
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n" + "".join(e + "\n" for e in exts))
    _run(["req", "-new", "-key", key, "-subj", subj, "-out", csr], d)
    _run(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-sha256",
          "-days", days, "-extfile", ext, "-out", cert], d)
    return Pair(cert, key)


SERVER_EXTS = ["subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
               "keyUsage=critical,digitalSignature,keyEncipherment",
               "extendedKeyUsage=serverAuth,clientAuth"]
CLIENT_KU = "keyUsage=critical,digitalSignature,keyEncipherment"


def generate(d):
    os.makedirs(d, exist_ok=True)
    ca = _ca(d, "ca", "Gannet Test CA")
    untrusted = _ca(d, "untrusted-ca", "Untrusted Test CA")
    return TLSCerts(
        dir=d,
        ca=ca,
        server=_leaf(d, "server", ca, "/CN=localhost", SERVER_EXTS),
        server_ec=_leaf(d, "server-ec", ca, "/CN=localhost", SERVER_EXTS, ec=True),
        server_expired=_leaf(d, "server-expired", ca, "/CN=localhost", SERVER_EXTS, days="-1"),
        alice=_leaf(d, "alice", ca, "/O=Gannet Test/CN=alice",
                    ["subjectAltName=email:alice@example.com", CLIENT_KU, "extendedKeyUsage=clientAuth"]),
        bob=_leaf(d, "bob", ca, "/O=Gannet Test/CN=bob", [CLIENT_KU, "extendedKeyUsage=clientAuth"]),
        untrusted_ca=untrusted,
        mallory=_leaf(d, "mallory", untrusted, "/O=Gannet Test/CN=mallory",
                      ["subjectAltName=email:alice@example.com", CLIENT_KU, "extendedKeyUsage=clientAuth"]),
    )


def spki_sha256(cert):
    """`openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256`, hex."""
    d = os.path.dirname(cert)
    pub = _run(["x509", "-in", cert, "-pubkey", "-noout"], d)
    der = _run(["pkey", "-pubin", "-outform", "der"], d, stdin=pub)
    out = _run(["dgst", "-sha256", "-r"], d, stdin=der)
    return out.split()[0].decode()
