"""What an edit of a pod's manifest changes, and whether the running pod can take it.

A running pod takes in place what the API server lets a pod change: a container's image (with
its pull policy), its resources (resized), labels and annotations (what the in-place plugin
reads through fieldRef) and added ephemeral containers. Every other change of the spec (ports,
env, command, probes, restartPolicy, terminationGracePeriodSeconds, volumes, ...) replaces the
pod as a whole: a new sandbox with the new spec, as deleting and re-creating the pod would.

:func:`pod_shape` is the part of the spec only a replacement applies; the sandbox records its
hash (``kubert.io/pod-spec-hash``) and the shape itself (``kubert.io/pod-spec``), so a sync can
say which fields changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs
from attrs import field, frozen

from kubert.kubelet.manifest import pod_to_dict
from kubert.kubelet.pod import Container, Pod

#: Container fields a running pod takes without being replaced.
IN_PLACE_FIELDS = ("image", "imagePullPolicy", "resources")


def _as_tuple(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def _blank(container: Container) -> Container:
    return attrs.evolve(
        container, image="", image_pull_policy="", resources=type(container.resources)()
    )


def pod_shape(pod: Pod) -> dict[str, Any]:
    """The pod's spec in manifest form without what a running pod takes in place."""
    spec = attrs.evolve(
        pod.spec,
        containers=tuple(_blank(c) for c in pod.spec.containers),
        init_containers=tuple(_blank(c) for c in pod.spec.init_containers),
        ephemeral_containers=(),
    )
    skeleton = attrs.evolve(
        pod, spec=spec, metadata=attrs.evolve(pod.metadata, labels={}, annotations={})
    )
    shape = pod_to_dict(skeleton).get("spec", {})
    assert isinstance(shape, dict)
    return shape


def shape_text(shape: dict[str, Any]) -> str:
    """Compact, stable JSON of a shape (what the sandbox annotation holds)."""
    return json.dumps(shape, sort_keys=True, separators=(",", ":"), default=str)


def changed_fields(old: Any, new: Any, path: str = "spec") -> list[str]:
    """Paths where ``old`` and ``new`` (manifest forms) differ; named lists by their names."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out += changed_fields(old.get(key), new.get(key), f"{path}.{key}")
        return out
    if _named_list(old) and _named_list(new):
        before = {item["name"]: item for item in old}
        after = {item["name"]: item for item in new}
        out = [f"{path}[{n}] added" for n in after if n not in before]
        out += [f"{path}[{n}] removed" for n in before if n not in after]
        for name in before:
            if name in after:
                out += changed_fields(before[name], after[name], f"{path}[{name}]")
        if not out:
            out.append(f"{path} order")
        return out
    return [path]


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


@frozen(kw_only=True)
class Edit:
    """How an edit applies: ``in_place`` and ``replacing`` name the changed fields."""

    in_place: tuple[str, ...] = field(default=(), converter=_as_tuple)
    replacing: tuple[str, ...] = field(default=(), converter=_as_tuple)

    @property
    def replaces_pod(self) -> bool:
        return bool(self.replacing)

    def summary(self) -> str:
        """One sentence for the command's output ("" when nothing changed)."""
        if self.replacing:
            return (
                f"the pod is replaced as a whole (new sandbox and IP): only a new pod can take "
                f"changes to {', '.join(self.replacing)}"
            )
        if self.in_place:
            return f"applied in place: {', '.join(self.in_place)}"
        return ""


def classify_edit(old: Pod, new: Pod) -> Edit:
    """Which changes from ``old`` to ``new`` the running pod takes and which replace it."""
    replacing = changed_fields(pod_shape(old), pod_shape(new))
    in_place: list[str] = []
    if not replacing:
        before = {c.name: c for c in old.spec.init_containers + old.spec.containers}
        for container in new.spec.init_containers + new.spec.containers:
            was = before[container.name]
            list_name = "containers" if container in new.spec.containers else "initContainers"
            for attribute in ("image", "resources"):
                if getattr(was, attribute) != getattr(container, attribute):
                    in_place.append(f"spec.{list_name}[{container.name}].{attribute}")
        old_meta = pod_to_dict(old).get("metadata", {})
        new_meta = pod_to_dict(new).get("metadata", {})
        for key in ("labels", "annotations"):
            if old_meta.get(key) != new_meta.get(key):
                in_place.append(f"metadata.{key}")
        ephemeral = changed_fields(
            pod_to_dict(old)["spec"].get("ephemeralContainers"),
            pod_to_dict(new)["spec"].get("ephemeralContainers"),
            "spec.ephemeralContainers",
        )
        in_place += ephemeral
    return Edit(in_place=in_place, replacing=replacing)
