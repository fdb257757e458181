"""The docker backend refuses, before creating anything, a sysctl this kernel does not have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import kubert
from kubert import InvalidArgumentError
from kubert_docker.spec import host_sysctls


def test_existing_sysctls_pass_in_both_spellings() -> None:
    sysctls = {"net.ipv4.ip_forward": "1", "net/ipv4/ping_group_range": "0 0"}
    assert host_sysctls(sysctls) == sysctls


def test_a_sysctl_the_kernel_lacks_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgumentError, match="no such sysctl") as info:
        host_sysctls({"net.ipv4.kubert_no_such_sysctl": "1"}, Path("/proc/sys"))
    assert info.value.field == "linux.sysctls['net.ipv4.kubert_no_such_sysctl']"


def test_a_value_the_kernel_refuses_fails_at_start_not_create(pods: Any) -> None:
    """The crash harness relies on this: such a sandbox is created, then cannot start."""
    config = pods.sandbox_config(
        linux=kubert.LinuxPodSandboxConfig(
            sysctls={"net.ipv4.ip_unprivileged_port_start": "not-a-number"}
        )
    )
    created = pods.runtime.create_sandbox(config, "")
    pods.sandboxes.append(created.id)
    with pytest.raises(kubert.KubertError, match="ip_unprivileged_port_start"):
        pods.runtime.start_sandbox(created.id)
