"""QoS class, cgroup parent and oom_score_adj against the kubelet's rules: hand-checked cases
and a property test against an independent restatement of policy.go."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubert.kubelet import KubeletConfig
from kubert.kubelet.qos import oom_score_adj, pod_cgroup_parent, qos_class

from .helpers import pod

GI = 2**30


def make(containers: str, init: str = "") -> str:
    text = "metadata: {name: q, uid: 11111111-2222-3333-4444-555555555555}\nspec:\n"
    if init:
        text += f"  initContainers:\n{init}"
    return text + f"  containers:\n{containers}"


def c(name: str, resources: str = "", sidecar: bool = False) -> str:
    extra = ", restartPolicy: Always" if sidecar else ""
    body = f", resources: {resources}" if resources else ""
    return f"  - {{name: {name}, image: x{body}{extra}}}\n"


@pytest.mark.parametrize(
    ("containers", "init", "expected"),
    [
        (c("a"), "", "BestEffort"),
        (c("a", "{limits: {cpu: 1, memory: 1Gi}}"), "", "Guaranteed"),
        (c("a", "{limits: {cpu: 1, memory: 1Gi}, requests: {cpu: 1, memory: 1Gi}}"), "",
         "Guaranteed"),
        (c("a", "{limits: {cpu: 1, memory: 1Gi}, requests: {cpu: 500m}}"), "", "Burstable"),
        (c("a", "{limits: {memory: 1Gi}}"), "", "Burstable"),
        (c("a", "{limits: {cpu: 1, memory: 1Gi}}") + c("b"), "", "Burstable"),
        (c("a", "{limits: {cpu: 1, memory: 1Gi}}"), c("i"), "Burstable"),
        (c("a"), c("i", "{requests: {memory: 1Mi}}"), "Burstable"),
    ],
)
def test_qos_class(containers: str, init: str, expected: str) -> None:
    assert qos_class(pod(make(containers, init))) == expected


def test_cgroup_parent_per_class_and_driver() -> None:
    uid = "11111111-2222-3333-4444-555555555555"
    cases = {
        c("a"): ("/kubepods/besteffort/pod" + uid, "kubepods-besteffort-pod"),
        c("a", "{limits: {memory: 1Gi}}"): (
            "/kubepods/burstable/pod" + uid,
            "kubepods-burstable-pod",
        ),
        c("a", "{limits: {cpu: 1, memory: 1Gi}}"): ("/kubepods/pod" + uid, "kubepods-pod"),
    }
    for containers, (cgroupfs, slice_prefix) in cases.items():
        p = pod(make(containers))
        assert pod_cgroup_parent(KubeletConfig(), p) == cgroupfs
        systemd = pod_cgroup_parent(KubeletConfig(cgroup_driver="systemd"), p)
        assert systemd == f"{slice_prefix}{uid.replace('-', '_')}.slice"
    assert pod_cgroup_parent(KubeletConfig(cgroups_per_qos=False), pod(make(c("a")))) == ""


def reference_oom(qos: str, request: int, capacity: int, regular_min: int | None) -> int:
    """policy.go's GetContainerOOMScoreAdjust, restated."""
    if qos == "Guaranteed":
        return -997
    if qos == "BestEffort":
        return 1000
    adjust = 1000 - (1000 * request) // capacity
    if regular_min is not None:
        adjust = min(adjust, 1000 - (1000 * regular_min) // capacity)
    if adjust < 3:
        return 3
    if adjust == 1000:
        return 999
    return adjust


@given(
    app=st.integers(0, 2 * GI // 2**20),
    side=st.integers(0, 2 * GI // 2**20),
    capacity=st.integers(1, 4 * GI // 2**20),
)
def test_burstable_oom_score_adj_follows_the_formula(app: int, side: int, capacity: int) -> None:
    def mem(mi: int) -> str:
        return f"{{requests: {{memory: {mi}Mi}}}}" if mi else ""

    p = pod(make(c("app", mem(app)) + c("plain"), c("side", mem(side), sidecar=True)))
    qos = qos_class(p)
    cap = capacity * 2**20
    regular = [app * 2**20, 0]
    app_spec, plain_spec = p.spec.containers
    side_spec = p.spec.init_containers[0]
    assert oom_score_adj(p, app_spec, cap) == reference_oom(qos, app * 2**20, cap, None)
    assert oom_score_adj(p, plain_spec, cap) == reference_oom(qos, 0, cap, None)
    assert oom_score_adj(p, side_spec, cap) == reference_oom(qos, side * 2**20, cap, min(regular))
    # a sidecar is never killed before the regular container most likely to be
    worst_regular = max(oom_score_adj(p, x, cap) for x in (app_spec, plain_spec))
    assert oom_score_adj(p, side_spec, cap) <= worst_regular


def test_guaranteed_and_best_effort_scores() -> None:
    guaranteed = pod(make(c("a", "{limits: {cpu: 1, memory: 1Gi}}")))
    assert oom_score_adj(guaranteed, guaranteed.spec.containers[0], 8 * GI) == -997
    best = pod(make(c("a")))
    assert oom_score_adj(best, best.spec.containers[0], 8 * GI) == 1000
    burst = pod(make(c("a", "{requests: {memory: 64Mi}}")))
    assert oom_score_adj(burst, burst.spec.containers[0], GI) == 938
