"""Public hypothesis strategies for CRI configs, valid and near-valid.

Backend authors reuse these in their own property tests. Valid strategies build
:mod:`kubert` models that pass validation; the ``invalid_…`` ones draw values the models
must refuse with :class:`~kubert.InvalidArgumentError`, for error-path tests.

The conformance state machine draws *specs* (:class:`SandboxSpec`, :class:`ContainerSpec`),
small objects with short reprs that a :class:`~kubert.testing.configs.ConfigFactory` turns into
full configs, so that shrunk counterexamples stay readable.
"""

from __future__ import annotations

import string
from typing import Any

import attrs
from attrs import field, frozen
from hypothesis import strategies as st

from kubert.model import (
    ContainerConfig,
    ContainerMetadata,
    ImageSpec,
    KeyValue,
    PodSandboxConfig,
    PodSandboxMetadata,
)

__all__ = [
    "ContainerSpec",
    "SandboxSpec",
    "annotation_maps",
    "container_configs",
    "container_metadata",
    "container_specs",
    "invalid_label_keys",
    "invalid_names",
    "label_keys",
    "label_values",
    "labels",
    "names",
    "sandbox_configs",
    "sandbox_metadata",
    "sandbox_specs",
    "uids",
]

_ALNUM = string.ascii_lowercase + string.digits


def names(max_size: int = 20) -> st.SearchStrategy[str]:
    """Valid object names: letters, digits, '-' and '.', alphanumeric at both ends."""
    edge = st.sampled_from(_ALNUM)
    middle = st.text(alphabet=_ALNUM + "-.", max_size=max(0, max_size - 2))
    return st.one_of(edge, st.builds(lambda a, m, b: a + m + b, edge, middle, edge))


def uids() -> st.SearchStrategy[str]:
    """Valid pod UIDs (UUID-like, or any short alphanumeric-led string)."""
    return st.one_of(st.uuids().map(str), names(12))


def label_keys() -> st.SearchStrategy[str]:
    """Qualified label keys: ``name`` or ``dns.prefix/name``."""
    name = st.builds(
        lambda a, m, b: a + m + b,
        st.sampled_from(_ALNUM + string.ascii_uppercase),
        st.text(alphabet=_ALNUM + string.ascii_uppercase + "-_.", max_size=12),
        st.sampled_from(_ALNUM),
    )
    prefix = st.sampled_from(["", "example.com/", "io.kubernetes.pod/", "a.b-c/"])
    return st.builds(lambda p, n: p + n, prefix, name)


def label_values() -> st.SearchStrategy[str]:
    """Label values: short printable text (kubelet labels are DNS-ish; annotations anything)."""
    return st.text(alphabet=_ALNUM + "-_.", max_size=16)


def labels(max_size: int = 4) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(label_keys(), label_values(), max_size=max_size)


def annotation_maps(max_size: int = 4) -> st.SearchStrategy[dict[str, str]]:
    """Annotation maps; values are any text without NUL (JSON, spaces, unicode)."""
    value = st.text(st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=40)
    return st.dictionaries(label_keys(), value, max_size=max_size)


def sandbox_metadata() -> st.SearchStrategy[PodSandboxMetadata]:
    return st.builds(
        PodSandboxMetadata,
        name=names(),
        uid=uids(),
        namespace=names(),
        attempt=st.integers(0, 5),
    )


def sandbox_configs() -> st.SearchStrategy[PodSandboxConfig]:
    return st.builds(
        PodSandboxConfig,
        metadata=sandbox_metadata(),
        hostname=st.one_of(st.just(""), names(12)),
        labels=labels(),
        annotations=annotation_maps(),
    )


def container_metadata() -> st.SearchStrategy[ContainerMetadata]:
    return st.builds(ContainerMetadata, name=names(), attempt=st.integers(0, 5))


def container_configs(image: str = "busybox:latest") -> st.SearchStrategy[ContainerConfig]:
    """Container configs for ``image`` whose command keeps running (``sleep 3600``)."""
    envs = st.lists(
        st.builds(
            KeyValue,
            key=st.text(alphabet=string.ascii_uppercase + "_", min_size=1, max_size=8),
            value=label_values(),
        ),
        max_size=3,
    )
    return st.builds(
        ContainerConfig,
        metadata=container_metadata(),
        image=st.just(ImageSpec(image=image)),
        command=st.just(("sleep",)),
        args=st.just(("3600",)),
        envs=envs,
        labels=labels(),
        annotations=annotation_maps(),
    )


