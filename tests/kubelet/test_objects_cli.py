"""``kubert apply / get / describe / delete`` with ConfigMaps and Secrets, over a real CRI
socket (memory runtime): objects stored and listed, notices printed once, a missing object
stops the container with CreateContainerConfigError, an edited ConfigMap reaches the volume."""

from __future__ import annotations

from pathlib import Path

from .conftest import Invoke, unique_name

OBJECTS = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {{name: {name}-cfg, resourceVersion: "12"}}
  data: {{mode: {mode}}}
- apiVersion: v1
  kind: Secret
  metadata: {{name: {name}-sec, resourceVersion: "13"}}
  type: Opaque
  stringData: {{token: s3cr3t}}
"""
POD = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  schedulerName: default-scheduler
  volumes:
  - {{name: cfg, configMap: {{name: {name}-cfg}}}}
  containers:
  - name: app
    image: busybox:1.36
    command: [sleep, "9999"]
    terminationMessagePath: /dev/termination-log
    env: [{{name: TOKEN, valueFrom: {{secretKeyRef: {{name: {name}-sec, key: token}}}}}}]
"""




def test_objects_apply_get_describe_edit_delete(run: Invoke, tmp_path: Path) -> None:
    name = unique_name("obj")
    objects = tmp_path / "objects.yaml"
    objects.write_text(OBJECTS.format(name=name, mode="fast"))
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD.format(name=name))

    # The pod first: its ConfigMap and Secret do not exist yet.
    early = run("apply", "-f", str(pod), "--timeout", "5")
    assert early.exit_code == 1
    assert "notice: spec.schedulerName: ignored (used by the scheduler only)" in early.output
    assert "terminationMessagePath" not in early.output  # honoured now, so no notice
    assert f'CreateContainerConfigError configmap "{name}-cfg" not found' in early.output
    assert "CreateContainerConfigError" in run("get", "pods").output

    applied = run("apply", "-f", str(objects))
    assert applied.exit_code == 0, applied.output
    assert f"configmap/{name}-cfg created" in applied.output
    assert f"secret/{name}-sec created" in applied.output
    assert applied.output.count("metadata.resourceVersion: ignored") == 1
    assert run("apply", "-f", str(pod)).exit_code == 0

    listed = run("get", "configmaps").output.splitlines()
    assert listed[0].split() == ["NAME", "DATA"] and listed[1].split() == [f"{name}-cfg", "1"]
    secrets = run("get", "secrets", "-A").output.splitlines()
    assert secrets[1].split() == ["default", f"{name}-sec", "Opaque", "1"]
    described = run("describe", "secret", f"{name}-sec").output
    assert "token:  6 bytes" in described and "s3cr3t" not in described
    assert "mode:\n----\nfast" in run("describe", "cm", f"{name}-cfg").output

    volume = next((tmp_path / "kubelet" / "pods").glob("*/volumes/kubernetes.io~configmap/cfg"))
    assert (volume / "mode").read_text() == "fast"
    objects.write_text(OBJECTS.format(name=name, mode="slow"))
    edited = run("apply", "-f", str(objects))
    assert f"configmap/{name}-cfg configured" in edited.output
    assert f"secret/{name}-sec unchanged" in edited.output
    assert f"{name}: volume cfg updated" in edited.output
    assert (volume / "mode").read_text() == "slow"

    assert f'pod "{name}" deleted' in run("delete", "-f", str(pod)).output
    assert not volume.exists()
    gone = run("delete", "-f", str(objects)).output
    assert f'configmap "{name}-cfg" deleted' in gone and f'secret "{name}-sec" deleted' in gone
    assert "No configmaps found" in run("get", "cm").output
    missing = run("delete", "secret", f"{name}-sec")
    assert f'secret "{name}-sec" not found' in missing.output


def test_an_immutable_config_map_cannot_be_changed(run: Invoke, tmp_path: Path) -> None:
    name = unique_name("frozen")
    path = tmp_path / "cm.yaml"
    text = f"kind: ConfigMap\nmetadata: {{name: {name}}}\nimmutable: true\ndata: {{k: one}}\n"
    path.write_text(text)
    assert run("apply", "-f", str(path)).exit_code == 0
    path.write_text(text.replace("one", "two"))
    refused = run("apply", "-f", str(path))
    assert refused.exit_code == 1
    assert f"configmap/{name} is immutable" in refused.output
    assert "k:\n----\none" in run("describe", "configmap", name).output
    run("delete", "configmap", name)
