"""Edits of a running pod (issue 17, bug 2): an image or resources change is taken in place;
any other change of the spec replaces the pod as a whole, and the output names the fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubert.cri.client import CriClient
from kubert.kubelet import SPEC_CHANGED, compute_pod_actions, load_pods
from kubert.kubelet.edits import classify_edit
from tests.fixtures.server import RunningServer

from .conftest import new_manager, unique_name
from .helpers import RUNNING, container, pod, sandbox, status

BASE = {
    "policy": "Always",
    "grace": "30",
    "port": "8080",
    "image": "busybox:1.36",
    "env": "one",
    "memory": "32Mi",
}
TEMPLATE = """
metadata: {{name: {name}, labels: {{tier: {label}}}}}
spec:
  restartPolicy: {policy}
  terminationGracePeriodSeconds: {grace}
  containers:
  - name: web
    image: "{image}"
    command: [sleep, "9999"]
    env: [{{name: MODE, value: {env}}}]
    ports: [{{containerPort: 80, hostPort: {port}}}]
    resources: {{limits: {{memory: {memory}}}}}
  - {{name: other, image: "busybox:1.36", command: [sleep, "9999"]}}
"""


def manifest(name: str = "edit", label: str = "a", **changes: str) -> str:
    return TEMPLATE.format(name=name, label=label, **{**BASE, **changes})


REPLACING = [
    ("port", "9090", "spec.containers[web].ports"),
    ("grace", "5", "spec.terminationGracePeriodSeconds"),
    ("policy", "OnFailure", "spec.restartPolicy"),
    ("env", "two", "spec.containers[web].env[MODE].value"),
]


@pytest.mark.parametrize(("key", "value", "path"), REPLACING)
def test_a_change_the_running_pod_cannot_take_replaces_it(key: str, value: str, path: str) -> None:
    old = pod(manifest())
    sb = sandbox(old)
    web = container(old, "web", sb, RUNNING)
    other = container(old, "other", sb, RUNNING)
    new = pod(manifest(**{key: value}))
    actions = compute_pod_actions(new, status(new, [sb], [web, other]))
    assert actions.kill_pod and actions.create_sandbox and actions.attempt == 1
    assert path in actions.reasons[0] and "replaced as a whole" in actions.reasons[0]
    edit = classify_edit(old, new)
    assert edit.replaces_pod and edit.replacing == (path,)
    assert path in edit.summary()


def test_an_image_change_restarts_only_that_container_in_its_sandbox() -> None:
    old = pod(manifest())
    sb = sandbox(old)
    web = container(old, "web", sb, RUNNING)
    other = container(old, "other", sb, RUNNING)
    new = pod(manifest(image="alpine:3.20"))
    actions = compute_pod_actions(new, status(new, [sb], [web, other]))
    assert not actions.kill_pod and actions.sandbox_id == sb.id
    assert [(k.name, k.reason) for k in actions.containers_to_kill] == [("web", SPEC_CHANGED)]
    assert actions.containers_to_start == ("web",)
    edit = classify_edit(old, new)
    assert not edit.replaces_pod
    assert edit.in_place == ("spec.containers[web].image",)


def test_labels_and_resources_are_taken_in_place() -> None:
    edit = classify_edit(pod(manifest()), pod(manifest(label="b", memory="64Mi")))
    assert edit.replacing == ()
    assert edit.in_place == ("spec.containers[web].resources", "metadata.labels")


def test_a_host_port_edit_gives_a_new_sandbox_with_the_new_mapping(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    name = unique_name("port")
    first = load_pods(manifest(name))[0]
    lines: list[str] = []
    try:
        manager.sync_pod(first)
        before = manager.observe(first.uid)
        moved = load_pods(manifest(name, port="9090"))[0]
        manager.sync_pod(moved, progress=lines.append)
        after = manager.observe(first.uid)
        assert len(after.sandboxes) == 2 and after.sandboxes[0].id != before.sandboxes[0].id
        # the memory runtime keeps the config each sandbox was made with
        ports = memory_server.runtime._sandbox(after.sandboxes[0].id).config.port_mappings
        assert [p.host_port for p in ports] == [9090]
        assert all(c.running for c in after.containers if c.sandbox_id == after.sandboxes[0].id)
        assert not any(c.running for c in after.containers if c.sandbox_id == before.sandbox.id)
        assert any("spec.containers[web].ports" in line for line in lines), lines
    finally:
        manager.delete_pod(first.uid, first)
