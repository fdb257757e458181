"""Fault injection for crash tests: kubert dies on the spot at a named step when told to.

``KUBERT_CRASH_AT=<point>[,<point>…]`` makes the process call ``os._exit`` the moment it
reaches one of those points, with no cleanup, as a SIGKILL there would. The crash harness
(tests/crash) uses it to stop kubert between the steps of RunPodSandbox, stop and remove, where
a random SIGKILL rarely lands. Unset (always, outside tests), a point costs one dict lookup.
"""

from __future__ import annotations

import os

__all__ = ["CRASH_POINTS", "ENV", "EXIT_CODE", "crash_point"]

ENV = "KUBERT_CRASH_AT"
#: What a shell reports for a SIGKILLed process, so the harness treats both alike.
EXIT_CODE = 137

#: Every point the core passes, in the order a pod's life reaches them.
CRASH_POINTS = (
    "run:created",  # sandbox created, no checkpoint yet
    "run:checkpointed",  # checkpoint written, sandbox not started
    "run:started",  # sandbox running, network not set up
    "run:network",  # network set up, not yet recorded in the checkpoint
    "run:recorded",  # everything done, the reply not sent
    "run:undoing",  # a failed RunPodSandbox has undone its last step only
    "stop:torn-down",  # network torn down, sandbox still running
    "remove:stopped",  # sandbox stopped, not removed
    "remove:removed",  # sandbox removed, checkpoint still there
)


def crash_point(name: str) -> None:
    """Exit at once, as SIGKILL would, when ``name`` is listed in ``$KUBERT_CRASH_AT``."""
    wanted = os.environ.get(ENV)
    if wanted and name in wanted.split(","):
        os.write(2, f"kubert: crash point {name!r} reached ({ENV}); exiting now\n".encode())
        os._exit(EXIT_CODE)
