"""pytest-stripe-vcr: every test gets its own stripe-vcr cassette set, replayed
offline by default and recorded on request (``--stripe-vcr-record``).

The plugin itself is :mod:`pytest_stripe_vcr.plugin`, loaded by pytest through
the ``pytest11`` entry point.
"""

from importlib.metadata import PackageNotFoundError, version

from .binary import BinaryNotFound, find_binary
from .session import RECORD_MODES, StripeVcr

try:
    __version__ = version("pytest-stripe-vcr")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = ["RECORD_MODES", "BinaryNotFound", "StripeVcr", "find_binary", "__version__"]
