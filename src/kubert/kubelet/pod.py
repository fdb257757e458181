"""The Pod model: the core/v1 fields a runtime honours, as frozen attrs classes.

Field names are snake_case; each field's manifest spelling is its camelCase form unless the
field's ``alias`` metadata says otherwise (``hostPID``). Defaults are the API server's defaults,
applied when a manifest is loaded (see :mod:`kubert.kubelet.manifest`).
"""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from kubert.kubelet.lifecycle import DEFAULT_MESSAGE_PATH, MESSAGE_POLICIES, Lifecycle
from kubert.kubelet.probespec import Probe
from kubert.kubelet.resize import ContainerResizePolicy


def _alias(name: str) -> dict[str, Any]:
    return {"alias": name}


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


def _tuple_field() -> Any:
    return field(factory=tuple, converter=_tuple)


def _map_field() -> Any:
    return field(factory=dict, converter=dict)


RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PROTOCOLS = ("TCP", "UDP", "SCTP")
HOST_PATH_TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)
PROPAGATIONS = ("", "None", "HostToContainer", "Bidirectional")


@frozen(kw_only=True)
class ObjectMeta:
    """metadata: the pod's identity. ``uid`` is derived from namespace and name when absent."""

    name: str
    namespace: str = "default"
    uid: str = ""
    labels: dict[str, str] = _map_field()
    annotations: dict[str, str] = _map_field()


@frozen(kw_only=True)
class ObjectFieldSelector:
    field_path: str
    api_version: str = field(default="v1", metadata=_alias("apiVersion"))


@frozen(kw_only=True)
class KeySelector:
    """configMapKeyRef / secretKeyRef: one key of a ConfigMap or Secret of the pod's namespace."""

    name: str
    key: str
    optional: bool = False


@frozen(kw_only=True)
class EnvVarSource:
    """Exactly one of the references (checked by the manifest's validation)."""

    field_ref: ObjectFieldSelector | None = None
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None


@frozen(kw_only=True)
class EnvVar:
    name: str
    value: str = ""
    value_from: EnvVarSource | None = None


@frozen(kw_only=True)
class LocalObjectReference:
    """A ConfigMap or Secret (or pull secret) of the pod's namespace, by name."""

    name: str
    optional: bool = False


@frozen(kw_only=True)
class EnvFromSource:
    """envFrom: every key of a ConfigMap or Secret as a variable, ``prefix`` prepended."""

    prefix: str = ""
    config_map_ref: LocalObjectReference | None = None
    secret_ref: LocalObjectReference | None = None


@frozen(kw_only=True)
class ContainerPort:
    container_port: int
    host_port: int = 0
    host_ip: str = field(default="", metadata=_alias("hostIP"))
    protocol: str = field(default="TCP", metadata={"choices": PROTOCOLS})
    name: str = ""


@frozen(kw_only=True)
class ResourceRequirements:
    """requests / limits; ``cpu`` and ``memory`` are honoured, as Kubernetes quantities."""

    limits: dict[str, str] = _map_field()
    requests: dict[str, str] = _map_field()


@frozen(kw_only=True)
class VolumeMount:
    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str = ""
    mount_propagation: str = field(default="", metadata={"choices": PROPAGATIONS})


@frozen(kw_only=True)
class Capabilities:
    add: tuple[str, ...] = _tuple_field()
    drop: tuple[str, ...] = _tuple_field()


@frozen(kw_only=True)
class SeccompProfile:
    type: str = field(metadata={"choices": ("RuntimeDefault", "Unconfined", "Localhost")})
    localhost_profile: str = ""


