"""The answers of the kubelet's relist, ListPodSandbox and ListContainers, built field by field.

:func:`kubert.cri.convert.fill_proto` walks a model's plan generically, one ``getattr`` and one
``setattr`` per field; a relist of a thousand pods and containers spends most of its time there.
These builders write each entry with one constructor call of its scalar fields and maps, then
its nested metadata and image, and keep the serialized entries of the last two answers by
object ID with the entry they were built from, so that a relist builds only what changed and
joins bytes for the rest, which the server sends without parsing them (a test compares the
answers with ``fill_proto``'s on entries with every field set, and fails when a model gains a
field the builders do not cover).

List entries are read-only (the backend contract, :meth:`~kubert.backends.RuntimeBackend.
list_sandboxes`): the cache keeps the entry itself, no copy, and an entry handed in again (the
same object: backends that keep their entries hand out the same one while nothing changed) is
known unchanged without comparing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from google.protobuf.message import Message

from kubert.cri.api import pb
from kubert.model import Container, PodSandbox

T = TypeVar("T")

#: The model fields each builder writes (the test checks them against the models).
POD_SANDBOX_FIELDS = frozenset(
    {"id", "metadata", "state", "created_at", "labels", "annotations", "runtime_handler"}
)
CONTAINER_FIELDS = frozenset(
    {"id", "pod_sandbox_id", "metadata", "image", "image_ref", "state", "created_at",
     "labels", "annotations", "image_id"}
)


class _Encoded:
    """The serialized entries of the last two answers, by object ID: consecutive relists repeat
    almost every entry. The same entry object as last time is unchanged (entries are
    read-only); another one is compared with it (the models' own ``==``, field by field in one
    go, a fraction of building its message or a key of its fields), for backends that build
    their entries afresh on each list. An entry unseen for two full answers is dropped
    (removed objects do not linger); a filtered answer (the kubelet's per-pod lists, a
    thousand between two relists) uses the cache and leaves it as it was, so that it does not
    push the full answer's entries out."""

    def __init__(self, field_number: int) -> None:
        self.tag = bytes([field_number << 3 | 2])  # length-delimited
        self.lock = threading.Lock()
        self.young: dict[str, tuple[Any, bytes]] = {}
        self.old: dict[str, tuple[Any, bytes]] = {}

    def join(self, items: Iterable[T], build: Callable[[T], Message], full: bool) -> bytes:
        """The repeated field of ``items`` as bytes (``build`` makes a missing entry);
        ``full``: the answer of an unfiltered list, which becomes the cache's young half."""
        with self.lock:
            young, old = self.young, self.old
        seen: dict[str, tuple[Any, bytes]] = {}
        parts = []
        for item in items:
            ident = item.id  # type: ignore[attr-defined]
            hit = young.get(ident) or old.get(ident)
            # ``is`` first: a shared entry costs no comparison. (attrs' != is one call more.)
            if hit is None or not (hit[0] is item or hit[0] == item):
                body = build(item).SerializeToString()
                hit = (item, self.tag + _varint(len(body)) + body)
            seen[ident] = hit
            parts.append(hit[1])
        if full:
            with self.lock:
                self.old, self.young = self.young, seen
        return b"".join(parts)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SANDBOXES = _Encoded(pb.ListPodSandboxResponse.DESCRIPTOR.fields_by_name["items"].number)
_CONTAINERS = _Encoded(pb.ListContainersResponse.DESCRIPTOR.fields_by_name["containers"].number)


def _sandbox_message(item: PodSandbox) -> pb.PodSandbox:
    entry = pb.PodSandbox(
        id=item.id, state=cast(Any, int(item.state)), created_at=item.created_at,
        labels=item.labels, annotations=item.annotations, runtime_handler=item.runtime_handler,
    )
    md = item.metadata
    target = entry.metadata
    target.name = md.name
    target.uid = md.uid
    target.namespace = md.namespace
    target.attempt = md.attempt
    return entry


def _container_message(item: Container) -> pb.Container:
    entry = pb.Container(
        id=item.id, pod_sandbox_id=item.pod_sandbox_id, image_ref=item.image_ref,
        state=cast(Any, int(item.state)), created_at=item.created_at, labels=item.labels,
        annotations=item.annotations, image_id=item.image_id,
    )
    md = entry.metadata
    md.name = item.metadata.name
    md.attempt = item.metadata.attempt
    spec = item.image
    image = entry.image
    image.image = spec.image
    if spec.annotations:
        image.annotations.update(spec.annotations)
    image.user_specified_image = spec.user_specified_image
    image.runtime_handler = spec.runtime_handler
    return entry


def pod_sandbox_list_bytes(items: Iterable[PodSandbox], full: bool = True) -> bytes:
    """The serialized ListPodSandbox answer holding ``items`` (the server sends these bytes
    as they are: parsing them into a message only to serialize it again costs a millisecond
    a thousand entries); ``full`` is False for the answer of a filtered list."""
    return _SANDBOXES.join(items, _sandbox_message, full)


def container_list_bytes(items: Iterable[Container], full: bool = True) -> bytes:
    """The serialized ListContainers answer holding ``items`` (sent as they are); ``full`` as
    :func:`pod_sandbox_list_bytes`."""
    return _CONTAINERS.join(items, _container_message, full)


def unfiltered(request: pb.ListPodSandboxRequest | pb.ListContainersRequest) -> bool:
    """Whether a list request asks for every object: no filter, or an empty one (the kubelet's
    relist sends an empty ContainerFilter)."""
    return not request.HasField("filter") or request.filter.ByteSize() == 0


def pod_sandbox_list(items: Iterable[PodSandbox]) -> pb.ListPodSandboxResponse:
    """The ListPodSandbox answer holding ``items``."""
    answer: pb.ListPodSandboxResponse = pb.ListPodSandboxResponse.FromString(
        pod_sandbox_list_bytes(items)
    )
    return answer


def container_list(items: Iterable[Container]) -> pb.ListContainersResponse:
    """The ListContainers answer holding ``items``."""
    answer: pb.ListContainersResponse = pb.ListContainersResponse.FromString(
        container_list_bytes(items)
    )
    return answer
