"""Fixtures of the TLS tests: the session's certificates (tests/lib/tlscerts.py)."""
import pytest

import tlscerts


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """CA, server (RSA, ECDSA, expired) and client certificates, made once
    per session with the openssl CLI in a temporary directory."""
    return tlscerts.generate(str(tmp_path_factory.mktemp("tlscerts")))
