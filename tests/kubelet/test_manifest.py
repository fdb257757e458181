"""Loading Pod manifests: field-path errors, refused unknown fields, defaults, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubert.kubelet import ManifestError, load_pods, pod_from_dict, pod_to_dict
from kubert.kubelet.manifest import default_pull_policy, derive_uid
from kubert.kubelet.quantity import QuantityError, parse_cpu, parse_memory

BASE = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: app, image: busybox:1.36}
"""


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as caught:
        load_pods(text, "pod.yaml")
    return caught.value.problems


def test_minimal_manifest_gets_api_defaults() -> None:
    pod = load_pods(BASE)[0]
    assert pod.namespace == "default"
    assert pod.uid == derive_uid("default", "web")
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.termination_grace_period_seconds == 30
    assert pod.spec.containers[0].image_pull_policy == "IfNotPresent"


def test_missing_image_names_the_field_path() -> None:
    text = BASE + "  - {name: second}\n"
    assert ("spec.containers[1].image", "required") in problems(text)


def test_message_starts_with_the_file_and_lists_every_problem() -> None:
    text = BASE + "  - {name: second, volumeDevices: []}\n"
    with pytest.raises(ManifestError) as caught:
        load_pods(text, "pod.yaml")
    message = str(caught.value)
    assert message.startswith("pod.yaml:")
    assert "spec.containers[1].volumeDevices: not supported" in message
    assert "spec.containers[1].image: required" in message


@pytest.mark.parametrize(
    ("snippet", "path"),
    [
        (
            "    readinessProbe: {exec: {command: [x]}, tcpSocket: {port: 80}}",
            "spec.containers[0].readinessProbe",
        ),
        (
            "    livenessProbe: {httpGet: {port: web}}",
            "spec.containers[0].livenessProbe.httpGet.port",
        ),
        (
            "    startupProbe: {grpc: {port: 80}, successThreshold: 2}",
            "spec.containers[0].startupProbe.successThreshold",
        ),
        (
            "    readinessProbe: {httpGet: {port: 80, scheme: FTP}}",
            "spec.containers[0].readinessProbe.httpGet.scheme",
        ),
        (
            "    volumeMounts: [{name: v, mountPath: /v, bogus: 1}]",
            "spec.containers[0].volumeMounts[0].bogus",
        ),
        (
            "    resources: {limits: {nvidia.com/gpu: '1'}}",
            "spec.containers[0].resources.limits['nvidia.com/gpu']",
        ),
    ],
)
def test_unknown_or_unsupported_fields_are_refused(snippet: str, path: str) -> None:
    text = BASE.replace(
        "  - {name: app, image: busybox:1.36}", "  - name: app\n    image: busybox:1.36\n" + snippet
    )
    found = [p for p, _ in problems(text)]
    assert path in found or any(p.startswith(path) for p in found), found


def test_type_errors_name_path_and_value() -> None:
    found = dict(problems(BASE.replace("spec:\n", "spec:\n  hostNetwork: 'maybe'\n")))
    assert found["spec.hostNetwork"] == "must be true or false, got 'maybe'"


def test_semantic_checks() -> None:
    text = """
metadata: {name: Bad_Name}
spec:
  restartPolicy: Sometimes
  containers:
  - name: a
    image: x
    env: [{name: X, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
    volumeMounts: [{name: missing, mountPath: /m}]
    ports: [{containerPort: 80, hostPort: 8080}]
  - name: a
    image: y
    ports: [{containerPort: 81, hostPort: 8080}]
"""
    found = problems(text)
    paths = [p for p, _ in found]
    assert "spec.restartPolicy" in paths
    text = text.replace("  restartPolicy: Sometimes\n", "")
    paths = [p for p, _ in problems(text)]
    assert "metadata.name" in paths
    assert "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath" in paths
    assert "spec.containers[0].volumeMounts[0].name" in paths
    assert "spec.containers[1].name" in paths
    assert "spec.containers[1].ports[0].hostPort" in paths


def test_init_restart_policy_only_on_init_containers() -> None:
    text = BASE.replace("image: busybox:1.36}", "image: busybox:1.36, restartPolicy: Always}")
    assert any(p == "spec.containers[0].restartPolicy" for p, _ in problems(text))


