"""In-place upgrades on real parts: kubert's CRI server over a unix socket, runtime ``docker``
(a private dockerd), network ``cni`` (real bridge + host-local), images pulled from a real
registry on 127.0.0.1, and the ``kubert`` command line in its own process.

Crashes are injected with ``KUBERT_INPLACE_CRASH_AT`` (the plugin's fault-injection crash
point: the process exits at once, as ``kill -9`` would, at the named step).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubert.kubelet import ContainerRuntimeStatus, PodRuntimeStatus, load_pod_file

from .conftest import InPlaceEnv

pytestmark = [pytest.mark.docker, pytest.mark.cni]

SIDE_CMD = "trap 'exit 0' TERM; sleep 3600 & wait"


def write_pod(path: Path, name: str, app_image: str, release: str = "r1",
              side_cpu: str = "100m", probe: str = "") -> Path:
    """Two containers: ``app`` runs ``app_image`` (with a startup probe running ``probe``);
    ``side`` reads an annotation via fieldRef and requests ``side_cpu``."""
    startup = (
        f"    startupProbe: {{exec: {{command: [sh, -c, '{probe}']}}, periodSeconds: 1, "
        "failureThreshold: 2}\n" if probe else ""
    )
    path.write_text(f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations:
    release: "{release}"
    inplace.kubert.io/verify-seconds: "1"
    inplace.kubert.io/timeout-seconds: "20"
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: "{app_image}"
    imagePullPolicy: IfNotPresent
{startup}  - name: side
    image: kubert-test/busybox:latest
    imagePullPolicy: Never
    command: [sh, -c, "{SIDE_CMD}"]
    resources: {{requests: {{cpu: "{side_cpu}"}}}}
    env:
    - name: RELEASE
      valueFrom: {{fieldRef: {{fieldPath: "metadata.annotations['release']"}}}}
""")
    return path


def uid_of(path: Path) -> str:
    return load_pod_file(path)[0].uid


def running(status: PodRuntimeStatus, name: str) -> ContainerRuntimeStatus:
    found = status.find(name)
    assert found is not None and found.running, f"{name} is not running: {found}"
    return found


def sandbox_of(status: PodRuntimeStatus) -> tuple[str, tuple[str, ...]]:
    ready = [s for s in status.sandboxes if s.state.name == "SANDBOX_READY"]
    assert len(ready) == 1, status.sandboxes
    return ready[0].id, status.ips


def exec_out(env: InPlaceEnv, container_id: str, *cmd: str) -> str:
    result = env.cri.exec_sync(container_id, list(cmd), timeout=10)
    assert result.exit_code == 0, result.stderr
    return result.stdout.decode().strip()


def record(env: InPlaceEnv, uid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (env.config.pod_dir(uid) / "inplace-upgrade.json").read_text()
    )
    return data


def report_downtime(rec: dict[str, Any], what: str) -> None:
    downtime = rec["containers"]["app"]["downtime"]
    print(f"\n[in-place] {what}: container app down for {downtime:.3f}s "
          "(StopContainer of the old one to StartContainer of the new one)")


def apply_v1(
    env: InPlaceEnv, tmp_path: Path, name: str, probe: str = ""
) -> tuple[Path, PodRuntimeStatus]:
    path = write_pod(tmp_path / "pod.yaml", name, env.images.v1, probe=probe)
    out = env.kubert("apply", "-f", str(path)).stdout
    assert f"pod/{name} Running: 2/2 ready" in out, out
    status = env.observe(uid_of(path))
    assert exec_out(env, running(status, "app").id, "cat", "/version") == "v1"
    return path, status


