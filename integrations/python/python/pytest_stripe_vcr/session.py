"""What one test gets (its cassette set, the proxy kind its record mode
calls for, stripe-python pointed at both) and what a session reports."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from . import naming
from .proxy import NEW_EPISODES, RECORD, REPLAY, Kind, Stopped

#: pytest-recording's record modes, the same names.
RECORD_MODES = ("none", "once", "new_episodes", "all")

#: The key a client gets when the test names none (replay accepts any test key).
PLACEHOLDER_KEY = "sk_test_stripe_vcr_placeholder"


def _cassettes(directory: Path) -> list[Path]:
    """The set's own cassette files (not those of the sets below it)."""
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if p.is_file() and p.suffix == ".json"]


@dataclass(frozen=True)
class Plan:
    """Where a test's cassettes live and which proxy serves them."""

    root: Path
    set_name: str
    kind: Kind
    #: ``all``: the set's cassettes are deleted before the test records anew.
    wipe: bool = False

    @property
    def set_dir(self) -> Path:
        return self.root / self.set_name

    @staticmethod
    def of(item: Any, record: str, shared_dir: Optional[Path], override: Optional[str] = None) -> Plan:
        root = shared_dir if shared_dir is not None else Path(item.path).parent / "cassettes"
        set_name = override or naming.set_name(item.nodeid, full_module_path=shared_dir is not None)
        set_dir = root / set_name
        if record == "none":
            return Plan(root, set_name, REPLAY)
        if record == "new_episodes":
            return Plan(root, set_name, NEW_EPISODES)
        if record == "all":
            return Plan(root, set_name, RECORD, wipe=True)
        # once: a set with cassettes is replayed as it is; one without is recorded.
        return Plan(root, set_name, REPLAY if _cassettes(set_dir) else RECORD)

    def prepare(self) -> None:
        """``all``: removes the set's own cassettes (not the sets below it)."""
        if self.wipe:
            for path in _cassettes(self.set_dir):
                path.unlink()


@dataclass(frozen=True)
class StripeVcr:
    """The ``stripe_vcr`` fixture: the test's cassette set and how to reach it."""

    #: The set's name (a path below the cassette directory).
    set_name: str
    #: Where the set's cassettes are.
    cassette_dir: Path
    #: ``replay``, ``new_episodes`` or ``record``: what the proxy does for this test.
    serving: str
    #: The proxy, ``https://127.0.0.1:PORT``.
    proxy_url: str
    #: The API base that selects this test's set: ``{proxy_url}/__cassette/{set_name}``.
    api_base: str
    #: The proxy's CA certificate (PEM) for TLS verification.
    ca_bundle: str

    @staticmethod
    def for_plan(plan: Plan, proxy_url: str, ca: str) -> StripeVcr:
        return StripeVcr(
            set_name=plan.set_name,
            cassette_dir=plan.set_dir,
            serving=plan.kind.name,
            proxy_url=proxy_url,
            api_base=f"{proxy_url}/__cassette/{plan.set_name}",
            ca_bundle=ca,
        )

    @property
    def base_addresses(self) -> dict[str, str]:
        """For ``StripeClient(key, base_addresses=…)``: every Stripe host to the proxy."""
        return {"api": self.api_base, "connect": self.api_base, "files": self.api_base, "meter_events": self.api_base}

    def client(self, api_key: Optional[str] = None, **options: Any) -> Any:
        """A ``stripe.StripeClient`` for this test's set. The key is ``api_key``,
        else ``stripe.api_key``, else ``STRIPE_API_KEY``, else a placeholder
        test key (enough for replay; recording needs a real test key)."""
        import stripe

        key = api_key or stripe.api_key or os.environ.get("STRIPE_API_KEY") or PLACEHOLDER_KEY
        options.setdefault("base_addresses", self.base_addresses)
        return stripe.StripeClient(key, **options)