@frozen(kw_only=True)
class SecurityContext:
    """A container's securityContext."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    privileged: bool = False
    read_only_root_filesystem: bool = False
    allow_privilege_escalation: bool | None = None
    capabilities: Capabilities | None = None
    seccomp_profile: SeccompProfile | None = None


@frozen(kw_only=True)
class Sysctl:
    name: str
    value: str


@frozen(kw_only=True)
class PodSecurityContext:
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: tuple[int, ...] = _tuple_field()
    sysctls: tuple[Sysctl, ...] = _tuple_field()
    seccomp_profile: SeccompProfile | None = None


@frozen(kw_only=True)
class Container:
    """One container of ``containers``, ``initContainers`` or ``ephemeralContainers``.

    ``restart_policy`` is only valid on init containers, where ``Always`` makes it a
    restartable sidecar. ``target_container_name`` is only valid on ephemeral containers.
    """

    name: str
    image: str
    command: tuple[str, ...] = _tuple_field()
    args: tuple[str, ...] = _tuple_field()
    working_dir: str = ""
    env: tuple[EnvVar, ...] = _tuple_field()
    env_from: tuple[EnvFromSource, ...] = _tuple_field()
    ports: tuple[ContainerPort, ...] = _tuple_field()
    resources: ResourceRequirements = field(factory=ResourceRequirements)
    volume_mounts: tuple[VolumeMount, ...] = _tuple_field()
    image_pull_policy: str = field(default="", metadata={"choices": ("", *PULL_POLICIES)})
    security_context: SecurityContext | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    restart_policy: str = field(default="", metadata={"choices": ("", "Always")})
    lifecycle: Lifecycle | None = None
    resize_policy: tuple[ContainerResizePolicy, ...] = _tuple_field()
    termination_message_path: str = DEFAULT_MESSAGE_PATH
    termination_message_policy: str = field(default="File", metadata={"choices": MESSAGE_POLICIES})
    target_container_name: str = ""
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False

    @property
    def is_sidecar(self) -> bool:
        """A restartable init container (``restartPolicy: Always``)."""
        return self.restart_policy == "Always"


@frozen(kw_only=True)
class HostPathVolumeSource:
    path: str
    type: str = field(default="", metadata={"choices": HOST_PATH_TYPES})


@frozen(kw_only=True)
class EmptyDirVolumeSource:
    medium: str = field(default="", metadata={"choices": ("",)})
    size_limit: str = field(default="", metadata={"choices": ("",)})


@frozen(kw_only=True)
class KeyToPath:
    """One key of the object written to ``path`` (relative) inside the volume."""

    key: str
    path: str
    mode: int | None = None


@frozen(kw_only=True)
class ConfigMapVolumeSource:
    name: str
    items: tuple[KeyToPath, ...] = _tuple_field()
    default_mode: int = 0o644
    optional: bool = False


@frozen(kw_only=True)
class SecretVolumeSource:
    secret_name: str
    items: tuple[KeyToPath, ...] = _tuple_field()
    default_mode: int = 0o644
    optional: bool = False


@frozen(kw_only=True)
class DownwardAPIVolumeFile:
    path: str
    field_ref: ObjectFieldSelector
    mode: int | None = None


@frozen(kw_only=True)
class DownwardAPIVolumeSource:
    items: tuple[DownwardAPIVolumeFile, ...] = _tuple_field()
    default_mode: int = 0o644


@frozen(kw_only=True)
class ConfigMapProjection:
    name: str
    items: tuple[KeyToPath, ...] = _tuple_field()
    optional: bool = False


@frozen(kw_only=True)
class SecretProjection:
    name: str
    items: tuple[KeyToPath, ...] = _tuple_field()
    optional: bool = False


@frozen(kw_only=True)
class DownwardAPIProjection:
    items: tuple[DownwardAPIVolumeFile, ...] = _tuple_field()


@frozen(kw_only=True)
class ServiceAccountTokenProjection:
    """Accepted so cluster-printed pods load; there is no API server to issue a token."""

    path: str
    audience: str = ""
    expiration_seconds: int = 3600


@frozen(kw_only=True)
class VolumeProjection:
    config_map: ConfigMapProjection | None = None
    secret: SecretProjection | None = None
    downward_api: DownwardAPIProjection | None = field(
        default=None, metadata=_alias("downwardAPI")
    )
    service_account_token: ServiceAccountTokenProjection | None = None


@frozen(kw_only=True)
class ProjectedVolumeSource:
    sources: tuple[VolumeProjection, ...] = _tuple_field()
    default_mode: int = 0o644


@frozen(kw_only=True)
class Volume:
    """One volume; exactly one source is set (checked by the manifest's validation)."""

    name: str
    host_path: HostPathVolumeSource | None = None
    empty_dir: EmptyDirVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = field(
        default=None, metadata=_alias("downwardAPI")
    )
    projected: ProjectedVolumeSource | None = None

    @property
    def sources(self) -> tuple[object, ...]:
        """The sources set, in field order (one for a valid volume)."""
        candidates = (
            self.host_path, self.empty_dir, self.config_map, self.secret, self.downward_api,
            self.projected,
        )
        return tuple(s for s in candidates if s is not None)


@frozen(kw_only=True)
class PodDNSConfigOption:
    name: str
    value: str | None = None


@frozen(kw_only=True)
class PodDNSConfig:
    nameservers: tuple[str, ...] = _tuple_field()
    searches: tuple[str, ...] = _tuple_field()
    options: tuple[PodDNSConfigOption, ...] = _tuple_field()


@frozen(kw_only=True)
class PodSpec:
    containers: tuple[Container, ...] = _tuple_field()
    init_containers: tuple[Container, ...] = _tuple_field()
    ephemeral_containers: tuple[Container, ...] = _tuple_field()
    restart_policy: str = field(default="Always", metadata={"choices": RESTART_POLICIES})
    host_network: bool = False
    host_pid: bool = field(default=False, metadata=_alias("hostPID"))
    host_ipc: bool = field(default=False, metadata=_alias("hostIPC"))
    hostname: str = ""
    subdomain: str = ""
    dns_policy: str = field(default="ClusterFirst", metadata={"choices": DNS_POLICIES})
    dns_config: PodDNSConfig | None = None
    security_context: PodSecurityContext | None = None
    volumes: tuple[Volume, ...] = _tuple_field()
    termination_grace_period_seconds: int = 30
    image_pull_secrets: tuple[LocalObjectReference, ...] = _tuple_field()


@frozen(kw_only=True)
class Pod:
    """A pod as a manifest describes it (apiVersion v1, kind Pod)."""

    api_version: str = field(default="v1", metadata={"choices": ("v1",)})
    kind: str = field(default="Pod", metadata={"choices": ("Pod",)})
    metadata: ObjectMeta
    spec: PodSpec

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def uid(self) -> str:
        return self.metadata.uid

    @property
    def full_name(self) -> str:
        """``<name>_<namespace>``, as the kubelet names pods in logs and backoff keys."""
        return f"{self.metadata.name}_{self.metadata.namespace}"

    def all_containers(self) -> tuple[Container, ...]:
        """Init, regular and ephemeral containers, in that order."""
        return self.spec.init_containers + self.spec.containers + self.spec.ephemeral_containers

    def find_container(self, name: str) -> Container | None:
        for container in self.all_containers():
            if container.name == name:
                return container
        return None
