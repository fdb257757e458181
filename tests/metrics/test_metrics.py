"""kubelet_runtime_operations_* series count real CRI calls made over the socket."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from kubert import NotFoundError, PodSandboxConfig, PodSandboxMetadata
from kubert.cri.client import CriClient
from kubert.metrics import REGISTRY, operation_type


def _sample(name: str, operation: str) -> float:
    return REGISTRY.get_sample_value(name, {"operation_type": operation}) or 0.0


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ("RunPodSandbox", "run_podsandbox"),
        ("PodSandboxStatus", "podsandbox_status"),
        ("ListContainers", "list_containers"),
        ("ImageFsInfo", "image_fs_info"),
        ("ListPodSandboxStats", "list_podsandbox_stats"),
    ],
)
def test_operation_type_uses_the_kubelets_labels(method: str, label: str) -> None:
    assert operation_type(method) == label


def test_calls_and_errors_are_counted(cri_client) -> None:  # type: ignore[no-untyped-def]
    runs = _sample("kubelet_runtime_operations_total", "run_podsandbox")
    errors = _sample("kubelet_runtime_operations_errors_total", "container_status")
    observed = _sample("kubelet_runtime_operations_duration_seconds_count", "run_podsandbox")

    config = PodSandboxConfig(
        metadata=PodSandboxMetadata(name="metrics", namespace="default", uid="m-1")
    )
    cri_client.run_pod_sandbox(config)
    with pytest.raises(NotFoundError):
        cri_client.container_status("0" * 64)

    assert _sample("kubelet_runtime_operations_total", "run_podsandbox") == runs + 1
    assert _sample("kubelet_runtime_operations_errors_total", "container_status") == errors + 1
    assert (
        _sample("kubelet_runtime_operations_duration_seconds_count", "run_podsandbox")
        == observed + 1
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_exposes_metrics_over_http(tmp_path: Path) -> None:
    sock = Path(tempfile.mkdtemp(prefix="kubert-", dir="/tmp")) / "kubert.sock"
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "kubert.cli", "serve", "--runtime", "memory",
            "--network-plugin", "noop",
            "--container-runtime-endpoint", f"unix://{sock}",
            "--root-directory", str(tmp_path / "root"),
            "--metrics-address", f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        with CriClient.connect(f"unix://{sock}", timeout=30) as client:
            client.version()
            client.list_pod_sandbox()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        shutil.rmtree(sock.parent, ignore_errors=True)
    assert 'kubelet_runtime_operations_total{operation_type="list_podsandbox"} 1.0' in text
    assert 'kubelet_runtime_operations_duration_seconds_bucket{le="0.005",' in text


def test_a_bad_metrics_address_is_refused_by_name(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "kubert.cli", "serve", "--runtime", "memory",
            "--network-plugin", "noop",
            "--root-directory", str(tmp_path), "--metrics-address", "localhost",
        ],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "metrics-address: must be HOST:PORT" in result.stderr
    assert "'localhost'" in result.stderr
