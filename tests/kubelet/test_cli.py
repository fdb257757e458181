"""``kubert apply / get / describe / delete / kubelet`` against a real CRI socket (memory)."""

from __future__ import annotations

import threading
from pathlib import Path

from kubert.cri.client import CriClient
from kubert.kubelet import KubeletConfig, RuntimeManager, derive_uid
from kubert.kubelet.static import CONFIG_HASH, CONFIG_SEEN, CONFIG_SOURCE, StaticPodLoop
from kubert.kubelet.store import PodStore

from .conftest import Invoke, unique_name

MANIFEST = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: web}}}}
spec:
  initContainers:
  - {{name: setup, image: "busybox:1.36", command: ["true"]}}
  - {{name: proxy, image: "busybox:1.36", restartPolicy: Always, command: [sleep, "9999"]}}
  containers:
  - {{name: app, image: "{image}", command: [sleep, "9999"]}}
  - {{name: worker, image: "busybox:1.36", command: [sleep, "9999"]}}
"""






def write(tmp_path: Path, name: str, image: str = "busybox:1.36") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(MANIFEST.format(name=name, image=image))
    return path


def test_apply_get_describe_edit_delete(run: Invoke, tmp_path: Path) -> None:
    name = unique_name("web")
    manifest = write(tmp_path, name)
    applied = run("apply", "-f", str(manifest))
    assert applied.exit_code == 0, applied.output
    assert f"pod/{name} created" in applied.output
    assert "Started init container setup" in applied.output
    assert "Started container worker" in applied.output
    assert f"pod/{name} Running: 3/3 ready" in applied.output

    listed = run("get", "pods")
    header, row = listed.output.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert row.split()[:4] == [name, "3/3", "Running", "0"]

    described = run("describe", "pod", name)
    assert "Phase:          Running" in described.output
    assert "Type:           sidecar" in described.output

    again = run("apply", "-f", str(manifest))
    assert f"pod/{name} unchanged" in again.output and "Started" not in again.output

    write(tmp_path, name, image="alpine:3.20")
    edited = run("apply", "-f", str(manifest))
    assert f"pod/{name} configured" in edited.output
    assert "Killing container app: container app definition changed" in edited.output
    assert "Creating sandbox" not in edited.output
    assert f"pod/{name} configured: applied in place: spec.containers[app].image" in edited.output
    assert run("get", "pods").output.splitlines()[1].split()[:4] == [name, "3/3", "Running", "1"]

    manifest.write_text(
        MANIFEST.format(name=name, image="alpine:3.20").replace(
            'name: worker, image: "busybox:1.36"', 'name: worker, image: "busybox:1.36", '
            "ports: [{containerPort: 80, hostPort: 8088}]"
        )
    )
    replaced = run("apply", "-f", str(manifest))
    assert replaced.exit_code == 0, replaced.output
    assert (
        f"pod/{name} configured: the pod is replaced as a whole (new sandbox and IP): only a new "
        "pod can take changes to spec.containers[worker].ports"
    ) in replaced.output
    assert "Creating sandbox for pod" in replaced.output

    deleted = run("delete", "-f", str(manifest))
    assert f'pod "{name}" deleted' in deleted.output
    assert name not in run("get", "pods").output


def test_apply_refuses_a_bad_manifest_with_the_field_path(run: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("metadata: {name: bad}\nspec:\n  containers:\n  - {name: a}\n")
    result = run("apply", "-f", str(path))
    assert result.exit_code == 1
    assert "spec.containers[0].image: required" in result.output


def test_apply_reports_an_image_that_cannot_be_pulled(run: Invoke, tmp_path: Path) -> None:
    name = unique_name("nopull")
    path = write(tmp_path, name, image="nosuch/image:1")
    result = run("apply", "-f", str(path), "--timeout", "5")
    assert result.exit_code == 1
    assert "ErrImagePull" in result.output
    assert "ErrImagePull" in run("get", "pods").output
    run("delete", "pod", name)


def test_static_pod_loop_follows_the_manifest_directory(
    memory_cri: CriClient, tmp_path: Path
) -> None:
    config = KubeletConfig(root_dir=tmp_path / "kubelet", log_root=tmp_path / "logs")
    manager = RuntimeManager(memory_cri, config)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    lines: list[str] = []
    store = PodStore(config)
    loop = StaticPodLoop(manager, store, manifests, report=lines.append, node="node-a")
    name = unique_name("static")
    path = write(manifests, name)
    path.rename(manifests / name)  # any file name: the kubelet reads every non-dot file
    path = manifests / name
    (manifests / f".{name}.swp").write_text("not a pod")
    for _ in range(3):  # init container, sidecar, then regular containers
        loop.run_once()
    (first,) = store.all().values()
    pod = first.pod
    assert pod.name == f"{name}-node-a"
    annotations = pod.metadata.annotations
    assert annotations[CONFIG_HASH] == pod.uid != derive_uid("default", name)
    assert annotations[CONFIG_SOURCE] == "file" and annotations[CONFIG_SEEN]
    status = manager.observe(pod.uid)
    assert {c.name for c in status.running_containers()} == {"proxy", "app", "worker"}

    # An edit is a new pod: a new UID, the old pod deleted.
    path.write_text(MANIFEST.format(name=name, image="alpine:3.20"))
    for _ in range(3):
        loop.run_once()
    (second,) = store.all().values()
    assert second.pod.uid != pod.uid and second.pod.name == pod.name
    assert manager.observe(pod.uid).sandboxes == ()
    app = manager.observe(second.pod.uid).find("app")
    assert app is not None and app.running and app.restart_count == 0

    (manifests / "broken.yaml").write_text("metadata: {name: broken}\nspec: {}\n")
    (manifests / "two.yaml").write_text(
        MANIFEST.format(name="a", image="x") + "---\n" + MANIFEST.format(name="b", image="x")
    )
    loop.run_once()
    assert any("broken.yaml" in line and "spec.containers" in line for line in lines)
    assert any("two.yaml" in line and "holds one pod, not 2" in line for line in lines)

    path.unlink()
    loop.run_once()
    assert manager.observe(second.pod.uid).sandboxes == ()
    assert PodStore(config).load(second.pod.uid) is None


def test_static_pod_loop_runs_until_stopped(memory_cri: CriClient, tmp_path: Path) -> None:
    config = KubeletConfig(root_dir=tmp_path / "kubelet", log_root=tmp_path / "logs")
    manager = RuntimeManager(memory_cri, config)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    name = unique_name("loop")
    write(manifests, name)
    loop = StaticPodLoop(manager, PodStore(config), manifests, period=0.05, report=lambda _: None)
    uid = loop.read_manifests().popitem()[0]
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    try:
        for _ in range(200):  # bounded: up to ~10 s
            status = manager.observe(uid)
            if len(status.running_containers()) == 3:
                break
            stop.wait(0.05)
        assert len(manager.observe(uid).running_containers()) == 3
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    manager.delete_pod(uid)
