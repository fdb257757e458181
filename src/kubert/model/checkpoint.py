"""The sandbox checkpoint: what teardown and listing need once the engine forgot a sandbox."""

from __future__ import annotations

from attrs import field, frozen

from kubert.model import validate
from kubert.model.common import PortMapping, tuple_field
from kubert.model.sandbox import PodSandboxNetworkStatus


@frozen(kw_only=True)
class Checkpoint:
    """One sandbox's checkpoint, keyed by ``sandbox_id``."""

    sandbox_id: str = field(validator=validate.object_id)
    name: str
    namespace: str
    uid: str
    attempt: int = 0
    host_network: bool = False
    port_mappings: tuple[PortMapping, ...] = tuple_field()
    netns_path: str = ""
    network: PodSandboxNetworkStatus | None = None
    created_at: int = 0
    runtime_handler: str = ""
    annotations: dict[str, str] = field(factory=dict)
    extra: dict[str, str] = field(factory=dict)
