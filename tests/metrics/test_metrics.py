"""kubelet_runtime_operations_* series count real CRI calls made over the socket."""

from __future__ import annotations

import pytest

from kubert import NotFoundError, PodSandboxConfig, PodSandboxMetadata
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
