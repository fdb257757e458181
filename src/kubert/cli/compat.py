"""cri-dockerd's command line on ``kubert serve``: its flags, its value syntax, its meanings.

An operator swaps ``cri-dockerd`` for ``kubert serve`` in a unit file and keeps the flags.
Every flag cri-dockerd's ``--help`` lists is accepted:

* where kubert has the same flag (core or a plugin's), it is simply that flag;
* where kubert's name differs, the cri-dockerd name is a second name of kubert's flag
  (``--cri-dockerd-root-directory`` is ``--root-directory``);
* where the flag means nothing for kubert, or the plugin that would use it is not loaded, it
  is accepted and a one-line notice says why it has no effect; never a failure.

Values are read as cri-dockerd's flag library reads them: ``--flag=value`` or ``--flag value``,
booleans as ``--flag`` or ``--flag=true|false``, durations as Go writes them (``1m30s``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import click
from attrs import frozen

__all__ = [
    "CRI_DOCKERD_FLAGS",
    "DURATION_FLAGS",
    "CriDockerdFlag",
    "Duration",
    "normalize_bool_flags",
    "parse_duration",
]


@frozen
class CriDockerdFlag:
    """One flag of cri-dockerd 0.4 (``cri-dockerd --help``).

    :ivar takes_value: False for the boolean flags.
    :ivar provider: what in kubert serves it (``core`` or the plugin distribution) — used in
        the notice when that plugin is not loaded.
    :ivar kubert_flag: kubert's own flag, when its name differs.
    """

    name: str
    takes_value: bool
    provider: str
    kubert_flag: str = ""


CRI_DOCKERD_FLAGS: tuple[CriDockerdFlag, ...] = (
    CriDockerdFlag("--buildinfo", False, "core"),
    CriDockerdFlag("--cni-bin-dir", True, "kubert-cni"),
    CriDockerdFlag("--cni-cache-dir", True, "kubert-cni"),
    CriDockerdFlag("--cni-conf-dir", True, "kubert-cni"),
    CriDockerdFlag("--container-runtime-endpoint", True, "core"),
    CriDockerdFlag("--cri-dockerd-root-directory", True, "core", "--root-directory"),
    CriDockerdFlag("--docker-endpoint", True, "kubert-docker"),
    CriDockerdFlag("--hairpin-mode", True, "kubert-cni (kubenet)"),
    CriDockerdFlag("--help", False, "core"),
    CriDockerdFlag("--image-pull-progress-deadline", True, "kubert-docker"),
    CriDockerdFlag("--ipv6-dual-stack", False, "core"),
    CriDockerdFlag("--log-level", True, "core"),
    CriDockerdFlag("--network-plugin", True, "core"),
    CriDockerdFlag("--network-plugin-mtu", True, "kubert-cni (kubenet)"),
    CriDockerdFlag("--pod-cidr", True, "kubert-cni"),
    CriDockerdFlag("--pod-infra-container-image", True, "core"),
    CriDockerdFlag("--runtime-cgroups", True, "kubert-docker"),
    CriDockerdFlag("--runtime-request-timeout", True, "kubert-docker"),
    CriDockerdFlag("--streaming-bind-addr", True, "core", "--streaming-address"),
    CriDockerdFlag("--version", False, "core"),
)

#: Flags whose cri-dockerd value is a Go duration; kubert's options hold seconds.
DURATION_FLAGS = frozenset({"--image-pull-progress-deadline", "--runtime-request-timeout"})

#: Boolean flags -> the argument that sets them false (None: false is the default, drop it).
_BOOL_FALSE = {"--ipv6-dual-stack": "--no-ipv6-dual-stack", "--version": None,
               "--buildinfo": None, "--help": None}
_TRUE = {"1", "t", "true"}
_FALSE = {"0", "f", "false"}

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                 "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1m0s``, ``1.5h``, ``300ms``, ``0``) or a plain number.

    :raises ValueError: neither form; the message shows both.
    """
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    sign = -1.0 if value.startswith("-") else 1.0
    rest = value.lstrip("+-")
    total, position = 0.0, 0
    for match in _DURATION_PART.finditer(rest):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not rest or position != len(rest):
        raise ValueError(f"{text!r} is not a duration such as 90s, 1m30s or 90")
    return sign * total


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A click type for seconds given as a Go duration or a number; ``integer`` rounds up."""

    name = "duration"

    def __init__(self, integer: bool = False) -> None:
        self.integer = integer

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except ValueError as error:
                self.fail(str(error), param, ctx)
        if seconds < 0:
            self.fail(f"{value!r} is negative", param, ctx)
        return math.ceil(seconds) if self.integer else seconds


def normalize_bool_flags(args: Iterable[str]) -> list[str]:
    """``--ipv6-dual-stack=false`` -> ``--no-ipv6-dual-stack``, ``--version=true`` ->
    ``--version``: the boolean forms cri-dockerd's flag library accepts, in click's terms.

    :raises click.BadParameter: a boolean flag given a value that is not a boolean.
    """
    result: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":  # what follows is not flags
            result.append(arg)
            result.extend(rest)
            break
        flag, sep, value = arg.partition("=")
        if not sep or flag not in _BOOL_FALSE:
            result.append(arg)
            continue
        word = value.lower()
        if word in _TRUE:
            result.append(flag)
        elif word in _FALSE:
            negative = _BOOL_FALSE[flag]
            if negative is not None:
                result.append(negative)
        else:
            raise click.BadParameter(
                f"{value!r} is not a boolean (true or false)", param_hint=f"'{flag}'"
            )
    return result
