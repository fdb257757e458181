"""How in-place upgrades behave: pod annotations, with node-wide defaults from the environment.

Each setting is the pod annotation ``inplace.kubert.io/<key>``; when a pod does not set it, the
environment variable ``KUBERT_INPLACE_<KEY>`` (upper case, ``-`` as ``_``) gives the node's
default, else the built-in default applies. ``KUBERT_INPLACE=off`` switches the plugin off
for every pod, as blocking it (``KUBERT_BLOCK_PLUGINS=inplace``) does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from attrs import frozen

from kubert import InvalidArgumentError
from kubert.kubelet import Pod

PREFIX = "inplace.kubert.io/"
SWITCH_ENV = "KUBERT_INPLACE"
IN_PLACE_IF_POSSIBLE = "InPlaceIfPossible"
RECREATE = "ReCreate"
SIDECARS_FIRST = "sidecars-first"
SIDECARS_LAST = "sidecars-last"

T = TypeVar("T")


@frozen(kw_only=True)
class Settings:
    """One pod's in-place upgrade settings.

    :ivar policy: ``InPlaceIfPossible`` or ``ReCreate`` (the kubelet's own behaviour).
    :ivar grace_period: seconds between SIGTERM and SIGKILL when stopping the old container;
        None: the pod's ``terminationGracePeriodSeconds``.
    :ivar verify_seconds: how long the new container must keep running to count as up.
    :ivar timeout_seconds: how long it may take to come up (startup probe included).
    :ivar rollback: go back to the previous image when the new one fails.
    :ivar order: ``sidecars-first``, ``sidecars-last``, or container names in upgrade order
        (unnamed containers follow, sidecars first).
    :ivar max_unavailable: how many containers are upgraded at the same time.
    """

    policy: str = IN_PLACE_IF_POSSIBLE
    grace_period: int | None = None
    verify_seconds: float = 3.0
    timeout_seconds: float = 60.0
    rollback: bool = True
    order: tuple[str, ...] = (SIDECARS_FIRST,)
    max_unavailable: int = 1

    @property
    def enabled(self) -> bool:
        return self.policy == IN_PLACE_IF_POSSIBLE


def switched_off(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``KUBERT_INPLACE`` turns the plugin off on this node."""
    value = (environ if environ is not None else os.environ).get(SWITCH_ENV, "")
    return value.strip().lower() in ("0", "off", "false", "no")


def settings_for(pod: Pod, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of ``pod``. :raises InvalidArgumentError: naming the bad annotation."""
    env = environ if environ is not None else os.environ
    annotations = pod.metadata.annotations
    names = {c.name for c in pod.spec.containers + pod.spec.init_containers}

    def get(key: str, parse: Callable[[str, str], T], default: T) -> T:
        where = f"metadata.annotations['{PREFIX}{key}']"
        raw = annotations.get(PREFIX + key)
        if raw is None:
            where = SWITCH_ENV + "_" + key.upper().replace("-", "_")
            raw = env.get(where)
        if raw is None or raw.strip() == "":
            return default
        return parse(where, raw.strip())

    def order(where: str, raw: str) -> tuple[str, ...]:
        if raw in (SIDECARS_FIRST, SIDECARS_LAST):
            return (raw,)
        wanted = tuple(n.strip() for n in raw.split(",") if n.strip())
        unknown = [n for n in wanted if n not in names]
        if unknown or not wanted:
            raise InvalidArgumentError(
                where, raw,
                f"must be {SIDECARS_FIRST}, {SIDECARS_LAST} or container names of the pod "
                f"(unknown: {', '.join(unknown) or 'none given'})",
            )
        return wanted

    return Settings(
        policy=get("policy", _choice(IN_PLACE_IF_POSSIBLE, RECREATE), IN_PLACE_IF_POSSIBLE),
        grace_period=get("grace-period-seconds", _integer(0), None),
        verify_seconds=get("verify-seconds", _number(0.0), 3.0),
        timeout_seconds=get("timeout-seconds", _number(1.0), 60.0),
        rollback=get("rollback", _boolean, True),
        order=get("order", order, (SIDECARS_FIRST,)),
        max_unavailable=get("max-unavailable", _integer(1), 1),
    )


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(where: str, raw: str) -> str:
        if raw not in choices:
            raise InvalidArgumentError(where, raw, f"must be one of {', '.join(choices)}")
        return raw

    return parse


def _integer(minimum: int) -> Callable[[str, str], Any]:
    def parse(where: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise InvalidArgumentError(where, raw, "must be a whole number") from None
        if value < minimum:
            raise InvalidArgumentError(where, raw, f"must be at least {minimum}")
        return value

    return parse


def _number(minimum: float) -> Callable[[str, str], float]:
    def parse(where: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise InvalidArgumentError(where, raw, "must be a number of seconds") from None
        if not value >= minimum:  # also refuses NaN
            raise InvalidArgumentError(where, raw, f"must be at least {minimum:g}")
        return value

    return parse


def _boolean(where: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise InvalidArgumentError(where, raw, "must be true or false")
