"""The requirements a plugin distribution declares, as the plugin host checks them at load.

A requirement of the plain kind (``name`` and ``>=``/``<=``/``>``/``<``/``==``/``!=`` release
versions, all that kubert's own plugins declare) is read and checked here; anything else (extras,
URLs, pre-releases, wildcards, ``~=``) is handed to ``packaging``, imported only then, so that
a serving process does not hold it (about 0.5 MB of its RSS).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator

from attrs import frozen

__all__ = ["Requirement", "unconditional"]

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_RELEASE = r"[0-9]+(?:\.[0-9]+)*"
_CLAUSE = rf"\s*(?:>=|<=|==|!=|<|>)\s*{_RELEASE}\s*"
#: ``name``, ``name>=1,<2`` …
_PLAIN = re.compile(rf"\s*(?P<name>{_NAME})\s*(?P<specs>{_CLAUSE}(?:,{_CLAUSE})*)?")
_SPEC = re.compile(rf"(>=|<=|==|!=|<|>)\s*({_RELEASE})")
_RELEASE_ONLY = re.compile(_RELEASE)
_COMPARE: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
    "==": operator.eq, "!=": operator.ne,
}


@frozen
class Requirement:
    """One unconditional requirement: ``name``, its ``specifier`` spelled as ``packaging``
    spells it (the clauses sorted, comma-joined, ``""`` for any version), the whole ``text``
    (as ``packaging`` prints it: extras and URL too) and a check."""

    name: str
    specifier: str
    text: str
    _contains: Callable[[str], bool]

    def __str__(self) -> str:
        return self.text

    def contains(self, version: str) -> bool:
        """Whether ``version`` satisfies the specifier (pre-releases count as any version)."""
        return self._contains(version)


def unconditional(lines: Iterable[str]) -> Iterator[Requirement]:
    """The requirements among ``lines`` (a distribution's ``Requires-Dist``) that hold
    whatever the environment: lines with a marker, and lines that do not parse, left out."""
    for line in lines:
        head, marker, _ = line.partition(";")
        if marker and "@" not in head:
            # Outside a URL a ";" can only start a marker: the line is conditional, whatever
            # the marker says, or invalid; left out either way.
            continue
        plain = _PLAIN.fullmatch(line)
        if plain is None:
            found = _by_packaging(line)
            if found is not None:
                yield found
        else:
            clauses = _distinct(sorted(_SPEC.findall(plain["specs"] or ""), key="".join))
            specifier = ",".join(f"{op}{version}" for op, version in clauses)
            yield Requirement(plain["name"], specifier, plain["name"] + specifier,
                              _release_check(clauses, specifier))


def _distinct(clauses: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """``clauses`` without repeats, the first spelling kept: a specifier set holds ``>=1`` and
    ``>=1.0`` once (``packaging`` compares them without trailing zeros, and keeps the first of
    the sorted spellings)."""
    seen: dict[tuple[str, tuple[int, ...]], tuple[str, str]] = {}
    for op, version in clauses:
        release = _release(version)
        while len(release) > 1 and release[-1] == 0:
            release = release[:-1]
        seen.setdefault((op, release), (op, version))
    return tuple(seen.values())


def _release_check(
    clauses: tuple[tuple[str, str], ...], specifier: str
) -> Callable[[str], bool]:
    """A check of plain release clauses; a version that is not a plain release (``1.0rc1``,
    ``1.0.post2``, ``1.0+local``) is left to ``packaging``, whose ordering of those is PEP 440's."""

    def contains(version: str) -> bool:
        if not _RELEASE_ONLY.fullmatch(version):
            from packaging.specifiers import SpecifierSet

            return SpecifierSet(specifier).contains(version, prereleases=True)
        candidate = _release(version)
        return all(_compare(op, candidate, _release(bound)) for op, bound in clauses)

    return contains


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _compare(op: str, left: tuple[int, ...], right: tuple[int, ...]) -> bool:
    # PEP 440 pads the shorter release with zeros: 0.2 == 0.2.0.
    width = max(len(left), len(right))
    return _COMPARE[op](left + (0,) * (width - len(left)), right + (0,) * (width - len(right)))


def _by_packaging(line: str) -> Requirement | None:
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Parsed

    try:
        parsed = Parsed(line)
    except InvalidRequirement:
        return None
    if parsed.marker is not None:
        return None
    specifier = parsed.specifier
    return Requirement(
        parsed.name, str(specifier), str(parsed),
        lambda version: specifier.contains(version, prereleases=True),
    )
