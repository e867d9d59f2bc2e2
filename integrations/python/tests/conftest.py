"""Fixtures of the plugin's own tests: pytester, the sample shop copied into
its directory, and the stand-in upstream (the repository's dev-only fake
Stripe) to record against."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[3]
SAMPLE = Path(__file__).resolve().parent / "sample"


def standin_binary() -> Path:
    path = Path(os.environ.get("STRIPE_VCR_STANDIN", REPO / "target" / "debug" / "stripe-vcr-standin"))
    if not path.is_file():
        pytest.fail(f"no stand-in binary at {path}: run `cargo build` or set STRIPE_VCR_STANDIN", pytrace=False)
    return path


class Standin:
    """A running stand-in upstream on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        self.ca = workdir / "standin-ca.pem"
        self.process = subprocess.Popen(
            [str(standin_binary()), "--listen", "127.0.0.1:0", "--cert-out", str(self.ca), "--seed", "20"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the first line says where it listens
        if not line.startswith("listening on "):
            self.stop()
            pytest.fail(f"stand-in did not start: {line!r}", pytrace=False)
        self.url = line.removeprefix("listening on ").strip()

    def args(self) -> list[str]:
        # `--opt=value`: pytest takes a separate argument that names an
        # existing path into account when it picks the rootdir.
        return [f"--stripe-vcr-upstream={self.url}", f"--stripe-vcr-upstream-ca={self.ca}"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


@pytest.fixture
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    upstream = Standin(tmp_path_factory.mktemp("standin"))
    yield upstream
    upstream.stop()


@pytest.fixture
def shop(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The sample shop's project in pytester's directory, with no leftovers of
    the outer run's stripe-vcr settings in the environment."""
    for name in ("STRIPE_VCR_RECORD", "STRIPE_VCR_UPSTREAM", "STRIPE_VCR_UPSTREAM_CA", "SHOP_AMOUNT"):
        monkeypatch.delenv(name, raising=False)
    for path in SAMPLE.iterdir():
        if path.suffix == ".py":
            shutil.copy(path, pytester.path / path.name)
    pytester.makefile(".ini", pytest="[pytest]\n")  # the project's root, as in a real project
    return pytester
