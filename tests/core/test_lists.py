"""The relist answers built by kubert.cri.lists are the messages fill_proto builds."""

from __future__ import annotations

import attrs
import pytest

from kubert.cri import lists
from kubert.cri.api import pb
from kubert.cri.convert import fill_proto
from kubert.model import (
    Container,
    ContainerMetadata,
    ContainerState,
    ImageSpec,
    PodSandbox,
    PodSandboxMetadata,
    PodSandboxState,
)

SANDBOXES = [
    PodSandbox(
        id="a" * 64, metadata=PodSandboxMetadata(name="web", uid="u-1", namespace="ns", attempt=3),
        state=PodSandboxState.SANDBOX_NOTREADY, created_at=1_700_000_000_123_456_789,
        labels={"app": "web", "tier": ""}, annotations={"note": "multi\nline"},
        runtime_handler="runc",
    ),
    PodSandbox(
        id="b" * 64, metadata=PodSandboxMetadata(name="db", uid="u-2", namespace="ns"),
        state=PodSandboxState.SANDBOX_READY, created_at=1,
    ),
]
CONTAINERS = [
    Container(
        id="c" * 64, pod_sandbox_id="a" * 64, metadata=ContainerMetadata(name="app", attempt=2),
        image=ImageSpec(image="busybox:1", annotations={"k": "v"},
                        user_specified_image="busybox", runtime_handler="runc"),
        image_ref="docker.io/library/busybox@sha256:" + "d" * 64,
        state=ContainerState.CONTAINER_EXITED, created_at=1_700_000_000_000_000_001,
        labels={"io.kubernetes.container.name": "app"}, annotations={"hash": "1"},
        image_id="sha256:" + "e" * 64,
    ),
    Container(
        id="f" * 64, pod_sandbox_id="b" * 64, metadata=ContainerMetadata(name="side"),
        image=ImageSpec(), image_ref="", state=ContainerState.CONTAINER_CREATED, created_at=2,
    ),
]


def _generic(response: object, name: str, items: list[object]) -> bytes:
    target = getattr(response, name)
    for item in items:
        fill_proto(item, target.add())
    return response.SerializeToString(deterministic=True)  # type: ignore[attr-defined]


def test_pod_sandbox_list_is_what_fill_proto_builds() -> None:
    fast = lists.pod_sandbox_list(SANDBOXES).SerializeToString(deterministic=True)
    assert fast == _generic(pb.ListPodSandboxResponse(), "items", SANDBOXES)
    assert lists.pod_sandbox_list([]) == pb.ListPodSandboxResponse()


def test_container_list_is_what_fill_proto_builds() -> None:
    fast = lists.container_list(CONTAINERS).SerializeToString(deterministic=True)
    assert fast == _generic(pb.ListContainersResponse(), "containers", CONTAINERS)


def test_the_builders_write_every_field_of_the_models() -> None:
    """A field added to a model must be added to its builder too."""
    assert {f.name for f in attrs.fields(PodSandbox)} == lists.POD_SANDBOX_FIELDS
    assert {f.name for f in attrs.fields(Container)} == lists.CONTAINER_FIELDS
    assert {f.name for f in attrs.fields(PodSandboxMetadata)} == {
        "name", "uid", "namespace", "attempt"}
    assert {f.name for f in attrs.fields(ContainerMetadata)} == {"name", "attempt"}
    assert {f.name for f in attrs.fields(ImageSpec)} == {
        "image", "annotations", "user_specified_image", "runtime_handler"}


def test_a_changed_entry_is_built_again_and_a_gone_one_dropped() -> None:
    first = lists.pod_sandbox_list(SANDBOXES)
    changed = attrs.evolve(SANDBOXES[0], labels={"app": "web", "tier": "front"},
                           state=PodSandboxState.SANDBOX_READY)
    again = lists.pod_sandbox_list([changed, SANDBOXES[1]])
    assert again.items[0].labels["tier"] == "front" and again.items[0].state == pb.SANDBOX_READY
    assert again.items[1] == first.items[1]
    lists.pod_sandbox_list([])
    lists.pod_sandbox_list([])
    from kubert.cri.lists import _SANDBOXES

    assert not _SANDBOXES.young and not _SANDBOXES.old
    # Served from the cache or built, the bytes are fill_proto's message.
    for _ in range(2):
        fast = lists.container_list(CONTAINERS).SerializeToString(deterministic=True)
        assert fast == _generic(pb.ListContainersResponse(), "containers", CONTAINERS)


def test_an_entry_handed_in_again_is_not_built_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same object, or an equal new one, is served from the cache; only a changed entry is
    built (the backend contract's read-only entries make the cached object safe to keep)."""
    built: list[str] = []
    build = lists._sandbox_message

    def counting(item: PodSandbox) -> pb.PodSandbox:
        built.append(item.id)
        return build(item)

    monkeypatch.setattr(lists, "_sandbox_message", counting)
    fresh = [attrs.evolve(s, id=s.id.replace("a", "9").replace("b", "8")) for s in SANDBOXES]
    lists.pod_sandbox_list_bytes(fresh)
    assert len(built) == 2
    lists.pod_sandbox_list_bytes(fresh)
    lists.pod_sandbox_list_bytes([attrs.evolve(s) for s in fresh])
    assert len(built) == 2
    lists.pod_sandbox_list_bytes([attrs.evolve(fresh[0], runtime_handler="kata"), fresh[1]])
    assert built[2:] == [fresh[0].id]


def test_a_filtered_answer_leaves_the_cache_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kubelet's filtered lists between two relists do not push the relist's entries out
    of the cache (two of them would, were they kept as the full answers are)."""
    built: list[str] = []
    build = lists._container_message

    def counting(item: Container) -> pb.Container:
        built.append(item.id)
        return build(item)

    monkeypatch.setattr(lists, "_container_message", counting)
    fresh = [attrs.evolve(c, id=c.id.replace("c", "7").replace("f", "6")) for c in CONTAINERS]
    lists.container_list_bytes(fresh)
    for _ in range(3):
        lists.container_list_bytes(fresh[:1], full=False)
        lists.container_list_bytes([], full=False)
    lists.container_list_bytes(fresh)
    assert len(built) == 2


def test_unfiltered_is_no_filter_or_an_empty_one() -> None:
    assert lists.unfiltered(pb.ListContainersRequest())
    assert lists.unfiltered(pb.ListContainersRequest(filter=pb.ContainerFilter()))
    assert not lists.unfiltered(pb.ListContainersRequest(filter=pb.ContainerFilter(id="ab")))
    assert not lists.unfiltered(pb.ListPodSandboxRequest(
        filter=pb.PodSandboxFilter(label_selector={"app": "x"})))
