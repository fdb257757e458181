"""Decide which containers of one sync are upgraded in place, which are held, and why not.

Pure: it reads the pod, what the runtime holds, the kubelet's plan and the upgrade record. A
running container qualifies when its spec differs from the manifest only by its image, or when
the labels / annotations its env reads through fieldRef changed. A container the record says
an interrupted upgrade stopped is resumed. Every other change keeps the kubelet's path, and the
plan says why in a sentence for the progress output.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import attrs
from attrs import field, frozen

from kubert import KubertError
from kubert.kubelet import (
    Container,
    ContainerRuntimeStatus,
    Pod,
    PodActions,
    PodRuntimeStatus,
    container_hash,
    field_ref_values,
)
from kubert_inplace.record import (
    FAILED,
    FINAL_PHASES,
    ROLLED_BACK,
    ROLLING_BACK,
    UpgradeRecord,
)
from kubert_inplace.settings import SIDECARS_FIRST, SIDECARS_LAST, Settings

IMAGE = "image"
FIELD_REF = "fieldRef"


def _as_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


@frozen(kw_only=True)
class Target:
    """One container to upgrade in place.

    :ivar current: the container running now (None when an interrupted upgrade stopped it).
    :ivar newest: the newest container of that name (running or not): the new one's previous.
    :ivar rollback: an interrupted rollback: finish going back to ``old_image``.
    :ivar current_is_new: ``current`` already is the new container (only verify it).
    """

    name: str
    kind: str
    spec: Container
    reason: str
    old_image: str
    current: ContainerRuntimeStatus | None
    newest: ContainerRuntimeStatus | None
    rollback: bool = False
    current_is_new: bool = False

    @property
    def new_image(self) -> str:
        return self.spec.image


@frozen(kw_only=True)
class Plan:
    """What the plugin does in one sync.

    :ivar targets: containers to upgrade (put them in upgrade order with :func:`ordered`).
    :ivar held: containers whose upgrade to this revision failed: kept as they run.
    :ivar notes: why changes are not made in place, one sentence each.
    """

    revision: str = ""
    sandbox_id: str = ""
    targets: tuple[Target, ...] = field(default=(), converter=_as_tuple)
    held: tuple[str, ...] = field(default=(), converter=_as_tuple)
    notes: tuple[str, ...] = field(default=(), converter=_as_tuple)
    resumed: bool = False

    @property
    def names(self) -> set[str]:
        return {t.name for t in self.targets} | set(self.held)


def running_image(container: ContainerRuntimeStatus) -> str:
    """The image a container was created from, as the manifest named it."""
    image = container.status.image
    return image.user_specified_image or image.image


def revision(pod: Pod, ips: tuple[str, ...]) -> str:
    """A short hash of what in-place upgrades move to: each container's spec and fieldRefs."""
    parts = []
    for spec in _upgradable(pod):
        try:
            refs = field_ref_values(pod, spec, ips)
        except KubertError:
            refs = {}
        parts.append([spec.name, container_hash(spec), refs])
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:10]


def _upgradable(pod: Pod) -> list[Container]:
    """Sidecars and regular containers: those that keep running in a sandbox."""
    return [c for c in pod.spec.init_containers if c.is_sidecar] + list(pod.spec.containers)