def test_yaml_syntax_error_is_a_manifest_error() -> None:
    assert problems("metadata: {name: [")[0][0] == "(yaml)"


def test_multi_document_files() -> None:
    pods = load_pods(BASE + "---\n" + BASE.replace("name: web", "name: db"))
    assert [p.name for p in pods] == ["web", "db"]


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("busybox:1.36", "IfNotPresent"),
        ("127.0.0.1:5000/busybox", "Always"),
        ("127.0.0.1:5000/busybox:1", "IfNotPresent"),
        ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_default_pull_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


def test_quantities() -> None:
    assert parse_cpu("500m") == 500
    assert parse_cpu("1.5") == 1500
    assert parse_cpu("2") == 2000
    assert parse_memory("64Mi") == 64 * 2**20
    assert parse_memory("1G") == 10**9
    assert parse_memory("129e6") == 129_000_000
    with pytest.raises(QuantityError):
        parse_memory("lots")


names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
container = st.fixed_dictionaries(
    {"name": names, "image": st.sampled_from(["busybox", "busybox:1.36", "alpine:3.20"])},
    optional={
        "command": st.lists(st.text("abc -$()", min_size=1, max_size=5), max_size=3),
        "args": st.lists(st.text("xyz", min_size=1, max_size=4), max_size=3),
        "imagePullPolicy": st.sampled_from(["Always", "IfNotPresent", "Never"]),
        "env": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["A", "B"]), "value": st.text("vw", max_size=3)}
            ),
            max_size=2,
        ),
        "resources": st.fixed_dictionaries(
            {},
            optional={
                "limits": st.fixed_dictionaries(
                    {},
                    optional={
                        "cpu": st.sampled_from(["100m", "1"]),
                        "memory": st.sampled_from(["32Mi"]),
                    },
                ),
            },
        ),
    },
)
manifests = st.fixed_dictionaries(
    {
        "apiVersion": st.just("v1"),
        "kind": st.just("Pod"),
        "metadata": st.fixed_dictionaries(
            {"name": names}, optional={"labels": st.dictionaries(names, names, max_size=2)}
        ),
        "spec": st.fixed_dictionaries(
            {
                "containers": st.lists(
                    container, min_size=1, max_size=3, unique_by=lambda c: c["name"]
                )
            },
            optional={
                "volumes": st.lists(
                    st.sampled_from(
                        [{"name": "v", "emptyDir": {}}, {"name": "v", "hostPath": {"path": "/t"}}]
                    ),
                    max_size=1,
                ),
                "restartPolicy": st.sampled_from(["Always", "OnFailure", "Never"]),
                "hostNetwork": st.booleans(),
                "terminationGracePeriodSeconds": st.integers(0, 60),
            },
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(manifests)
def test_dump_then_load_is_identity(manifest: dict) -> None:  # type: ignore[type-arg]
    pod = pod_from_dict(manifest)
    again = pod_from_dict(pod_to_dict(pod))
    assert again == pod


def test_probes_of_every_kind_load_with_named_ports() -> None:
    text = BASE.replace(
        "  - {name: app, image: busybox:1.36}",
        "  - name: app\n    image: busybox:1.36\n"
        "    ports: [{containerPort: 8080, name: web}]\n"
        "    livenessProbe: {httpGet: {port: web, path: /healthz}, periodSeconds: 3}\n"
        "    readinessProbe: {tcpSocket: {port: 8080}, successThreshold: 2}\n"
        "    startupProbe: {grpc: {port: 9090, service: s}, failureThreshold: 30}\n",
    )
    c = load_pods(text)[0].spec.containers[0]
    assert c.liveness_probe is not None and c.liveness_probe.handler == "httpGet"
    assert c.liveness_probe.http_get is not None and c.liveness_probe.http_get.port == "web"
    assert c.readiness_probe is not None and c.readiness_probe.success_threshold == 2
    assert c.startup_probe is not None and c.startup_probe.grpc is not None
    assert c.startup_probe.grpc.service == "s"
