"""Fixtures of the streaming tests: the whole stack on real parts.

A private dockerd (``docker_engine``), a kubert CRI server on a unix socket with the docker
backend, and the streaming server attached to it as ``kubert serve`` attaches it. One pod is
made through the CRI for the session: ``main`` sleeps, ``echo`` runs busybox ``nc`` as a
persistent echo server on port 7000 of the pod's loopback, ``hold`` accepts on 7001 and never
hangs up, ``console`` reads its stdin.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kubert_docker.plugin
from kubert.model import (
    ContainerConfig,
    ContainerMetadata,
    ImageSpec,
    PodSandboxConfig,
    PodSandboxMetadata,
)
from kubert.streaming.server import StreamingServer
from kubert.streaming.settings import StreamingConfig
from tests.fixtures.polling import eventually
from tests.fixtures.server import start_server
from tests.streaming.harness import ECHO_PORT, HOLD_PORT, FakeClock, Stack


@pytest.fixture(scope="session")
def stack(docker_engine: Any) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="kubert-", dir="/tmp"))
    cri = start_server(
        workdir, runtime="docker", options={"docker": docker_engine.backend_options()},
        plugins=(kubert_docker.plugin,), pod_infra_image=docker_engine.pause,
    )
    clock = FakeClock()
    streaming = StreamingServer(cri.runtime, StreamingConfig(), clock=clock)
    streaming.start()
    cri.service.streaming = streaming
    client = cri.client()
    try:
        sandbox_config = PodSandboxConfig(
            metadata=PodSandboxMetadata(name="stream", uid=f"uid-{time.time_ns()}",
                                        namespace="test"),
            log_directory=str(workdir / "logs"),
        )
        sandbox_id = client.run_pod_sandbox(sandbox_config)

        def container(name: str, *command: str, **kwargs: Any) -> str:
            config = ContainerConfig(metadata=ContainerMetadata(name=name),
                                     image=ImageSpec(image=docker_engine.busybox),
                                     command=command, log_path=f"{name}.log", **kwargs)
            cid = client.create_container(sandbox_id, config, sandbox_config)
            client.start_container(cid)
            return cid

        main = container("main", "sleep", "3600")
        echo = container("echo", "nc", "-ll", "-p", str(ECHO_PORT), "-e", "cat")
        console = container("console", "sh", "-c",
                            'while read -r line; do echo "got:$line"; done', stdin=True)
        hold = container("hold", "nc", "-ll", "-p", str(HOLD_PORT), "-e", "sleep", "600")
        stack = Stack(cri=cri, client=client, streaming=streaming, clock=clock,
                      sandbox_id=sandbox_id, main=main, echo=echo, console=console, hold=hold,
                      engine=docker_engine)
        assert eventually(lambda: _netstat(stack).count(b"LISTEN") >= 2, timeout=20,
                          interval=0.05), "timed out waiting for the pod's servers to listen"
        yield stack
    finally:
        client.close()
        streaming.stop()
        cri.stop()
        docker_engine.remove_all_containers()
        shutil.rmtree(workdir, ignore_errors=True)


def _netstat(stack: Stack) -> bytes:
    result = stack.client.exec_sync(stack.main, ["netstat", "-ltn"], 10)
    return result.stdout
