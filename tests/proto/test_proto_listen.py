"""Listening: a port another server already holds is refused at start."""
import subprocess


def test_second_server_on_same_port_fails(server, server_bin):
    r = subprocess.run([server_bin, "-a", "127.0.0.1", "-p", str(server.port)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "address already in use" in (r.stdout + r.stderr).lower()
