"""The plugin end to end: the sample shop's tests (tests/sample/) run in a
fresh directory by pytester, in a pytest subprocess that loads the plugin
through its entry point and starts the real stripe-vcr binary, recording
against the stand-in upstream and replaying with it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Standin

#: The sample's tests and the cassettes each records.
SETS = {
    "test_shop/test_pay": 2,
    "test_shop/test_refund-usd": 3,
    "test_shop/test_refund-eur": 3,
    "test_shop/test_module_level": 1,
    "test_shop/test_own_client": 1,
    "test_shop/test_swallowed_error": 1,
}
TESTS = len(SETS) + 1  # and one test that uses no set


def run(shop: pytest.Pytester, *args: str) -> pytest.RunResult:
    return shop.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def cassettes(shop: pytest.Pytester) -> dict[str, list[str]]:
    """Set name → its cassette files, as on disk."""
    root = shop.path / "cassettes"
    return {
        str(d.relative_to(root)): sorted(p.name for p in d.glob("*.json"))
        for d in sorted(root.rglob("*"))
        if d.is_dir() and any(d.glob("*.json"))
    }


def snapshot(shop: pytest.Pytester) -> dict[str, bytes]:
    root = shop.path / "cassettes"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def record(shop: pytest.Pytester, standin: Standin, *extra: str) -> pytest.RunResult:
    result = run(shop, "--stripe-vcr-record=all", *standin.args(), *extra)
    result.assert_outcomes(passed=TESTS)
    return result


def test_records_each_test_into_its_own_set_then_replays_offline(shop: pytest.Pytester, standin: Standin) -> None:
    recorded = record(shop, standin)
    recorded.stdout.fnmatch_lines(["*stripe-vcr*", "*record proxy over*11 recorded*"])
    on_disk = cassettes(shop)
    assert {name: len(files) for name, files in on_disk.items()} == SETS
    text = "".join(p.decode() for p in snapshot(shop).values())
    assert "sk_test_shop_sample" not in text and "_secret_REDACTED" in text

    standin.stop()
    replayed = run(shop)
    replayed.assert_outcomes(passed=TESTS)
    replayed.stdout.fnmatch_lines(["*replay proxy over*11 hits, 0 misses*"])
    assert "never served" not in replayed.stdout.str()


def test_a_changed_parameter_fails_the_test_with_the_near_miss(
    shop: pytest.Pytester, standin: Standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(shop, standin)
    standin.stop()
    monkeypatch.setenv("SHOP_AMOUNT", "999")
    result = run(shop)
    result.assert_outcomes(passed=3, failed=4)
    out = result.stdout.str()
    assert "differs in amount: 999 ≠ 1200" in out, out
    assert "Closest recording: test_shop/test_pay/create-" in out
    # The app swallowed the SDK's error; the plugin still fails the test, with the message.
    result.stdout.fnmatch_lines(["FAILED test_shop.py::test_swallowed_error - Failed: stripe-vcr: 1 request(s)*"])
    assert "differs in amount: 1000 ≠ 1201" in out


def test_a_test_with_no_recording_fails_in_replay(shop: pytest.Pytester) -> None:
    result = run(shop, "-k", "test_pay")
    result.assert_outcomes(failed=1, deselected=TESTS - 1)
    result.stdout.fnmatch_lines(["*no cassette set*test_shop/test_pay*", "*--stripe-vcr-record=new_episodes*"])


def test_xdist_workers_keep_their_sets_apart(shop: pytest.Pytester, standin: Standin) -> None:
    recorded = record(shop, standin, "-n", "2")
    recorded.stdout.fnmatch_lines(["*record proxy over*(gw0)*", "*record proxy over*(gw1)*"])
    on_disk = cassettes(shop)
    assert {name: len(files) for name, files in on_disk.items()} == SETS
    for currency in ("usd", "eur"):
        root = shop.path / "cassettes" / f"test_shop/test_refund-{currency}"
        creates = [json.loads(p.read_text()) for p in root.glob("create-*.json")]
        assert [c["request"]["params"]["currency"] for c in creates] == [currency]

    standin.stop()
    replayed = run(shop, "-n", "2")
    replayed.assert_outcomes(passed=TESTS)
    replayed.stdout.fnmatch_lines(["*replay proxy over*(gw*)*0 misses*", "*replay proxy over*(gw*)*0 misses*"])


def test_once_records_only_the_tests_that_have_no_cassettes(
    shop: pytest.Pytester, standin: Standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(shop, standin)
    before = snapshot(shop)
    shop.makepyfile(
        test_new="""
        import pytest

        @pytest.mark.stripe_vcr
        def test_customer(stripe_vcr):
            customer = stripe_vcr.client().v1.customers.create(params={"email": "new@example.com"})
            assert customer.email == "new@example.com"
        """
    )
    # A recorded test that now sends something else stays a replay: once never re-records it.
    monkeypatch.setenv("SHOP_AMOUNT", "999")
    result = run(shop, "--stripe-vcr-record=once", *standin.args())
    result.assert_outcomes(passed=TESTS - 4 + 1, failed=4)
    after = snapshot(shop)
    assert {k: v for k, v in after.items() if k in before} == before, "once left recorded sets alone"
    assert [k for k in after if k not in before] == [
        f"test_new/test_customer/{name}" for name in cassettes(shop)["test_new/test_customer"]
    ]

    standin.stop()
    monkeypatch.delenv("SHOP_AMOUNT")
    run(shop, "--stripe-vcr-record=once", *standin.args()).assert_outcomes(passed=TESTS + 1)


def test_new_episodes_records_the_requests_a_test_adds(
    shop: pytest.Pytester, standin: Standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(shop, standin)
    monkeypatch.setenv("SHOP_RETRIEVE", "1")
    run(shop, "-k", "test_pay").assert_outcomes(failed=1, deselected=TESTS - 1)
    grown = run(shop, "-k", "test_pay", "--stripe-vcr-record=new_episodes", *standin.args())
    grown.assert_outcomes(passed=1, deselected=TESTS - 1)
    assert [n.split("-")[0] for n in cassettes(shop)["test_shop/test_pay"]] == ["confirm", "create", "retrieve"]

    standin.stop()
    run(shop, "-k", "test_pay").assert_outcomes(passed=1, deselected=TESTS - 1)


def test_unused_cassettes_of_the_selected_tests_are_reported(
    shop: pytest.Pytester, standin: Standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(shop, standin)
    standin.stop()
    monkeypatch.setenv("SHOP_NO_REFUND", "1")
    result = run(shop, "-k", "test_refund or test_own_client")
    result.assert_outcomes(passed=3, deselected=TESTS - 3)
    out = result.stdout.str()
    section = out[out.index("2 cassette(s) of the tests that ran were never served:") :].splitlines()[1:3]
    assert sorted(line.strip().split("/")[2] for line in section) == ["test_refund-eur", "test_refund-usd"]
    assert all("/refunds.create-" in line for line in section), section
    assert "test_pay/" not in out, "cassettes of tests that did not run are not reported"


def test_a_missing_binary_is_named_with_where_the_plugin_looked(
    shop: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STRIPE_VCR_BIN", str(tmp_path / "no-such-stripe-vcr"))
    result = run(shop, "-k", "test_pay")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*STRIPE_VCR_BIN=*no-such-stripe-vcr is not an executable file*"])


def test_one_cassette_directory_and_a_set_named_by_the_marker(shop: pytest.Pytester, standin: Standin) -> None:
    shop.makepyfile(
        test_named="""
        import pytest

        @pytest.mark.stripe_vcr(set="checkout/happy-path")
        def test_named(stripe_vcr):
            assert stripe_vcr.set_name == "checkout/happy-path"
            stripe_vcr.client().v1.customers.create(params={"email": "named@example.com"})
        """
    )
    result = run(shop, "--stripe-vcr-record=all", "--stripe-vcr-cassettes", "shared", *standin.args())
    result.assert_outcomes(passed=TESTS + 1)
    shared = shop.path / "shared"
    sets = sorted(str(d.relative_to(shared)) for d in shared.rglob("*") if d.is_dir() and any(d.glob("*.json")))
    assert sets == sorted([*SETS, "checkout/happy-path"])
    assert not (shop.path / "cassettes").exists()

    standin.stop()
    run(shop, "--stripe-vcr-cassettes", "shared").assert_outcomes(passed=TESTS + 1)