def test_image_change_replaces_only_that_container_in_the_same_sandbox(
    inplace_env: InPlaceEnv, tmp_path: Path
) -> None:
    env = inplace_env
    path, before = apply_v1(env, tmp_path, "web")
    uid = uid_of(path)
    sandbox_id, ips = sandbox_of(before)
    assert ips, "the CNI bridge gave the pod no IP"
    app, side = running(before, "app"), running(before, "side")
    try:
        # app's image changes, and side's CPU request: side is resized, not restarted.
        write_pod(path, "web", env.images.v2, side_cpu="250m")
        out = env.kubert("apply", "-f", str(path)).stdout
        print(out)
        assert "Starting in-place upgrade #1" in out and "upgraded in place" in out, out
        assert "Killing pod" not in out and "Creating sandbox" not in out, out

        after = env.observe(uid)
        assert sandbox_of(after) == (sandbox_id, ips)
        new_app, same_side = running(after, "app"), running(after, "side")
        assert (same_side.id, same_side.restart_count) == (side.id, side.restart_count)
        assert side.resources is not None and side.resources.cpu_shares == 102
        assert same_side.resources is not None and same_side.resources.cpu_shares == 256
        assert "Resized container side" in out, out
        assert new_app.id != app.id and new_app.sandbox_id == sandbox_id
        assert new_app.restart_count == app.restart_count + 1
        assert new_app.status.image.user_specified_image == env.images.v2
        assert exec_out(env, new_app.id, "cat", "/version") == "v2"
        # The new container joined the old network namespace: it sees the pod's IP on eth0.
        assert f"inet {ips[0]}/" in exec_out(env, new_app.id, "ip", "-o", "-4", "addr", "show")

        rec = record(env, uid)
        assert rec["result"] == "Succeeded" and rec["sequence"] == 1
        assert rec["sandbox_id"] == sandbox_id
        entry = rec["containers"]["app"]
        assert (entry["old_image"], entry["new_image"], entry["phase"]) == (
            env.images.v1, env.images.v2, "Upgraded")
        assert (entry["old_id"], entry["new_id"]) == (app.id, new_app.id)
        assert (entry["old_image_ref"], entry["new_image_ref"]) == (
            app.status.image_ref, new_app.status.image_ref)
        assert entry["old_image_ref"] != entry["new_image_ref"]
        assert set(rec["containers"]) == {"app"}
        report_downtime(rec, "image v1 -> v2")

        table = env.kubert("get", "pods").stdout
        assert "UPGRADE" in table.splitlines()[0] and "Succeeded #1 1/1" in table, table
        described = env.kubert("describe", "pod", "web").stdout
        print(table, described, sep="\n")
        assert "Upgrade:        Succeeded (#1" in described, described
        assert f"app (regular): Upgraded: {env.images.v1} -> {env.images.v2}" in described

        # An annotation the side container reads through fieldRef: it restarts in place.
        write_pod(path, "web", env.images.v2, release="r2", side_cpu="250m")
        out = env.kubert("apply", "-f", str(path)).stdout
        assert "side (fieldRef values changed)" in out, out
        again = env.observe(uid)
        assert sandbox_of(again) == (sandbox_id, ips)
        assert running(again, "app").id == new_app.id
        new_side = running(again, "side")
        assert new_side.id != side.id and new_side.restart_count == side.restart_count + 1
        assert exec_out(env, new_side.id, "sh", "-c", "echo $RELEASE") == "r2"
        rec = record(env, uid)
        assert rec["result"] == "Succeeded" and rec["sequence"] == 2
        assert rec["containers"]["side"]["reason"] == "fieldRef"
    finally:
        env.kubert("delete", "pod", "web", check=False)


def test_an_image_that_cannot_be_pulled_stops_nothing(
    inplace_env: InPlaceEnv, tmp_path: Path
) -> None:
    env = inplace_env
    path, before = apply_v1(env, tmp_path, "nopull")
    uid = uid_of(path)
    try:
        write_pod(path, "nopull", env.images.missing)
        out = env.kubert("apply", "-f", str(path)).stdout
        assert "no container was stopped" in out, out
        assert f'Failed to pull image "{env.images.missing}"' in out, out
        after = env.observe(uid)
        for name in ("app", "side"):
            now, then = running(after, name), running(before, name)
            assert (now.id, now.restart_count) == (then.id, then.restart_count)
        assert sandbox_of(after) == sandbox_of(before)
        rec = record(env, uid)
        assert rec["result"] == "PullFailed"
        assert env.images.missing in rec["message"]
        assert rec["containers"]["app"]["phase"] == "Skipped"
        assert "PullFailed #1 0/1" in env.kubert("get", "pods").stdout
        # A failed pull is tried again on the next sync (a failed upgrade would not be).
        out = env.kubert("apply", "-f", str(path)).stdout
        assert "Starting in-place upgrade #2" in out and "no container was stopped" in out, out
        assert running(env.observe(uid), "app").id == running(before, "app").id
        assert record(env, uid)["result"] == "PullFailed"
    finally:
        env.kubert("delete", "pod", "nopull", check=False)


