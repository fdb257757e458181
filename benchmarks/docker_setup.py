"""What the docker benchmarks share: kubert's CRI server (docker runtime and image backends, no
network) on a private dockerd with the test images, a RuntimeService stub on its socket and a
docker SDK client for the raw side, all stopped afterwards. Run from the benchmark scripts."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from attrs import frozen
from cri_api.v1 import api_pb2_grpc as rpc

import kubert_docker.plugin
from kubert.testing.server import start_server
from kubert_docker.testing import DockerEngine, running_engine


@frozen
class KubertOnDocker:
    """The parts of one benchmark run; ``root`` is the run's scratch directory."""

    root: Path
    engine: DockerEngine
    server: Any
    stub: Any
    client: Any


@contextmanager
def kubert_on_docker(prefix: str) -> Iterator[KubertOnDocker]:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    (root / "engine").mkdir()
    with running_engine(root / "engine") as engine:
        server = start_server(
            root / "kubert", runtime="docker", image="docker", network="noop",
            options={"docker": engine.backend_options()}, plugins=(kubert_docker.plugin,),
            pod_infra_image=engine.pause,
        )
        client = engine.client()
        channel = grpc.insecure_channel(server.address)
        try:
            yield KubertOnDocker(root, engine, server, rpc.RuntimeServiceStub(channel), client)
        finally:
            channel.close()
            client.close()
            server.stop()
