"""The in-memory backend's tiny, deterministic command interpreter.

Nothing runs for real. A container's argv (``command + args``) decides what happens when it
starts, and ``exec_sync`` interprets a handful of busybox commands, so that tests can drive
exit codes and output without a real engine:

=========================== =================================================================
argv                        behaviour
=========================== =================================================================
``true``                    exits 0 the moment it starts (exec: exit 0, no output)
``false``                   exits 1 the moment it starts (exec: exit 1)
``sh -c "exit N"``          exits N (0-255) the moment it starts (exec: exit N)
``echo ARGS…``              exec: prints ARGS joined by spaces and a newline, exit 0;
                            as a container: exits 0 the moment it starts
``sleep N``                 exec: exit 0, or DeadlineExceeded when N > timeout > 0 (no real
                            waiting); as a container: runs until stopped
``hostname``                exec: prints the sandbox's hostname (or its name), exit 0
``env``                     exec: prints the container's environment, one KEY=VALUE a line
``cat PATH``                exec: exit 1 with "No such file" (there is no filesystem)
anything else               as a container: runs until stopped or ``exit_container``;
                            exec: exit 127 with "CMD: not found" on stderr
=========================== =================================================================

Only the basename of ``argv[0]`` counts, so ``/bin/true`` behaves like ``true``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence

from attrs import frozen

from kubert.errors import DeadlineExceededError

_EXIT_RE = re.compile(r"^\s*exit\s+(\d{1,3})\s*$")


@frozen
class ExecOutcome:
    """What an exec'd command printed and how it ended."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


def _program(argv: Sequence[str]) -> str:
    return posixpath.basename(argv[0]) if argv else ""


def _shell_exit(argv: Sequence[str]) -> int | None:
    """N for ``sh -c "exit N"``, None for any other argv."""
    if len(argv) == 3 and _program(argv) in ("sh", "bash", "ash") and argv[1] == "-c":
        match = _EXIT_RE.match(argv[2])
        if match and int(match.group(1)) <= 255:
            return int(match.group(1))
    return None


def exit_on_start(argv: Sequence[str]) -> int | None:
    """The exit code of a container whose argv finishes at once, None if it keeps running."""
    program = _program(argv)
    if program == "true" or program == "echo":
        return 0
    if program == "false":
        return 1
    return _shell_exit(argv)


def run_exec(
    argv: Sequence[str],
    timeout: int,
    env: Mapping[str, str],
    hostname: str,
) -> ExecOutcome:
    """Interpret ``argv`` as ExecSync would run it.

    :raises DeadlineExceededError: ``sleep N`` with ``0 < timeout < N``.
    """
    program = _program(argv)
    shell = _shell_exit(argv)
    if shell is not None:
        return ExecOutcome(exit_code=shell)
    if program == "true":
        return ExecOutcome()
    if program == "false":
        return ExecOutcome(exit_code=1)
    if program == "echo":
        return ExecOutcome(stdout=(" ".join(argv[1:]) + "\n").encode())
    if program == "hostname":
        return ExecOutcome(stdout=f"{hostname}\n".encode())
    if program == "env":
        return ExecOutcome(stdout="".join(f"{k}={v}\n" for k, v in env.items()).encode())
    if program == "sleep":
        seconds = _seconds(argv[1:])
        if seconds is None:
            return ExecOutcome(stderr=b"sleep: invalid number\n", exit_code=1)
        if 0 < timeout < seconds:
            raise DeadlineExceededError("ExecSync " + " ".join(argv), timeout)
        return ExecOutcome()
    if program == "cat":
        missing = "".join(f"cat: can't open '{p}': No such file or directory\n" for p in argv[1:])
        return ExecOutcome(stderr=missing.encode(), exit_code=1)
    shown = argv[0] if argv else "(empty command)"
    return ExecOutcome(stderr=f"{shown}: not found\n".encode(), exit_code=127)


def _seconds(args: Sequence[str]) -> float | None:
    if len(args) != 1:
        return None
    try:
        value = float(args[0])
    except ValueError:
        return None
    return value if value >= 0 else None
