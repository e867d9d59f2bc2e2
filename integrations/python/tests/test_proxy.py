"""The proxy process's life cycle, as the plugin runs it."""

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_stripe_vcr.binary import find_binary

PARENT = r"""
import sys, time
from pathlib import Path
from pytest_stripe_vcr.proxy import Proxy, REPLAY
proxy = Proxy(Path(sys.argv[1]), REPLAY, Path(sys.argv[2]))
print(proxy._process.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="waits on a pidfd, which is Linux's")
def test_a_proxy_does_not_outlive_a_killed_pytest(tmp_path: Path) -> None:
    # The killed parent cannot clean up its temporary directory (the proxy's
    # CA with its key): it goes below tmp_path, not the system's /tmp.
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(find_binary()), str(tmp_path / "cassettes")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    watch = os.pidfd_open(pid)  # readable once the process has exited
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        readable, _, _ = select.select([watch], [], [], 30)
        if not readable:
            os.kill(pid, signal.SIGKILL)
        assert readable, "the proxy lived on after its parent was killed"
    finally:
        os.close(watch)
