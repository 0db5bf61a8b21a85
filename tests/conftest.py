"""Shared test configuration: hypothesis profiles.

``fast`` (the default) keeps the whole suite quick on a 2-core machine; ``thorough`` is for a nightly or
a bug hunt (it draws new examples each run). Choose one with ``HYPOTHESIS_PROFILE=thorough pytest ...``.
Deadlines are off: a few properties build whole search traces, and timing-sensitive properties
measure time themselves.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fast",
    max_examples=25,
    # The same examples on every run, so CI cannot fail by chance; "thorough" keeps exploring.
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