def test_an_image_that_crashes_is_rolled_back(inplace_env: InPlaceEnv, tmp_path: Path) -> None:
    env = inplace_env
    path, before = apply_v1(env, tmp_path, "crashy")
    uid = uid_of(path)
    side = running(before, "side")
    try:
        write_pod(path, "crashy", env.images.crash)
        out = env.kubert("apply", "-f", str(path)).stdout
        print(out)
        assert "the new container exited with code 3" in out and "rolling back" in out, out
        after = env.observe(uid)
        assert sandbox_of(after) == sandbox_of(before)
        app = running(after, "app")
        assert app.status.image.user_specified_image == env.images.v1
        assert exec_out(env, app.id, "cat", "/version") == "v1"
        assert (running(after, "side").id) == side.id
        rec = record(env, uid)
        assert rec["result"] == "RolledBack"
        entry = rec["containers"]["app"]
        assert entry["phase"] == "RolledBack" and "exited with code 3" in entry["message"]
        assert entry["new_id"] == app.id
        report_downtime(rec, "image v1 -> crash, rolled back")

        # Re-applying the same manifest does not try the failed upgrade again.
        out = env.kubert("apply", "-f", str(path)).stdout
        assert "ended RolledBack" in out, out
        assert running(env.observe(uid), "app").id == app.id
        assert "RolledBack #1 0/1" in env.kubert("get", "pods").stdout
    finally:
        env.kubert("delete", "pod", "crashy", check=False)


def test_a_new_image_failing_its_startup_probe_is_rolled_back(
    inplace_env: InPlaceEnv, tmp_path: Path
) -> None:
    env = inplace_env
    probe = "grep -q v1 /version"  # true in v1, false in v2
    path, before = apply_v1(env, tmp_path, "probed", probe=probe)
    uid = uid_of(path)
    try:
        write_pod(path, "probed", env.images.v2, probe=probe)
        out = env.kubert("apply", "-f", str(path)).stdout
        assert "startup probe failed 2 times" in out and "rolling back" in out, out
        after = env.observe(uid)
        assert sandbox_of(after) == sandbox_of(before)
        assert exec_out(env, running(after, "app").id, "cat", "/version") == "v1"
        assert running(after, "side").id == running(before, "side").id
        assert record(env, uid)["result"] == "RolledBack"
    finally:
        env.kubert("delete", "pod", "probed", check=False)


@pytest.mark.parametrize(
    ("crash_at", "image", "phase", "result", "version"),
    [
        # the old container stopped, the new one not created: the next sync creates it
        ("after-stop:app", "v2", "Stopping", "Succeeded", "v2"),
        # the new container started, not verified: the next sync verifies it
        ("after-start:app", "v2", "Verifying", "Succeeded", "v2"),
        # the crashing container stopped, the old image not started: the next sync starts it
        ("during-rollback:app", "crash", "RollingBack", "RolledBack", "v1"),
    ],
)
def test_kubert_killed_mid_upgrade_finishes_or_rolls_back_on_the_next_sync(
    inplace_env: InPlaceEnv, tmp_path: Path, crash_at: str, image: str, phase: str,
    result: str, version: str,
) -> None:
    env = inplace_env
    path, before = apply_v1(env, tmp_path, "crash-mid")
    uid = uid_of(path)
    sandbox = sandbox_of(before)
    side = running(before, "side")
    try:
        write_pod(path, "crash-mid", getattr(env.images, image))
        killed = env.kubert("apply", "-f", str(path), env={"KUBERT_INPLACE_CRASH_AT": crash_at},
                            check=False, separate=True)
        assert killed.returncode == 137, killed.stdout + killed.stderr
        half = running(env.observe(uid), "side")
        assert half.id == side.id
        rec = record(env, uid)
        assert rec["result"] == "InProgress" and rec["containers"]["app"]["phase"] == phase
        newest_app = env.observe(uid).find("app")
        assert newest_app is not None
        assert newest_app.running is (phase == "Verifying")

        out = env.kubert("apply", "-f", str(path), separate=True).stdout
        assert "Resuming interrupted in-place upgrade #1" in out, out
        after = env.observe(uid)
        assert sandbox_of(after) == sandbox
        app = running(after, "app")
        assert exec_out(env, app.id, "cat", "/version") == version
        assert running(after, "side").id == side.id
        rec = record(env, uid)
        assert rec["result"] == result and rec["sequence"] == 1
        assert rec["containers"]["app"]["phase"] in ("Upgraded", "RolledBack")
    finally:
        env.kubert("delete", "pod", "crash-mid", check=False)
