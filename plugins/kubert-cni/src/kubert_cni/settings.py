"""The CNI backends' settings, read from their options and checked once at construction."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import field, frozen

from kubert import BackendContext, InvalidArgumentError

DEFAULT_CONF_DIR = "/etc/cni/net.d"
DEFAULT_BIN_DIRS = ("/opt/cni/bin", "/usr/lib/cni")
DEFAULT_TIMEOUT = 60.0
HAIRPIN_MODES = ("hairpin-veth", "promiscuous-bridge", "none")


@frozen(kw_only=True)
class CNISettings:
    """Everything the ``cni`` and ``kubenet`` backends are told (see docs/cni.md)."""

    conf_dir: Path
    bin_dirs: tuple[Path, ...]
    cache_dir: Path
    plugin_timeout: float
    pod_cidrs: tuple[str, ...] = field(factory=tuple)
    mtu: int = 0
    hairpin_mode: str = "hairpin-veth"
    non_masquerade_cidr: str = ""
    bridge: str = "cbr0"
    ipam_dir: Path = Path("/var/lib/kubert/kubenet/ipam")
    internal_loopback: bool = True

    @classmethod
    def from_context(cls, context: BackendContext, backend: str) -> CNISettings:
        """Read and check every option; :raises InvalidArgumentError: naming the flag."""
        own_dir = context.root_dir / backend
        timeout = _number(context.option("plugin-timeout", DEFAULT_TIMEOUT), "--cni-plugin-timeout")
        if timeout <= 0:
            raise InvalidArgumentError(
                "--cni-plugin-timeout", timeout, "must be more than 0 seconds"
            )
        mtu = int(_number(context.option("mtu", 0), "--network-plugin-mtu"))
        if mtu != 0 and not 576 <= mtu <= 65535:
            raise InvalidArgumentError("--network-plugin-mtu", mtu,
                                       "must be 0 (plugin default) or 576 ... 65535")
        hairpin = str(context.option("hairpin-mode", "hairpin-veth"))
        if hairpin not in HAIRPIN_MODES:
            raise InvalidArgumentError("--hairpin-mode", hairpin,
                                       f"must be one of {', '.join(HAIRPIN_MODES)}")
        non_masq = str(context.option("non-masquerade-cidr", ""))
        if non_masq:
            _cidr("--non-masquerade-cidr", non_masq)
        bridge = str(context.option("bridge", "cbr0"))
        if not 0 < len(bridge) <= 15 or "/" in bridge or " " in bridge:
            raise InvalidArgumentError("--kubenet-bridge", bridge,
                                       "must be an interface name of 1 to 15 characters")
        internal_loopback = context.option("internal-loopback", True)
        if not isinstance(internal_loopback, bool):
            raise InvalidArgumentError("--cni-internal-loopback", internal_loopback,
                                       "must be true or false")
        return cls(
            conf_dir=Path(str(context.option("conf-dir", DEFAULT_CONF_DIR))),
            bin_dirs=tuple(Path(d) for d in _list(context.option("bin-dir", DEFAULT_BIN_DIRS))),
            cache_dir=Path(str(context.option("cache-dir", own_dir / "cache"))),
            plugin_timeout=timeout,
            pod_cidrs=parse_pod_cidrs(str(context.option("pod-cidr", "")), "--pod-cidr"),
            mtu=mtu,
            hairpin_mode=hairpin,
            non_masquerade_cidr=non_masq,
            bridge=bridge,
            ipam_dir=Path(str(context.option("ipam-dir", own_dir / "ipam"))),
            internal_loopback=internal_loopback,
        )


def parse_pod_cidrs(text: str, field_name: str) -> tuple[str, ...]:
    """``"10.244.0.0/24,fd00::/64"`` -> both CIDRs, normalized; at most one per family."""
    cidrs = tuple(_cidr(field_name, part.strip()) for part in text.split(",") if part.strip())
    families = [ipaddress.ip_network(c).version for c in cidrs]
    if len(families) != len(set(families)):
        raise InvalidArgumentError(field_name, text, "takes at most one IPv4 and one IPv6 CIDR")
    return cidrs


def _cidr(field_name: str, text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise InvalidArgumentError(
            field_name, text, "must be a CIDR such as 10.244.0.0/16"
        ) from None


def _number(value: Any, flag: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(flag, value, "must be a number") from None


def _list(value: Any) -> list[str]:
    """A list option given as a list, a comma-separated string, or repeated flags."""
    items: Sequence[Any] = [value] if isinstance(value, str | Path) else list(value)
    out: list[str] = []
    for item in items:
        out.extend(part.strip() for part in str(item).split(",") if part.strip())
    return out
