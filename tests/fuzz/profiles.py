"""The fuzz tests' hypothesis settings, chosen by ``BEATLIGHT_FUZZ``: ``ci`` (default) or ``long``.

``ci`` is derandomised (the same examples on every run, so CI never flickers) and
bounded; ``long`` draws fresh random examples, twenty times as many, and prints a
``@reproduce_failure`` blob with any failure. The profiles are applied per test with
:func:`fuzz`, never loaded globally, so the suite's other hypothesis tests keep their own
settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["MODE", "fuzz", "timeout"]

_MODES = ("ci", "long")
MODE = os.environ.get("BEATLIGHT_FUZZ", "ci").strip().lower() or "ci"
if MODE not in _MODES:
    raise RuntimeError(f"BEATLIGHT_FUZZ={MODE!r}: use ci (the default) or long")

#: How many times more examples the long mode draws.
LONG_FACTOR = 20

settings.register_profile(
    "beatlight-fuzz-ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)  # fmt: skip
settings.register_profile(
    "beatlight-fuzz-long",
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)  # fmt: skip


def fuzz(examples: int) -> settings:
    """Settings for one fuzz test: ``examples`` in CI, ``LONG_FACTOR`` times more when long."""
    parent = settings.get_profile(f"beatlight-fuzz-{MODE}")
    wanted = examples if MODE == "ci" else examples * LONG_FACTOR
    return settings(parent, max_examples=wanted)


def timeout(seconds: int) -> int:
    """A fuzz test's time limit: ``seconds`` in CI, scaled like the examples when long."""
    return seconds if MODE == "ci" else seconds * LONG_FACTOR
