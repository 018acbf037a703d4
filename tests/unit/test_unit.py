"""Run every C unit-test binary (build/test_*) as one pytest test each.

GANNET_BUILD names the build directory (build, build-asan, build-tsan)."""
import glob
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GANNET_BUILD", os.path.join(ROOT, "build"))
SOURCES = sorted(glob.glob(os.path.join(ROOT, "tests", "unit", "test_*.c")))


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: os.path.basename(p)[:-2])
def test_unit_binary(src):
    binary = os.path.join(BUILD, os.path.basename(src)[:-2])
    assert os.path.exists(binary), "%s not built (make unit)" % binary
    r = subprocess.run([binary], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
