"""Cassette set names from pytest node ids.

A set name is ``/``-separated segments of letters, digits, ``.``, ``_`` and
``-`` (what the proxy accepts). ``tests/test_checkout.py::TestRefunds::test_refund[eur]``
becomes ``test_checkout/TestRefunds/test_refund-eur`` under the module's
``cassettes/`` directory. A segment that had to change at all gets a short
hash of its original text (``[two words]`` → ``two-words-a03f1d61``), so two
different ids never share a set, even on different xdist workers; a name
stays the same from run to run and machine to machine.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_SEGMENT = 80
#: The proxy refuses longer set names.
MAX_NAME = 200


def segment(text: str) -> str:
    """One safe path segment for ``text`` (see the module docs)."""
    safe = _UNSAFE.sub("-", text).strip("-.")
    lossless = safe == text
    if len(safe) > MAX_SEGMENT:
        safe, lossless = safe[:MAX_SEGMENT].rstrip("-."), False
    if lossless and safe:
        return safe
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{safe}-{digest}" if safe else f"unnamed-{digest}"


def test_segments(nodeid: str) -> list[str]:
    """The segments naming a test within its module: classes, then the
    function with its parameter id (``test_refund[eur]`` → ``test_refund-eur``)."""
    parts = nodeid.split("::")[1:]
    if not parts:
        return [segment(nodeid)]
    *classes, name = parts
    base, bracket, params = name.partition("[")
    if bracket:
        name = f"{base}-{segment(params[:-1] if params.endswith(']') else params)}"
    return [segment(c) for c in classes] + [segment(name)]


def module_segments(module_path: str) -> list[str]:
    """The segments of a module path relative to the rootdir, ``.py`` dropped
    (``tests/api/test_x.py`` → ``tests/api/test_x``)."""
    path = PurePosixPath(module_path.replace("\\", "/"))
    parts = list(path.parent.parts) + [path.stem]
    return [segment(p) for p in parts if p not in ("", ".")]


def set_name(nodeid: str, *, full_module_path: bool) -> str:
    """The set of the test ``nodeid``: the module's file name and the test's
    segments (beside the module), or the module's whole path and the test's
    segments (one shared ``--stripe-vcr-cassettes`` directory)."""
    module = nodeid.split("::", 1)[0]
    mod = module_segments(module)
    if not full_module_path:
        mod = mod[-1:]
    name = "/".join(mod + test_segments(nodeid))
    if len(name) <= MAX_NAME:
        return name
    # Too deep for the proxy: keep the start, readable, and a hash of the whole id.
    digest = hashlib.sha256(nodeid.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9].rstrip('/.-')}-{digest}"
