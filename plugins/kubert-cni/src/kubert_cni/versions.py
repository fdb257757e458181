"""CNI spec versions: which ones kubert speaks, and how to compare and choose among them."""

from __future__ import annotations

from collections.abc import Iterable

#: The spec versions kubert runs plugins at, oldest first.
SUPPORTED_VERSIONS: tuple[str, ...] = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")


def parse_version(version: str) -> tuple[int, int, int]:
    """``"1.0.0"`` -> ``(1, 0, 0)``; raises ValueError for anything else."""
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{version!r} is not a version of the form MAJOR.MINOR.PATCH")
    return int(parts[0]), int(parts[1]), int(parts[2])


def at_least(version: str, minimum: str) -> bool:
    """Whether ``version`` is ``minimum`` or later (both must be well-formed)."""
    return parse_version(version) >= parse_version(minimum)


def is_supported(version: str) -> bool:
    return version in SUPPORTED_VERSIONS


def highest_supported(candidates: Iterable[str]) -> str | None:
    """The highest of ``candidates`` that kubert supports, None when there is none."""
    usable = [v for v in candidates if isinstance(v, str) and v in SUPPORTED_VERSIONS]
    return max(usable, key=parse_version) if usable else None


def supports_check(version: str) -> bool:
    """CHECK exists from spec 0.4.0 on; DEL also receives the cached result from then on."""
    return at_least(version, "0.4.0")


def supports_status_and_gc(version: str) -> bool:
    """STATUS and GC exist from spec 1.1.0 on."""
    return at_least(version, "1.1.0")
