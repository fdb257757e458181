"""kubert.kubelet: the kubelet's runtime manager over any CRI endpoint (SyncPod in Python).

This module is the kubelet side's public API, the one ``kubert_inplace`` (and any pod-policy
plugin) may import besides ``kubert`` itself. Its submodules are internal.

Typical use::

    manager = RuntimeManager(CriClient.connect(address), KubeletConfig(root_dir=...))
    for pod in load_pod_file("pod.yaml"):
        result = manager.sync_pod(pod, progress=print)
"""

from kubert.kubelet import labels
from kubert.kubelet.actions import (
    LIVENESS_PROBE,
    NOT_IN_SPEC,
    POD_DONE,
    SANDBOX_CHANGED,
    SPEC_CHANGED,
    STARTUP_PROBE,
    UNKNOWN_STATE,
    ContainerResize,
    ContainerToKill,
    PodActions,
    ProbeVerdicts,
    compute_pod_actions,
    sandbox_changed,
    should_restart,
)
from kubert.kubelet.backoff import Backoff
from kubert.kubelet.clock import Clock, FakeClock, SystemClock
from kubert.kubelet.context import (
    ContainerKill,
    ContainerStart,
    PodSyncContext,
    Progress,
    StepResult,
    SyncResult,
)
from kubert.kubelet.criconfigs import (
    container_config,
    field_ref_values,
    sandbox_config,
)
from kubert.kubelet.fieldrefs import resolve_field_ref
from kubert.kubelet.hashing import container_hash, pod_spec_hash
from kubert.kubelet.images import ImagePuller, ImagePullError
from kubert.kubelet.manager import RuntimeManager
from kubert.kubelet.manifest import (
    ManifestError,
    derive_uid,
    load_pod_file,
    load_pods,
    pod_from_dict,
    pod_to_dict,
)
from kubert.kubelet.observe import ContainerRuntimeStatus, PodRuntimeStatus, observe_pod
from kubert.kubelet.pod import (
    Container,
    ContainerPort,
    EnvVar,
    ObjectMeta,
    Pod,
    PodSpec,
    ResourceRequirements,
    Volume,
    VolumeMount,
)
from kubert.kubelet.probers import run_probe
from kubert.kubelet.probes import ProbeManager
from kubert.kubelet.probespec import GRPCAction, HTTPGetAction, Probe, TCPSocketAction
from kubert.kubelet.resources import container_resources, needs_resize
from kubert.kubelet.runtime import RuntimeClient
from kubert.kubelet.settings import KubeletConfig
from kubert.kubelet.starting import StartError

__all__ = [
    "LIVENESS_PROBE",
    "NOT_IN_SPEC",
    "POD_DONE",
    "SANDBOX_CHANGED",
    "SPEC_CHANGED",
    "STARTUP_PROBE",
    "UNKNOWN_STATE",
    "Backoff",
    "Clock",
    "Container",
    "ContainerKill",
    "ContainerPort",
    "ContainerResize",
    "ContainerRuntimeStatus",
    "ContainerStart",
    "ContainerToKill",
    "EnvVar",
    "FakeClock",
    "GRPCAction",
    "HTTPGetAction",
    "ImagePullError",
    "ImagePuller",
    "KubeletConfig",
    "ManifestError",
    "ObjectMeta",
    "Pod",
    "PodActions",
    "PodRuntimeStatus",
    "PodSpec",
    "PodSyncContext",
    "Probe",
    "ProbeManager",
    "ProbeVerdicts",
    "Progress",
    "ResourceRequirements",
    "RuntimeClient",
    "RuntimeManager",
    "StartError",
    "StepResult",
    "SyncResult",
    "SystemClock",
    "TCPSocketAction",
    "Volume",
    "VolumeMount",
    "compute_pod_actions",
    "container_config",
    "container_hash",
    "container_resources",
    "derive_uid",
    "field_ref_values",
    "labels",
    "load_pod_file",
    "load_pods",
    "needs_resize",
    "observe_pod",
    "pod_from_dict",
    "pod_spec_hash",
    "pod_to_dict",
    "resolve_field_ref",
    "run_probe",
    "sandbox_changed",
    "sandbox_config",
    "should_restart",
]
