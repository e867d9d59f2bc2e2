"""One ``stripe-vcr`` process: started on a free loopback port, known ready
from its ``--ready-json`` line and ``/__stripe-vcr/health``, asked about
misses and unused cassettes through its admin paths, stopped with SIGTERM so
that it syncs what it recorded and prints its summary."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0


class ProxyError(RuntimeError):
    """The proxy would not start, or its admin paths did not answer."""


@dataclass(frozen=True)
class Upstream:
    """Where recording forwards to."""

    url: str
    ca: Optional[str] = None

    def args(self) -> list[str]:
        args = ["--upstream", self.url]
        if self.ca:
            args += ["--upstream-ca", self.ca]
        return args


@dataclass(frozen=True)
class Kind:
    """What a proxy does with requests: ``replay`` (misses fail),
    ``new_episodes`` (misses are recorded) or ``record`` (everything is)."""

    name: str

    def command(self, upstream: Optional[Upstream]) -> list[str]:
        if self.name == "replay":
            return ["replay"]
        if upstream is None:
            raise ProxyError(f"{self.name} needs an upstream")
        if self.name == "new_episodes":
            return ["replay", "--record-missing", *upstream.args()]
        return ["record", *upstream.args()]


REPLAY, NEW_EPISODES, RECORD = Kind("replay"), Kind("new_episodes"), Kind("record")


@dataclass
class Stopped:
    """What a proxy said when it stopped."""

    returncode: int
    summary: list[str] = field(default_factory=list)
    #: The end of its log when it exited with an error.
    log_tail: str = ""


class Proxy:
    """A running ``stripe-vcr`` over one cassette directory."""

    def __init__(
        self,
        binary: Path,
        kind: Kind,
        cassettes: Path,
        *,
        upstream: Optional[Upstream] = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        self.cassettes = cassettes
        self._dir = tempfile.TemporaryDirectory(prefix="stripe-vcr-")
        work = Path(self._dir.name)
        self.log_path = work / "proxy.log"
        cassettes.mkdir(parents=True, exist_ok=True)
        argv = [
            str(binary),
            *kind.command(upstream),
            "--listen",
            "127.0.0.1:0",
            "--ready-json",
            # The proxy stops when this process does, however it ends: the
            # pipe's write end is ours alone and closes with us.
            "--stop-on-stdin-close",
            "--cassettes",
            str(cassettes),
            "--certs",
            str(work / "certs"),
            *extra_args,
        ]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        self._stdout: list[str] = []
        self._reader = threading.Thread(target=self._read, name="stripe-vcr stdout", daemon=True)
        self._reader.start()
        ready = self._wait_ready(argv)
        self.url: str = ready["url"]
        self.port: int = ready["port"]
        self.ca: str = ready["ca"]
        self.admin = f"http://127.0.0.1:{self.port}/__stripe-vcr/"
        health = self.get("health")
        if health.get("status") != "ok":
            self.stop()
            raise ProxyError(f"stripe-vcr health check answered {health}")

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _wait_ready(self, argv: list[str]) -> dict[str, Any]:
        while True:
            try:
                line = self._lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                self._process.kill()
                self._close_stdin()
                raise ProxyError(f"stripe-vcr did not start within {START_TIMEOUT:.0f}s: {self.log_tail()}") from None
            if line is None:
                self._process.wait()
                self._close_stdin()
                raise ProxyError(
                    f"stripe-vcr exited ({self._process.returncode}) before listening: "
                    f"{' '.join(argv)}\n{self.log_tail()}"
                )
            try:
                ready = json.loads(line)
            except ValueError:
                self._stdout.append(line)
                continue
            if isinstance(ready, dict) and ready.get("ready"):
                return ready

    def _close_stdin(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            try:
                self._process.stdin.close()
            except OSError:
                pass

    def log_tail(self, lines: int = 20) -> str:
        """The end of the proxy's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _call(self, method: str, path: str, **query: str) -> dict[str, Any]:
        url = self.admin + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as e:
            body = json.load(e)
            body["status"] = e.code
            return body
        except OSError as e:
            raise ProxyError(f"stripe-vcr admin {method} {path}: {e}") from e

    def get(self, path: str, **query: str) -> dict[str, Any]:
        return self._call("GET", path, **query)

    def reset(self, set_name: str) -> None:
        """Restarts the set's sequences (a set this proxy has not loaded is fine)."""
        self._call("POST", "reset", set=set_name)

    def misses(self, set_name: str) -> list[dict[str, Any]]:
        """The misses of a set so far: ``seq``, ``set``, ``message``."""
        return list(self.get("misses", set=set_name).get("misses", []))

    def unused(self) -> list[str]:
        """Cassettes not served so far, relative to the cassette directory."""
        return list(self.get("unused").get("unused", []))

    def stop(self) -> Stopped:
        """SIGTERM, then what it printed: the summary and unused cassettes."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            self._close_stdin()
            try:
                self._process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._reader.join()
        while True:
            line = self._lines.get()
            if line is None:
                break
            self._stdout.append(line)
        self._log.close()
        code = self._process.returncode
        printed = [line for line in self._stdout if line.strip()]
        stopped = Stopped(code, printed, self.log_tail() if code else "")
        self._dir.cleanup()
        return stopped
