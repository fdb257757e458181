"""kubert's pytest plugin (entry point ``pytest11: kubert``), loaded in every pytest run.

It lives outside the ``kubert`` package so that loading it imports nothing but this module:
not kubert, not hypothesis. Its one job: when ``--hypothesis-profile`` names one of the
conformance suite's profiles (``ci``, ``thorough``), register them before hypothesis loads the
profile. The suite itself is opt-in: a test module imports :mod:`kubert.testing.suite`.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: Any) -> None:
    try:
        profile = config.getoption("hypothesis_profile", None)
    except ValueError:
        return
    if profile in ("ci", "thorough"):
        from kubert.testing import profiles

        profiles.register()
