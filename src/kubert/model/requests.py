"""CRI requests as models: the server converts each request message into one of these with
the generic converter, so every field check lives in a validator here, never in the server.
The server converts them ``in_order`` (see :func:`kubert.cri.convert.to_model`): each field is
checked before the next, so the field order below is the order in which faults are named.

Names and fields mirror the CRI's request messages; fields kubert does not use (Windows
resources, the sandbox overhead, annotations of UpdateContainerResources, the kubelet's API
version) are left out and ignored on the way in. The requests of Exec, Attach and PortForward
are in :mod:`kubert.model.streaming`, as the runtime backends receive them.
"""

from __future__ import annotations

from attrs import field, frozen

from kubert.model import validate
from kubert.model.common import LinuxContainerResources
from kubert.model.container import ContainerConfig, ContainerFilter, ContainerStatsFilter
from kubert.model.image import AuthConfig, ImageFilter, ImageSpec
from kubert.model.sandbox import PodSandboxConfig, PodSandboxFilter
from kubert.model.stats import PodSandboxStatsFilter


def _tuple(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(value)


# ---- runtime-wide -----------------------------------------------------------------------


@frozen(kw_only=True)
class VersionRequest:
    """Version; the kubelet's API version it carries is not used."""


@frozen(kw_only=True)
class StatusRequest:
    verbose: bool = False


@frozen(kw_only=True)
class NetworkConfig:
    pod_cidr: str = field(default="", validator=validate.text(4096, "is not a CIDR list"))


@frozen(kw_only=True)
class RuntimeConfig:
    network_config: NetworkConfig = field(factory=NetworkConfig)


@frozen(kw_only=True)
class UpdateRuntimeConfigRequest:
    runtime_config: RuntimeConfig = field(factory=RuntimeConfig)


@frozen(kw_only=True)
class RuntimeConfigRequest:
    pass


# ---- sandboxes --------------------------------------------------------------------------


@frozen(kw_only=True)
class RunPodSandboxRequest:
    # Fields are in the order the server checks them (to_model(..., in_order=True)).
    runtime_handler: str = field(default="", validator=validate.text(256, "is not a handler name"))
    config: PodSandboxConfig


@frozen(kw_only=True)
class StopPodSandboxRequest:
    pod_sandbox_id: str = field(validator=validate.object_id)


@frozen(kw_only=True)
class RemovePodSandboxRequest:
    pod_sandbox_id: str = field(validator=validate.object_id)


@frozen(kw_only=True)
class PodSandboxStatusRequest:
    pod_sandbox_id: str = field(validator=validate.object_id)
    verbose: bool = False


@frozen(kw_only=True)
class ListPodSandboxRequest:
    filter: PodSandboxFilter | None = None


@frozen(kw_only=True)
class UpdatePodSandboxResourcesRequest:
    pod_sandbox_id: str = field(validator=validate.object_id)
    resources: LinuxContainerResources


# ---- containers -------------------------------------------------------------------------


@frozen(kw_only=True)
class CreateContainerRequest:
    pod_sandbox_id: str = field(validator=validate.object_id)
    config: ContainerConfig
    sandbox_config: PodSandboxConfig


@frozen(kw_only=True)
class StartContainerRequest:
    container_id: str = field(validator=validate.object_id)


@frozen(kw_only=True)
class StopContainerRequest:
    container_id: str = field(validator=validate.object_id)
    timeout: int = field(default=0, validator=validate.timeout)


@frozen(kw_only=True)
class RemoveContainerRequest:
    container_id: str = field(validator=validate.object_id)


@frozen(kw_only=True)
class ListContainersRequest:
    filter: ContainerFilter | None = None


@frozen(kw_only=True)
class ContainerStatusRequest:
    container_id: str = field(validator=validate.object_id)
    verbose: bool = False


@frozen(kw_only=True)
class UpdateContainerResourcesRequest:
    container_id: str = field(validator=validate.object_id)
    linux: LinuxContainerResources


@frozen(kw_only=True)
class ReopenContainerLogRequest:
    container_id: str = field(validator=validate.object_id)


@frozen(kw_only=True)
class ExecSyncRequest:
    # The command is checked before the ID (field order is check order), as it always was.
    cmd: tuple[str, ...] = field(factory=tuple, converter=_tuple, validator=validate.command)
    container_id: str = field(validator=validate.object_id)
    timeout: int = field(default=0, validator=validate.timeout)


@frozen(kw_only=True)
class CheckpointContainerRequest:
    # The location is checked before the ID (field order is check order), as it always was.
    location: str = field(
        validator=validate.text(4096, "must be a path of at most 4096 characters", required=True)
    )
    container_id: str = field(validator=validate.object_id)
    timeout: int = field(default=0, validator=validate.timeout)


@frozen(kw_only=True)
class GetEventsRequest:
    pass


# ---- stats and metrics ------------------------------------------------------------------


@frozen(kw_only=True)
class ContainerStatsRequest:
    container_id: str = field(validator=validate.object_id)


@frozen(kw_only=True)
class ListContainerStatsRequest:
    filter: ContainerStatsFilter | None = None


@frozen(kw_only=True)
class PodSandboxStatsRequest:
    pod_sandbox_id: str = field(validator=validate.object_id)


@frozen(kw_only=True)
class ListPodSandboxStatsRequest:
    filter: PodSandboxStatsFilter | None = None


@frozen(kw_only=True)
class ListMetricDescriptorsRequest:
    pass


@frozen(kw_only=True)
class ListPodSandboxMetricsRequest:
    pass


# ---- images -----------------------------------------------------------------------------


@frozen(kw_only=True)
class ListImagesRequest:
    filter: ImageFilter | None = None


@frozen(kw_only=True)
class ImageStatusRequest:
    image: ImageSpec
    verbose: bool = False


@frozen(kw_only=True)
class PullImageRequest:
    image: ImageSpec = field(validator=validate.named_image)
    auth: AuthConfig | None = None
    sandbox_config: PodSandboxConfig | None = None


@frozen(kw_only=True)
class RemoveImageRequest:
    image: ImageSpec = field(validator=validate.named_image)


@frozen(kw_only=True)
class ImageFsInfoRequest:
    pass
