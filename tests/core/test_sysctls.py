"""Pod sysctls: only namespaced ones (the kubelet's rule), and not into a shared host namespace."""

from __future__ import annotations

import pytest

from kubert import (
    InvalidArgumentError,
    LinuxPodSandboxConfig,
    LinuxSandboxSecurityContext,
    NamespaceMode,
    NamespaceOption,
)


@pytest.mark.parametrize(
    "key",
    ["net.ipv4.ip_forward", "net/ipv4/ping_group_range", "kernel.shmmax", "kernel.msgmax",
     "kernel.sem", "fs.mqueue.msg_max"],
)
def test_namespaced_sysctls_are_accepted(key: str) -> None:
    assert LinuxPodSandboxConfig(sysctls={key: "1"}).sysctls == {key: "1"}


@pytest.mark.parametrize("key", ["k0", "vm.swappiness", "kernel.pid_max", "fs.file-max"])
def test_node_wide_sysctls_are_refused_by_name(key: str) -> None:
    with pytest.raises(InvalidArgumentError, match="not a namespaced sysctl") as info:
        LinuxPodSandboxConfig(sysctls={key: "1"})
    assert info.value.field == f"linux.sysctls[{key!r}]"


@pytest.mark.parametrize(
    ("key", "namespaces"),
    [
        ("net.core.somaxconn", NamespaceOption(network=NamespaceMode.NODE)),
        ("kernel.shmmax", NamespaceOption(ipc=NamespaceMode.NODE)),
    ],
)
def test_sysctls_of_a_shared_host_namespace_are_refused(
    key: str, namespaces: NamespaceOption
) -> None:
    context = LinuxSandboxSecurityContext(namespace_options=namespaces)
    with pytest.raises(InvalidArgumentError, match="cannot be set in a host-"):
        LinuxPodSandboxConfig(sysctls={key: "1"}, security_context=context)
