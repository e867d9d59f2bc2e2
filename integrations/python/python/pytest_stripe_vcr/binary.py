"""Finding the ``stripe-vcr`` binary: the one named by ``STRIPE_VCR_BIN``, the
one bundled in this package's wheel, or the one on ``PATH``, in that order."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

ENV_VAR = "STRIPE_VCR_BIN"
NAME = "stripe-vcr"


class BinaryNotFound(RuntimeError):
    """No ``stripe-vcr`` binary anywhere the plugin looks."""


def _bundled() -> list[Path]:
    """Where a wheel built with maturin's ``bin`` bindings installs the binary:
    the scripts directory of the environment this package lives in (a venv's
    ``bin/``), or of the user scheme for ``pip install --user``."""
    exe = NAME + (".exe" if sys.platform == "win32" else "")
    places = [Path(sysconfig.get_path("scripts")) / exe]
    user_scheme = f"{os.name}_user" if os.name != "posix" else "posix_user"
    try:
        places.append(Path(sysconfig.get_path("scripts", scheme=user_scheme)) / exe)
    except KeyError:
        pass
    return places


def find_binary() -> Path:
    """The binary to run, or :class:`BinaryNotFound` saying where it looked."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise BinaryNotFound(f"{ENV_VAR}={explicit} is not an executable file")
    for path in _bundled():
        if path.is_file() and os.access(path, os.X_OK):
            return path
    on_path = shutil.which(NAME)
    if on_path:
        return Path(on_path)
    raise BinaryNotFound(
        f"cannot find the {NAME} binary: set {ENV_VAR}=/path/to/{NAME}, install the "
        f"pytest-stripe-vcr wheel that bundles it, or put {NAME} on PATH "
        f"(`cargo install --path .` in a stripe-vcr checkout)"
    )
