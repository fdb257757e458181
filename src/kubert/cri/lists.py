"""The answers of the kubelet's relist, ListPodSandbox and ListContainers, built field by field.

:func:`kubert.cri.convert.fill_proto` walks a model's plan generically, one ``getattr`` and one
``setattr`` per field; a relist of a thousand pods and containers spends most of its time there.
These two builders write each entry with one ``add(...)`` of its scalar fields and its maps and
then its nested metadata and image, for the same message (a test compares them with
``fill_proto`` on entries with every field set, and fails when a model gains a field they do
not write).
"""

from __future__ import annotations

from collections.abc import Iterable

from kubert.cri.api import pb
from kubert.model import Container, PodSandbox

#: The model fields each builder writes (the test checks them against the models).
POD_SANDBOX_FIELDS = frozenset(
    {"id", "metadata", "state", "created_at", "labels", "annotations", "runtime_handler"}
)
CONTAINER_FIELDS = frozenset(
    {"id", "pod_sandbox_id", "metadata", "image", "image_ref", "state", "created_at",
     "labels", "annotations", "image_id"}
)


def pod_sandbox_list(items: Iterable[PodSandbox]) -> pb.ListPodSandboxResponse:
    """The ListPodSandbox answer holding ``items``."""
    response = pb.ListPodSandboxResponse()
    add = response.items.add
    for item in items:
        entry = add(
            id=item.id, state=int(item.state), created_at=item.created_at,
            labels=item.labels, annotations=item.annotations,
            runtime_handler=item.runtime_handler,
        )
        md = item.metadata
        target = entry.metadata
        target.name = md.name
        target.uid = md.uid
        target.namespace = md.namespace
        target.attempt = md.attempt
    return response


def container_list(items: Iterable[Container]) -> pb.ListContainersResponse:
    """The ListContainers answer holding ``items``."""
    response = pb.ListContainersResponse()
    add = response.containers.add
    for item in items:
        entry = add(
            id=item.id, pod_sandbox_id=item.pod_sandbox_id, image_ref=item.image_ref,
            state=int(item.state), created_at=item.created_at, labels=item.labels,
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
    return response
