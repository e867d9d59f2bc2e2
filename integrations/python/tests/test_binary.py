"""Which stripe-vcr binary the plugin runs."""

import os
from pathlib import Path

import pytest

from pytest_stripe_vcr.binary import BinaryNotFound, find_binary


def test_the_wheel_bundles_the_binary_the_plugin_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = os.environ.get("STRIPE_VCR_EXPECT_BUNDLED")
    if not bundled:
        pytest.skip("run by integrations/python/ci.sh, with the plugin installed from its wheel")
    monkeypatch.delenv("STRIPE_VCR_BIN", raising=False)
    assert find_binary() == Path(bundled)


def test_stripe_vcr_bin_comes_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "stripe-vcr"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("STRIPE_VCR_BIN", str(fake))
    assert find_binary() == fake
    fake.chmod(0o644)
    with pytest.raises(BinaryNotFound, match="is not an executable file"):
        find_binary()
