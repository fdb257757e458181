"""What crash safety costs, counted: kubert.fileutil.DURABILITY and its metrics."""

from __future__ import annotations

from prometheus_client import generate_latest

from kubert import (
    ContainerConfig,
    ContainerMetadata,
    ImageSpec,
    PodSandboxConfig,
    PodSandboxMetadata,
)
from kubert.cli import COMMAND_MODULES, _wanted_modules
from kubert.fileutil import DURABILITY
from kubert.metrics import REGISTRY
from kubert.testing.server import INFRA_IMAGE, RunningServer


def _delta(before: dict[str, int]) -> dict[str, int]:
    return {k: v - before[k] for k, v in DURABILITY.snapshot().items()}


def test_one_lifecycle_writes_three_checkpoints_and_deletes_one(
    cri_server: RunningServer,
) -> None:
    client = cri_server.client()
    try:
        config = PodSandboxConfig(
            metadata=PodSandboxMetadata(name="durable", uid="u-durable", namespace="ns"))
        before = DURABILITY.snapshot()
        sandbox_id = client.run_pod_sandbox(config)
        # The sandbox before it starts, then again with its network: each an atomic write of
        # a file fsync and a directory fsync.
        assert _delta(before) == {"fsyncs": 4, "atomic_writes": 2, "checkpoint_writes": 2,
                                  "checkpoint_deletes": 0}
        container = ContainerConfig(metadata=ContainerMetadata(name="c"),
                                    image=ImageSpec(image=INFRA_IMAGE))
        client.start_container(client.create_container(sandbox_id, container, config))
        before = DURABILITY.snapshot()
        client.stop_pod_sandbox(sandbox_id)  # marked stopping before the network teardown
        assert _delta(before)["checkpoint_writes"] == 1
        before = DURABILITY.snapshot()
        client.remove_pod_sandbox(sandbox_id)  # unlink and a directory fsync
        assert _delta(before) == {"fsyncs": 1, "atomic_writes": 0, "checkpoint_writes": 0,
                                  "checkpoint_deletes": 1}
    finally:
        client.close()
    text = generate_latest(REGISTRY).decode()
    written = DURABILITY.snapshot()["checkpoint_writes"]
    assert f"kubert_checkpoint_writes_total {float(written)}" in text


def test_serve_imports_only_its_own_command_module() -> None:
    assert _wanted_modules(["serve", "--runtime", "memory"]) == ("kubert.cli.serve",)
    assert _wanted_modules([]) == COMMAND_MODULES
    assert _wanted_modules(["--help"]) == COMMAND_MODULES
    assert _wanted_modules(["port-forward"]) == COMMAND_MODULES
