"""Crash points for fault-injection tests: ``KUBERT_INPLACE_CRASH_AT=<point>[:<container>]``
makes the process exit at once (as ``kill -9`` would) when the upgrade reaches that point.

Points: ``after-record`` (record written, nothing pulled), ``after-pull``, ``after-stop`` (the
old container stopped, the new one not created), ``after-start`` (the new one started, not
verified), ``during-rollback`` (the failed one stopped, the old image not started again).
"""

from __future__ import annotations

import os

CRASH_ENV = "KUBERT_INPLACE_CRASH_AT"
CRASH_EXIT_CODE = 137


def crash_point(point: str, container: str = "") -> None:
    """Exit the process without cleanup when ``KUBERT_INPLACE_CRASH_AT`` names this point."""
    wanted = os.environ.get(CRASH_ENV, "")
    if not wanted:
        return
    name, _, only = wanted.partition(":")
    if name == point and (not only or only == container):
        os._exit(CRASH_EXIT_CODE)
