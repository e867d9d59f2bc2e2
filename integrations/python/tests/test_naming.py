"""Set names from node ids: readable, valid for the proxy, stable, distinct."""

import re

import pytest

from pytest_stripe_vcr.naming import segment, set_name

VALID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")


@pytest.mark.parametrize(
    ("nodeid", "beside_module", "shared_dir"),
    [
        ("tests/test_checkout.py::test_refund", "test_checkout/test_refund", "tests/test_checkout/test_refund"),
        ("tests/test_checkout.py::test_refund[eur]", "test_checkout/test_refund-eur", "tests/test_checkout/test_refund-eur"),
        (
            "tests/api/test_x.py::TestRefunds::test_partial[1-usd]",
            "test_x/TestRefunds/test_partial-1-usd",
            "tests/api/test_x/TestRefunds/test_partial-1-usd",
        ),
        ("test_top.py::test_a[two words]", "test_top/test_a-two-words-a03f1d61", "test_top/test_a-two-words-a03f1d61"),
    ],
)
def test_readable_names(nodeid: str, beside_module: str, shared_dir: str) -> None:
    assert set_name(nodeid, full_module_path=False) == beside_module
    assert set_name(nodeid, full_module_path=True) == shared_dir


@pytest.mark.parametrize(
    "ids",
    [
        ["a/b", "a:b", "a-b"],
        ["x.y", "x y z", "x-y-z"],
        ["€", "£", ""],
        ["..", ".hidden", "-"],
    ],
)
def test_lossy_ids_get_a_hash_so_they_never_collide(ids: list[str]) -> None:
    names = [set_name(f"tests/test_m.py::test_p[{i}]", full_module_path=False) for i in ids]
    assert len(set(names)) == len(names), names
    assert all(VALID.match(n) for n in names), names


def test_names_are_stable_and_bounded() -> None:
    long = "p" * 500
    first = segment(long)
    assert first == segment(long)
    assert len(first) <= 90 and VALID.match(first)
    assert segment("x" * 500) != first


def test_a_deep_name_stays_within_what_the_proxy_accepts() -> None:
    nodeid = "tests/" + "/".join(["package"] * 40) + "/test_m.py::TestA::TestB::test_x[1]"
    name = set_name(nodeid, full_module_path=True)
    assert len(name) <= 200 and VALID.match(name), name
    assert name != set_name(nodeid.replace("[1]", "[2]"), full_module_path=True)