def invalid_names() -> st.SearchStrategy[str]:
    """Near-valid names every model refuses: empty, '_' inside, bad ends, too long."""
    return st.one_of(
        st.just(""),
        st.builds(lambda a, b: f"{a}_{b}", names(8), names(8)),
        names(8).map(lambda n: "-" + n),
        names(8).map(lambda n: n + "."),
        st.just("a" * 254),
    )


def invalid_label_keys() -> st.SearchStrategy[str]:
    """Label keys that are not qualified names."""
    return st.one_of(
        st.just(""),
        st.just("/name"),
        st.just("Upper.Case/name"),
        st.just("a" * 64),
        names(8).map(lambda n: n + " x"),
    )


# ---- specs for the state machine -------------------------------------------------------------


def _short_map(items: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in items.items()) + "}"


def _spec_repr(spec: SandboxSpec | ContainerSpec) -> str:
    """``Kind('name', field=value, …)`` naming only the fields that differ from their
    defaults, so that hypothesis's counterexamples stay short."""
    plain = type(spec)(spec.name)
    parts = [repr(spec.name)]
    for f in attrs.fields(type(spec))[1:]:
        value = getattr(spec, f.name)
        if value != getattr(plain, f.name):
            shown = _short_map(value) if isinstance(value, dict) else repr(value)
            parts.append(f"{f.name}={shown}")
    return f"{type(spec).__name__}({', '.join(parts)})"


@frozen(repr=False)
class SandboxSpec:
    """What the state machine asks for: identity, labels, annotations. Names are drawn from
    small pools so that duplicates (AlreadyExists) actually happen."""

    name: str
    namespace: str = "default"
    uid: str = "u1"
    attempt: int = 0
    labels: dict[str, str] = field(factory=dict)
    annotations: dict[str, str] = field(factory=dict)

    def __repr__(self) -> str:
        return _spec_repr(self)


@frozen(repr=False)
class ContainerSpec:
    """A container to create: identity, labels, annotations, image choice and what it does.

    ``exit_code`` None means it runs until stopped; a number means it exits with that code
    right after it starts (``sh -c "exit N"``).
    """

    name: str
    attempt: int = 0
    labels: dict[str, str] = field(factory=dict)
    annotations: dict[str, str] = field(factory=dict)
    image: int = 0
    exit_code: int | None = None

    def __repr__(self) -> str:
        return _spec_repr(self)


def _small_labels() -> st.SearchStrategy[dict[str, str]]:
    # Few keys and values, so that label selectors match some objects and miss others.
    return st.dictionaries(
        st.sampled_from(["app", "tier", "example.com/team"]),
        st.sampled_from(["a", "b"]),
        max_size=2,
    )


def sandbox_specs() -> st.SearchStrategy[SandboxSpec]:
    return st.builds(
        SandboxSpec,
        name=st.sampled_from(["web", "db", "cache"]),
        namespace=st.sampled_from(["default", "kube-system"]),
        uid=st.sampled_from(["u1", "u2"]),
        attempt=st.integers(0, 1),
        labels=_small_labels(),
        annotations=st.one_of(st.just({}), annotation_maps(2)),
    )


def container_specs(images: int = 1) -> st.SearchStrategy[ContainerSpec]:
    """Container specs; ``image`` indexes a list of ``images`` images (the factory takes it
    modulo the length of the list it has)."""
    kwargs: dict[str, Any] = {
        "name": st.sampled_from(["app", "sidecar"]),
        "attempt": st.integers(0, 1),
        "labels": _small_labels(),
        "annotations": st.one_of(st.just({}), annotation_maps(2)),
        # Mostly the first image, which is always present; the others may not be.
        "image": st.one_of(st.just(0), st.integers(0, max(0, images - 1))),
        "exit_code": st.one_of(st.none(), st.sampled_from([0, 1, 3])),
    }
    return st.builds(ContainerSpec, **kwargs)
