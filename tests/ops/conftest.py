import os
import shutil
import subprocess
import tempfile

import pytest

from opshelp import ROOT


@pytest.fixture(scope="session")
def probe():
    """tests/ops/probe.c built against the gannet library under test
    (GANNET_BUILD, default build/): the path of the binary."""
    build = os.environ.get("GANNET_BUILD", os.path.join(ROOT, "build"))
    lib = os.path.join(build, "libgannet.a")
    if not os.path.exists(lib):
        pytest.skip("no %s (run make)" % lib)
    d = tempfile.mkdtemp(prefix="gannet-probe-")
    out = os.path.join(d, "probe")
    extra = ["-fsanitize=address,undefined"] if "asan" in build else ["-fsanitize=thread"] if "tsan" in build else []
    cc = os.environ.get("CC") or ("clang" if extra else "cc")  # the sanitizer builds are clang's
    cmd = [cc, "-std=gnu17", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", "-pthread"] + extra + [
        "-I" + os.path.join(ROOT, "core"), os.path.join(ROOT, "tests", "ops", "probe.c"), lib, "-lwolfssl", "-lm", "-o", out]
    r = subprocess.run(cmd, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    yield out
    shutil.rmtree(d, ignore_errors=True)

