"""The example third-party distribution (examples/kubert-tmpfs), found the way users find it:
through the ``kubert`` entry-point group, then run through the whole suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubert import BackendContext, ContainerState, PodSandboxState, RuntimeBackend
from kubert.cri.client import CriClient
from kubert.plugins import PluginHost
from kubert.testing.configs import ConfigFactory
from kubert.testing.suite import BackendSuite
from kubert_docker.testing import stop_pid

pytest.importorskip("kubert_tmpfs", reason="pip install -e examples/kubert-tmpfs")

# Below the skip: the example distribution may not be installed.
from kubert_tmpfs.capabilities import TmpfsCapabilities


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    monkeypatch.delenv("KUBERT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    return PluginHost(autoload=True).load()


def test_entry_point_registers_runtime_and_image_backend(host: PluginHost) -> None:
    assert host.backend_class("runtime", "tmpfs").__module__ == "kubert_tmpfs.backend"
    assert host.backend_class("image", "tmpfs") is host.backend_class("runtime", "tmpfs")
    [row] = [r for r in host.report() if r.name == "tmpfs"]
    assert row.distribution == "kubert-tmpfs"
    assert "runtime:tmpfs" in row.provides


class TestTmpfsThroughTheHost(TmpfsCapabilities, BackendSuite):
    @pytest.fixture
    def backend(self, host: PluginHost, tmp_path: Path) -> Iterator[RuntimeBackend]:
        backend = host.create_backend("runtime", "tmpfs", BackendContext(root_dir=tmp_path))
        assert isinstance(backend, RuntimeBackend)
        yield backend
        backend.close()


def test_kubert_serve_runs_pods_on_tmpfs(tmp_path: Path) -> None:
    """`kubert serve --runtime tmpfs` (a real process, a real socket) serves a pod lifecycle."""
    # unix socket paths are limited to 107 bytes: keep this one short.
    short = Path(tempfile.mkdtemp(prefix="kt-"))
    socket = short / "k.sock"
    env = {k: v for k, v in os.environ.items() if k != "KUBERT_DISABLE_PLUGIN_AUTOLOAD"}
    server = subprocess.Popen(
        [sys.executable, "-c", "from kubert.cli import main; main()", "serve", "--runtime", "tmpfs",
         "--network-plugin", "noop", "--container-runtime-endpoint", f"unix://{socket}",
         "--root-directory", str(tmp_path / "root")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        client = CriClient.connect(f"unix://{socket}", timeout=30.0)
        configs = ConfigFactory()
        sandbox_config = configs.sandbox()
        sandbox_id = client.run_pod_sandbox(sandbox_config)
        assert client.pod_sandbox_status(sandbox_id).state == PodSandboxState.SANDBOX_READY
        container_id = client.create_container(sandbox_id, configs.container(), sandbox_config)
        client.start_container(container_id)
        assert client.container_status(container_id).state == ContainerState.CONTAINER_RUNNING
        assert client.exec_sync(container_id, ["echo", "served"], 10).stdout == b"served\n"
        client.stop_pod_sandbox(sandbox_id)
        assert client.container_status(container_id).state == ContainerState.CONTAINER_EXITED
        client.remove_pod_sandbox(sandbox_id)
        assert client.list_pod_sandbox() == []
        client.close()
    finally:
        stop_pid(server, 20)
        shutil.rmtree(short, ignore_errors=True)
