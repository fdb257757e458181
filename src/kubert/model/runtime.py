"""Runtime-wide models: version, conditions, handlers."""

from __future__ import annotations

from attrs import field, frozen

from kubert.model.common import tuple_field

RUNTIME_READY = "RuntimeReady"
NETWORK_READY = "NetworkReady"


@frozen(kw_only=True)
class VersionInfo:
    version: str = "0.1.0"
    runtime_name: str = "kubert"
    runtime_version: str = ""
    runtime_api_version: str = "v1"


@frozen(kw_only=True)
class RuntimeCondition:
    """One condition of Status: RuntimeReady or NetworkReady; reason and message when false."""

    type: str
    status: bool
    reason: str = ""
    message: str = ""

    @classmethod
    def ready(cls, kind: str) -> RuntimeCondition:
        return cls(type=kind, status=True)

    @classmethod
    def not_ready(cls, kind: str, reason: str, message: str) -> RuntimeCondition:
        return cls(type=kind, status=False, reason=reason, message=message)


@frozen(kw_only=True)
class RuntimeStatus:
    conditions: tuple[RuntimeCondition, ...] = tuple_field()


@frozen(kw_only=True)
class RuntimeHandlerFeatures:
    recursive_read_only_mounts: bool = False
    user_namespaces: bool = False


@frozen(kw_only=True)
class RuntimeFeatures:
    """Runtime-wide features of StatusResponse (the kubelet admits pods that need them)."""

    supplemental_groups_policy: bool = False


@frozen(kw_only=True)
class RuntimeHandler:
    name: str = ""
    features: RuntimeHandlerFeatures = field(factory=RuntimeHandlerFeatures)