def make_plan(
    pod: Pod,
    status: PodRuntimeStatus,
    actions: PodActions,
    record: UpgradeRecord | None,
) -> Plan:
    """The in-place part of this sync (see the module docstring)."""
    if actions.kill_pod:
        if actions.create_sandbox and status.running_containers():
            reasons = "; ".join(actions.reasons) or "the kubelet re-makes the sandbox"
            return Plan(notes=[f"In-place upgrade not possible, the pod is recreated: {reasons}"])
        return Plan()
    here = status.in_sandbox(actions.sandbox_id)
    rev = revision(pod, here.ips)
    if record is not None and record.sandbox_id != actions.sandbox_id:
        record = None  # the record of an earlier sandbox: nothing of it runs any more
    interrupted = record is not None and record.in_progress
    # A revision that failed once is not tried again; a failed pull is (as the kubelet retries).
    held_revision = (
        record is not None and record.result in (ROLLED_BACK, FAILED) and record.revision == rev
    )
    targets: list[Target] = []
    held: list[str] = []
    notes: list[str] = []
    for spec in _upgradable(pod):
        kind = "sidecar" if spec.is_sidecar else "regular"
        newest = here.find(spec.name)
        entry = record.containers.get(spec.name) if record is not None else None
        if newest is None:
            continue
        if interrupted and entry is not None and entry.phase not in FINAL_PHASES:
            # An upgrade a crash interrupted: finish it (or its rollback) from where it is.
            current = newest if newest.running else None
            targets.append(
                _target(
                    spec, kind, entry.reason, entry.old_image, current, newest,
                    rollback=entry.phase == ROLLING_BACK,
                    current_is_new=current is not None and _matches(pod, spec, current, here.ips),
                )
            )
            continue
        if not newest.running:
            continue
        if _matches(pod, spec, newest, here.ips):
            continue
        image = running_image(newest)
        if not _only_image_differs(spec, image, newest.hash):
            notes.append(
                f"Container {spec.name} is not upgraded in place: its spec changed beyond the "
                "image (command, args, env, ports, mounts, probes or security context); the "
                "kubelet restarts it"
            )
            continue
        if held_revision and record is not None and spec.name in record.containers:
            held.append(spec.name)
            continue
        reason = IMAGE if image != spec.image else FIELD_REF
        targets.append(_target(spec, kind, reason, image, newest, newest))
    if held and record is not None:
        notes.append(
            f"In-place upgrade to revision {rev} ended {record.result} "
            f"({record.message or 'see kubert describe'}); {', '.join(held)} kept as "
            "running until the manifest changes again"
        )
    return Plan(
        revision=rev,
        sandbox_id=actions.sandbox_id,
        targets=targets,
        held=held,
        notes=notes,
        resumed=interrupted and bool(targets),
    )


def _target(
    spec: Container,
    kind: str,
    reason: str,
    old_image: str,
    current: ContainerRuntimeStatus | None,
    newest: ContainerRuntimeStatus | None,
    rollback: bool = False,
    current_is_new: bool = False,
) -> Target:
    return Target(
        name=spec.name, kind=kind, spec=spec, reason=reason, old_image=old_image,
        current=current, newest=newest, rollback=rollback, current_is_new=current_is_new,
    )


def _default_pull_policy(image: str) -> str:
    """The API server's defaulting rule: Always for ``:latest`` or untagged, else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "Always" if last.partition(":")[2] in ("", "latest") else "IfNotPresent"


def _only_image_differs(spec: Container, old_image: str, old_hash: str) -> bool:
    """Whether ``spec`` with ``old_image`` is what the running container was made from.

    Manifests are defaulted on every load, so a pull policy left unset follows the image's
    tag (``:latest`` -> Always); that change comes with the image and does not count.
    """
    if old_hash == container_hash(attrs.evolve(spec, image=old_image)):
        return True
    if spec.image_pull_policy != _default_pull_policy(spec.image):
        return False
    before = attrs.evolve(
        spec, image=old_image, image_pull_policy=_default_pull_policy(old_image)
    )
    return old_hash == container_hash(before)


def _matches(
    pod: Pod, spec: Container, container: ContainerRuntimeStatus, ips: tuple[str, ...]
) -> bool:
    """Whether ``container`` was made from ``spec`` with the pod's current fieldRef values."""
    if container.hash != container_hash(spec):
        return False
    try:
        return container.field_refs == field_ref_values(pod, spec, ips)
    except KubertError:
        return True  # an unsupported fieldRef fails the start itself, with its own error


def ordered(targets: Iterable[Target], settings: Settings) -> list[Target]:
    """Targets in upgrade order: sidecars first (or last), or the names the settings list."""
    if settings.order == (SIDECARS_LAST,):
        return sorted(targets, key=lambda t: t.kind == "sidecar")
    by_kind = sorted(targets, key=lambda t: t.kind != "sidecar")
    if settings.order == (SIDECARS_FIRST,):
        return by_kind
    rank = {name: i for i, name in enumerate(settings.order)}
    return sorted(by_kind, key=lambda t: rank.get(t.name, len(rank)))
