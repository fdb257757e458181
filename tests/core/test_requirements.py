"""kubert.requirements reads and checks plugins' requirements exactly as ``packaging`` does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Parsed

from kubert.requirements import unconditional

releases = st.lists(st.integers(0, 12), min_size=1, max_size=4).map(
    lambda parts: ".".join(map(str, parts)))
clauses = st.tuples(
    st.sampled_from([">=", "<=", ">", "<", "==", "!=", ">= ", " < ", "== "]), releases
).map("".join)
plain_lines = st.tuples(
    st.sampled_from(["kubert", "kubert-docker", "Some_Dist.x"]),
    st.lists(clauses, max_size=3).map(",".join),
    st.sampled_from(["", "; extra == 'test'", " ; python_version >= '3'", ";"]),
).map("".join)


def _oracle(line: str) -> tuple[str, str, str] | None:
    try:
        parsed = Parsed(line)
    except InvalidRequirement:
        return None
    if parsed.marker is not None:
        return None
    return parsed.name, str(parsed.specifier), str(parsed)


@given(plain_lines, st.lists(releases, min_size=1, max_size=5))
def test_plain_requirements_read_and_check_as_packaging_does(
    line: str, versions: list[str]
) -> None:
    got = list(unconditional([line]))
    expected = _oracle(line)
    if expected is None:
        assert got == []
        return
    (requirement,) = got
    assert (requirement.name, requirement.specifier, str(requirement)) == expected
    specifier = Parsed(line).specifier
    for version in versions:
        assert requirement.contains(version) == specifier.contains(version, prereleases=True)


@pytest.mark.parametrize("line", [
    "kubert[test]>=0.2", "kubert~=0.2", "kubert==0.2.*", "kubert>=0.2rc1", "kubert @ file:///x",
    "kubert (>=0.2,<0.3)", "kubert>=0.2,", "kubert>=0.2; extra ==", "kubert===0.2.0", "-bad",
    "kubert[test]; extra == 'test'", "kubert @ https://h/k.whl ; extra == 'x'",
    "kubert@https://h/k;v", ";", "kubert>=0.2;",
])
@pytest.mark.parametrize("version", ["0.2.0", "0.3", "0.2.1rc1", "0.2.0.post1", "0.2.0+local"])
def test_other_requirements_and_versions_go_to_packaging(line: str, version: str) -> None:
    got = list(unconditional([line]))
    expected = _oracle(line)
    if expected is None:
        assert got == []
        return
    (requirement,) = got
    assert (requirement.name, requirement.specifier, str(requirement)) == expected
    assert requirement.contains(version) == Parsed(line).specifier.contains(
        version, prereleases=True)


def test_plain_versions_are_checked_against_plain_clauses() -> None:
    (core,) = unconditional(["kubert<0.3,>=0.2"])
    assert core.specifier == "<0.3,>=0.2" and str(core) == "kubert<0.3,>=0.2"
    assert core.contains("0.2") and core.contains("0.2.9") and not core.contains("0.3.0")
    assert core.contains("0.2.1rc1")  # pre-releases count, as the host's check always said
    assert not core.contains("0.3.0rc1")  # but not those of an excluded bound (PEP 440)
