"""Stats filters match like the CRI's list filters: ID prefixes and every selector label."""

from __future__ import annotations

from kubert import ContainerStatsFilter, PodSandboxStatsFilter


def test_container_stats_filter() -> None:
    everything = ContainerStatsFilter()
    assert everything.matches("abc", "pod1", {})
    chosen = ContainerStatsFilter(id="ab", pod_sandbox_id="po", label_selector={"app": "web"})
    assert chosen.matches("abc", "pod1", {"app": "web", "tier": "x"})
    assert not chosen.matches("xbc", "pod1", {"app": "web"})
    assert not chosen.matches("abc", "sandbox", {"app": "web"})
    assert not chosen.matches("abc", "pod1", {"app": "db"})
    assert not chosen.matches("abc", "pod1", {})


def test_pod_sandbox_stats_filter() -> None:
    chosen = PodSandboxStatsFilter(id="12", label_selector={"io.kubernetes.pod.name": "web"})
    assert chosen.matches("123", {"io.kubernetes.pod.name": "web"})
    assert not chosen.matches("213", {"io.kubernetes.pod.name": "web"})
    assert not chosen.matches("123", {"io.kubernetes.pod.name": "db"})
    assert PodSandboxStatsFilter().matches("anything", {})
