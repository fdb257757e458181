"""A real kubert CRI server on a real unix socket, started in-process: backends chosen by name,
the service and the gRPC server on ``<workdir>/kubert.sock``. For tests, demos and benchmarks
(no pytest needed); kubert's own ``cri_server`` fixtures are built on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import define

from kubert.assemble import build_server, build_service
from kubert.config import ServeConfig
from kubert.cri.client import CriClient
from kubert.cri.server import CriServer
from kubert.plugins import PluginHost
from kubert.service import KubertService

#: The sandbox image the memory backend holds from the start, so no pull is needed.
INFRA_IMAGE = "registry.k8s.io/pause:3.9"


@define
class RunningServer:
    """One started server: its address, and the parts behind it for white-box checks."""

    address: str
    socket_path: Path
    root: Path
    host: PluginHost
    service: KubertService
    server: CriServer

    @property
    def runtime(self) -> Any:
        """The runtime backend instance (a MemoryBackend by default: inject faults here)."""
        return self.service.runtime

    def client(self, timeout: float = 5.0) -> CriClient:
        return CriClient.connect(self.address, timeout=timeout, call_timeout=30.0)

    def stop(self) -> None:
        self.server.stop(grace=2.0)
        self.service.close()


def start_server(
    workdir: Path,
    *,
    runtime: str = "memory",
    image: str | None = None,
    network: str = "noop",
    checkpoint: str = "file",
    options: Mapping[str, Mapping[str, Any]] | None = None,
    plugins: tuple[object, ...] = (),
    pod_infra_image: str = INFRA_IMAGE,
) -> RunningServer:
    """Build backends by name, start the service and the server under ``workdir``."""
    socket_path = workdir / "kubert.sock"
    config = ServeConfig(
        container_runtime_endpoint=f"unix://{socket_path}",
        root_directory=workdir / "root",
        runtime=runtime,
        image_service=image,
        network_plugin=network,
        checkpoint_store=checkpoint,
        pod_infra_container_image=pod_infra_image,
        backends={k: dict(v) for k, v in (options or {}).items()},
    )
    host = PluginHost(autoload=False).load(extra=plugins)
    service = build_service(host, config)
    try:
        service.start()
        server = build_server(host, config, service)
        server.start()
    except BaseException:
        service.close()
        raise
    return RunningServer(
        address=config.container_runtime_endpoint,
        socket_path=socket_path,
        root=config.root_directory,
        host=host,
        service=service,
        server=server,
    )
