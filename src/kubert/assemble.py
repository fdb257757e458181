"""Build the running parts from a configuration: backends by name, the service, the server."""

from __future__ import annotations

import logging

from kubert.backends import (
    Backend,
    BackendContext,
    CheckpointStore,
    ImageBackend,
    NetworkBackend,
    RuntimeBackend,
)
from kubert.config import ServeConfig
from kubert.cri.server import CriServer
from kubert.cri.socket import parse_endpoint
from kubert.plugins import PluginHost
from kubert.service import KubertService

log = logging.getLogger(__name__)

__all__ = ["build_server", "build_service"]

def _context(config: ServeConfig, name: str) -> BackendContext:
    return BackendContext(
        root_dir=config.root_directory,
        options=config.backend_options(name),
        pod_infra_container_image=config.pod_infra_container_image,
    )


def build_service(host: PluginHost, config: ServeConfig) -> KubertService:
    """One instance of each configured backend; a class that is both the runtime and the image
    backend (docker, memory) is built once so that both see the same engine state."""
    built: list[Backend] = []

    def backend(kind: str, name: str) -> Backend:
        instance = host.create_backend(kind, name, _context(config, name))
        built.append(instance)
        return instance

    try:
        runtime = backend("runtime", config.runtime)
        assert isinstance(runtime, RuntimeBackend)
        if config.image_backend == config.runtime and isinstance(runtime, ImageBackend):
            images: Backend = runtime
        else:
            images = backend("image", config.image_backend)
        assert isinstance(images, ImageBackend)
        network = backend("network", config.network_plugin)
        assert isinstance(network, NetworkBackend)
        checkpoints = backend("checkpoint", config.checkpoint_store)
        assert isinstance(checkpoints, CheckpointStore)
    except BaseException:
        for instance in built:
            instance.close()
        raise
    return KubertService(
        runtime=runtime,
        images=images,
        network=network,
        checkpoints=checkpoints,
        pod_infra_image=config.pod_infra_container_image,
    )


def build_server(host: PluginHost, config: ServeConfig, service: KubertService) -> CriServer:
    """The CRI server for ``service``, every call routed through ``kubert_cri_call``."""
    return CriServer(
        service,
        host.pm.hook.kubert_cri_call,
        parse_endpoint(config.container_runtime_endpoint),
        socket_group=config.socket_group,
    )
