"""Security contexts on the real engine, observed from inside the container."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import kubert

pytestmark = pytest.mark.docker

CAP_NET_RAW = 13
CAP_NET_ADMIN = 12


def _run(pods: Any, image: str | None = None, **security: Any) -> str:
    sc = kubert.LinuxContainerSecurityContext(**security)
    kwargs: dict[str, Any] = {"linux": kubert.LinuxContainerConfig(security_context=sc)}
    if image:
        kwargs["image"] = kubert.ImageSpec(image=image)
    return pods.run("sleep", "60", **kwargs)


def _status_field(pods: Any, cid: str, name: str) -> str:
    return str(pods.status_field(cid, name))


def test_run_as_user_group_and_supplemental_groups(pods: Any) -> None:
    cid = _run(pods, run_as_user=1234, run_as_group=2345, supplemental_groups=(5555, 6666))
    assert pods.exec(cid, "id -u").strip() == "1234"
    assert pods.exec(cid, "id -g").strip() == "2345"
    groups = set(pods.exec(cid, "id -G").split())
    assert {"5555", "6666"} <= groups


def test_run_as_username_and_group_without_user(pods: Any, docker_engine: Any) -> None:
    by_name = _run(pods, run_as_username="kubert")
    assert pods.exec(by_name, "id -u").strip() == "1234"
    with_group = _run(pods, run_as_username="kubert", run_as_group=4321)
    assert pods.exec(with_group, "id -u; id -g").split() == ["1234", "4321"]
    # A group alone is refused (the CRI's rule), before anything is created.
    with pytest.raises(kubert.InvalidArgumentError, match=r"run_as_group"):
        kubert.LinuxContainerSecurityContext(run_as_group=4321)


def test_readonly_rootfs(pods: Any) -> None:
    cid = _run(pods, readonly_rootfs=True)
    result = pods.runtime.exec_sync(cid, ["touch", "/made-here"], 10)
    assert result.exit_code != 0 and b"Read-only file system" in result.stderr


def test_capabilities_add_and_drop(pods: Any) -> None:
    cid = _run(pods, capabilities=kubert.Capability(add_capabilities=("NET_ADMIN",),
                                                drop_capabilities=("NET_RAW",)))
    effective = int(_status_field(pods, cid, "CapEff"), 16)
    assert effective >> CAP_NET_ADMIN & 1
    assert not effective >> CAP_NET_RAW & 1
    plain = _run(pods)
    assert int(_status_field(pods, plain, "CapEff"), 16) >> CAP_NET_RAW & 1


def test_no_new_privs(pods: Any) -> None:
    assert _status_field(pods, _run(pods, no_new_privs=True), "NoNewPrivs") == "1"
    assert _status_field(pods, _run(pods), "NoNewPrivs") == "0"


def test_masked_and_readonly_paths(pods: Any) -> None:
    cid = _run(pods, masked_paths=("/etc/group",), readonly_paths=("/tmp",))
    assert pods.exec(cid, "cat /etc/group") == ""
    result = pods.runtime.exec_sync(cid, ["touch", "/tmp/x"], 10)
    assert result.exit_code != 0 and b"Read-only" in result.stderr


def test_seccomp_unconfined_runtime_default_and_localhost(pods: Any, tmp_path: Path) -> None:
    unconfined = _run(
        pods, seccomp=kubert.SecurityProfile(profile_type=kubert.ProfileType.Unconfined)
    )
    assert _status_field(pods, unconfined, "Seccomp") == "0"
    # No profile at all is unconfined too (the CRI's rule; the kubelet sends RuntimeDefault).
    assert _status_field(pods, _run(pods), "Seccomp") == "0"
    default = _run(
        pods, seccomp=kubert.SecurityProfile(profile_type=kubert.ProfileType.RuntimeDefault)
    )
    assert _status_field(pods, default, "Seccomp") == "2"
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
            }
        )
    )
    local = _run(
        pods,
        seccomp=kubert.SecurityProfile(
            profile_type=kubert.ProfileType.Localhost, localhost_ref=str(profile)
        ),
    )
    result = pods.runtime.exec_sync(local, ["mkdir", "/tmp/denied"], 10)
    assert result.exit_code != 0
    pods.exec(local, "touch /tmp/allowed")


def test_missing_localhost_seccomp_profile_names_the_field(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    sc = kubert.LinuxContainerSecurityContext(
        seccomp=kubert.SecurityProfile(
            profile_type=kubert.ProfileType.Localhost, localhost_ref="/no/such/profile.json"
        )
    )
    config = pods.container_config("true", linux=kubert.LinuxContainerConfig(security_context=sc))
    with pytest.raises(kubert.InvalidArgumentError, match=r"seccomp\.localhost_ref"):
        pods.runtime.create_container(sandbox_id, config, pods.configs[sandbox_id])


def test_apparmor_profile_without_apparmor_is_refused(pods: Any) -> None:
    if pods.runtime.facts.apparmor:
        pytest.skip("AppArmor is enabled on this host")
    sandbox_id = pods.sandbox()
    sc = kubert.LinuxContainerSecurityContext(
        apparmor=kubert.SecurityProfile(
            profile_type=kubert.ProfileType.Localhost, localhost_ref="localhost/some-profile"
        )
    )
    config = pods.container_config("true", linux=kubert.LinuxContainerConfig(security_context=sc))
    with pytest.raises(kubert.InvalidArgumentError, match="AppArmor"):
        pods.runtime.create_container(sandbox_id, config, pods.configs[sandbox_id])


def test_privileged_container(pods: Any) -> None:
    # Runs on every host: where --privileged fails, kubert spells it out (test_privileged.py).
    cid = _run(pods, privileged=True)
    assert int(_status_field(pods, cid, "CapEff"), 16) >> CAP_NET_ADMIN & 1
