"""The pytest hooks: options, the ``stripe_vcr`` marker and fixture, failing a
test whose cassette set missed, and the end-of-session report (proxy
summaries, unused cassettes of the tests that ran, gathered from xdist
workers too)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from .binary import find_binary
from .proxy import NEW_EPISODES, RECORD, REPLAY, Kind, Proxy, ProxyError, Upstream
from .session import RECORD_MODES, Plan, Report, StripeVcr, configured

_SESSION = pytest.StashKey["_Session"]()
_ACTIVE = pytest.StashKey["_Active"]()

DEFAULT_UPSTREAM = "https://api.stripe.com"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stripe-vcr", "Stripe record/replay with stripe-vcr")
    group.addoption(
        "--stripe-vcr-record",
        choices=RECORD_MODES,
        default=None,
        help="none (default): replay only, a request with no cassette fails its test; "
        "once: record the sets of tests that have none; new_episodes: record what is missing; "
        "all: re-record the tests' sets. Also STRIPE_VCR_RECORD.",
    )
    group.addoption(
        "--stripe-vcr-upstream",
        default=None,
        metavar="URL",
        help=f"the API recording forwards to (default {DEFAULT_UPSTREAM}; also STRIPE_VCR_UPSTREAM)",
    )
    group.addoption(
        "--stripe-vcr-upstream-ca",
        default=None,
        metavar="PEM",
        help="extra CA certificate to trust for the upstream (also STRIPE_VCR_UPSTREAM_CA)",
    )
    group.addoption(
        "--stripe-vcr-cassettes",
        default=None,
        metavar="DIR",
        help="one directory for every test's cassette set (default: cassettes/ beside each test module)",
    )
    parser.addini(
        "stripe_vcr_proxy_args",
        type="args",
        default=[],
        help="extra flags for the stripe-vcr proxy, e.g. --validate strict",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stripe_vcr: give this test its own stripe-vcr cassette set, and point stripe-python at it",
    )
    config.stash[_SESSION] = _Session(config)


class _Session:
    """This process's proxies (one per cassette directory and kind, started
    when a test first needs one) and what the tests used."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        option = config.getoption
        self.record = option("--stripe-vcr-record") or os.environ.get("STRIPE_VCR_RECORD") or "none"
        if self.record not in RECORD_MODES:
            raise pytest.UsageError(f"STRIPE_VCR_RECORD={self.record}: expected one of {', '.join(RECORD_MODES)}")
        url = option("--stripe-vcr-upstream") or os.environ.get("STRIPE_VCR_UPSTREAM") or DEFAULT_UPSTREAM
        ca = option("--stripe-vcr-upstream-ca") or os.environ.get("STRIPE_VCR_UPSTREAM_CA")
        self.upstream = Upstream(url, ca)
        shared = option("--stripe-vcr-cassettes")
        self.shared_dir = Path(shared).resolve() if shared else None
        self.extra_args = tuple(config.getini("stripe_vcr_proxy_args"))
        self.proxies: dict[tuple[Path, Kind], Proxy] = {}
        self.report = Report()

    def plan(self, item: pytest.Item, override: Optional[str]) -> Plan:
        return Plan.of(item, self.record, self.shared_dir, override)

    def proxy(self, root: Path, kind: Kind) -> Proxy:
        key = (root, kind)
        if key not in self.proxies:
            try:
                binary = find_binary()
                self.proxies[key] = Proxy(
                    binary, kind, root, upstream=None if kind == REPLAY else self.upstream, extra_args=self.extra_args
                )
            except (ProxyError, RuntimeError, OSError) as e:
                raise pytest.UsageError(f"stripe-vcr: {e}") from e
        return self.proxies[key]

    def finish(self) -> None:
        """Collects unused cassettes of the sets the tests used, then stops every proxy."""
        for (root, kind), proxy in self.proxies.items():
            if kind in (REPLAY, NEW_EPISODES):
                try:
                    self.report.add_unused(root, proxy.unused())
                except ProxyError as e:
                    self.report.problems.append(str(e))
            stopped = proxy.stop()
            self.report.add_stopped(root, kind, stopped)
        self.proxies.clear()


class _Active:
    """The test in progress: its set, its proxy, and the misses seen before it."""

    def __init__(self, vcr: StripeVcr, proxy: Proxy, baseline: int) -> None:
        self.vcr, self.proxy, self.baseline = vcr, proxy, baseline

    def new_misses(self) -> list[dict[str, Any]]:
        if self.proxy.kind == RECORD:
            return []
        return [m for m in self.proxy.misses(self.vcr.set_name) if m.get("seq", 0) > self.baseline]


@pytest.fixture
def stripe_vcr(request: pytest.FixtureRequest) -> Iterator[StripeVcr]:
    """This test's cassette set, served by a stripe-vcr proxy, with
    stripe-python pointed at it (module-level ``stripe.api_base`` and
    ``StripeClient``'s default base, CA bundle) until the test ends.
    ``stripe_vcr.client()`` builds a ``StripeClient`` for the set."""
    session: _Session = request.config.stash[_SESSION]
    marker = request.node.get_closest_marker("stripe_vcr")
    override = marker.kwargs.get("set") if marker else None
    plan = session.plan(request.node, override)
    plan.prepare()
    proxy = session.proxy(plan.root, plan.kind)
    baseline = 0
    if plan.kind != RECORD:
        proxy.reset(plan.set_name)
        baseline = max((m.get("seq", 0) for m in proxy.misses(plan.set_name)), default=0)
    session.report.used(plan.root, plan.set_name)
    vcr = StripeVcr.for_plan(plan, proxy.url, proxy.ca)
    request.node.stash[_ACTIVE] = _Active(vcr, proxy, baseline)
    with configured(vcr):
        yield vcr


@pytest.fixture(autouse=True)
def _stripe_vcr_marker(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.stripe_vcr`` is the ``stripe_vcr`` fixture without the argument."""
    if request.node.get_closest_marker("stripe_vcr") is not None:
        request.getfixturevalue("stripe_vcr")


def _format(misses: list[dict[str, Any]], vcr: StripeVcr) -> str:
    lines = [f"stripe-vcr: {len(misses)} request(s) of this test had no cassette in set `{vcr.set_name}`:"]
    lines += [f"  - {m.get('message', '')}" for m in misses]
    lines.append(
        f"Cassettes: {vcr.cassette_dir}. Record what is missing with --stripe-vcr-record=new_episodes "
        "(or once / all) and an upstream."
    )
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    active: Optional[_Active] = item.stash.get(_ACTIVE, None)
    try:
        result = yield
    except BaseException:
        if active is not None:
            misses = active.new_misses()
            if misses:
                item.add_report_section("call", "stripe-vcr", _format(misses, active.vcr))
        raise
    if active is not None:
        misses = active.new_misses()
        if misses:
            pytest.fail(_format(misses, active.vcr), pytrace=False)
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    state: _Session = session.config.stash[_SESSION]
    state.finish()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["stripe_vcr"] = state.report.to_json()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist: a worker's report joins the controller's."""
    output = getattr(node, "workeroutput", None) or {}
    if "stripe_vcr" in output:
        node.config.stash[_SESSION].report.merge(Report.from_json(output["stripe_vcr"]))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is not None:
        return
    lines = config.stash[_SESSION].report.lines(config.rootpath)
    if lines:
        terminalreporter.section("stripe-vcr")
        for line in lines:
            terminalreporter.write_line(line)
