"""Status answers that carry more than one model: the status plus verbose ``info`` and, for a
sandbox, its containers' statuses (PodSandboxStatus, ContainerStatus, ImageStatus, Status)."""

from __future__ import annotations

from attrs import field, frozen

from kubert.model.common import tuple_field
from kubert.model.container import ContainerStatus
from kubert.model.image import Image
from kubert.model.runtime import RuntimeFeatures, RuntimeHandler, RuntimeStatus
from kubert.model.sandbox import PodSandboxStatus


@frozen(kw_only=True)
class PodSandboxStatusResponse:
    """``info`` values are JSON documents, filled only when the request was verbose.

    :ivar timestamp: Unix nanoseconds at which the statuses were read (the kubelet's evented
        PLEG compares it with its cache).
    """

    status: PodSandboxStatus
    info: dict[str, str] = field(factory=dict)
    containers_statuses: tuple[ContainerStatus, ...] = tuple_field()
    timestamp: int = 0


@frozen(kw_only=True)
class ContainerStatusResponse:
    status: ContainerStatus
    info: dict[str, str] = field(factory=dict)


@frozen(kw_only=True)
class ImageStatusResponse:
    """``image`` is None when the image is absent (then ``info`` is empty)."""

    image: Image | None = None
    info: dict[str, str] = field(factory=dict)


@frozen(kw_only=True)
class StatusResponse:
    status: RuntimeStatus
    runtime_handlers: tuple[RuntimeHandler, ...] = tuple_field()
    info: dict[str, str] = field(factory=dict)
    features: RuntimeFeatures = field(factory=RuntimeFeatures)