# Module-level settings of stripe-python, and the defaults StripeClient takes
# its base addresses from when it is given none.
_MODULE_BASES = ("api_base", "connect_api_base", "upload_api_base", "meter_events_api_base")
_CLIENT_DEFAULTS = ("DEFAULT_API_BASE", "DEFAULT_CONNECT_API_BASE", "DEFAULT_UPLOAD_API_BASE", "DEFAULT_METER_EVENTS_API_BASE")


@contextlib.contextmanager
def configured(vcr: StripeVcr) -> Iterator[None]:
    """Points stripe-python (if installed) at the test's set for the duration:
    ``stripe.api_base`` and the other module-level bases, ``StripeClient``'s
    defaults (so an app that builds its own client is covered too), and
    ``stripe.ca_bundle_path``; everything is put back afterwards."""
    try:
        import stripe
    except ImportError:
        yield
        return
    client_module = getattr(stripe, "_stripe_client", None)
    saved: list[tuple[Any, str, Any]] = []

    def put(owner: Any, name: str, value: Any) -> None:
        if owner is not None and hasattr(owner, name):
            saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, value)

    for name in _MODULE_BASES:
        put(stripe, name, vcr.api_base)
    for name in _CLIENT_DEFAULTS:
        put(client_module, name, vcr.api_base)
    put(stripe, "ca_bundle_path", vcr.ca_bundle)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def _summary_lines(stopped: Stopped) -> list[str]:
    return [
        line
        for line in stopped.summary
        if line.startswith("stripe-vcr summary:") or line.startswith("stripe-vcr: removed")
    ]


@dataclass
class Report:
    """What a session (or an xdist worker) reports at the end."""

    #: Cassette directory → the sets tests used.
    sets: dict[str, set[str]] = field(default_factory=dict)
    #: Cassettes (absolute paths) of used sets that no test was served.
    unused: set[str] = field(default_factory=set)
    summaries: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def used(self, root: Path, set_name: str) -> None:
        self.sets.setdefault(str(root), set()).add(set_name)

    def add_unused(self, root: Path, names: list[str]) -> None:
        """Keeps the unused cassettes that belong to a set a test here used."""
        mine = self.sets.get(str(root), set())
        for name in names:
            parent = name.rpartition("/")[0]
            if parent in mine:
                self.unused.add(str(root / name))

    def add_stopped(self, root: Path, kind: Kind, stopped: Stopped) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        where = f"{kind.name} proxy over {root}" + (f" ({worker})" if worker else "")
        for line in _summary_lines(stopped):
            self.summaries.append(f"{where}: {line.removeprefix('stripe-vcr summary: ')}")
        if stopped.returncode != 0:
            self.problems.append(f"{where} exited with {stopped.returncode}:\n{stopped.log_tail}")

    def merge(self, other: Report) -> None:
        for root, names in other.sets.items():
            self.sets.setdefault(root, set()).update(names)
        self.unused |= other.unused
        self.summaries += other.summaries
        self.problems += other.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "sets": {root: sorted(names) for root, names in self.sets.items()},
            "unused": sorted(self.unused),
            "summaries": self.summaries,
            "problems": self.problems,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Report:
        return Report(
            sets={root: set(names) for root, names in data.get("sets", {}).items()},
            unused=set(data.get("unused", [])),
            summaries=list(data.get("summaries", [])),
            problems=list(data.get("problems", [])),
        )

    def lines(self, rootpath: Path) -> list[str]:
        """The terminal summary section (empty when no test used a set)."""
        if not self.sets and not self.problems:
            return []

        def shown(path: str) -> str:
            try:
                return str(Path(path).relative_to(rootpath))
            except ValueError:
                return path

        count = sum(len(names) for names in self.sets.values())
        lines = [f"{count} cassette set(s) used"] + [f"  {s}" for s in sorted(self.summaries)]
        if self.unused:
            lines.append(f"{len(self.unused)} cassette(s) of the tests that ran were never served:")
            lines += [f"  {shown(p)}" for p in sorted(self.unused)]
        lines += [f"PROBLEM: {p}" for p in self.problems]
        return lines
