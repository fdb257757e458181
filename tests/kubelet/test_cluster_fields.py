"""Pods as clusters print them load: control-plane fields are accepted with one notice each,
the kubelet's own fields they carry (probes of every kind, hooks, termination messages) load as
fields, resources beside cpu and memory are accepted (hugepages applied)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubert.kubelet import load_pods
from kubert.kubelet.documents import load_document_file
from kubert.kubelet.manifest import ManifestError
from kubert.kubelet.resources import container_resources
from kubert.model import HugepageLimit

MANIFESTS = Path(__file__).parent / "manifests"
GOLDEN = sorted(MANIFESTS.glob("*.yaml"))


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_manifests_load_with_one_notice_per_field(path: Path) -> None:
    loaded = load_document_file(path)
    assert len(loaded.pods) == 1
    kinds = sorted({o.kind for o in loaded.objects})
    assert kinds == ["ConfigMap", "Secret"]
    fields = [line.split(": ignored", 1)[0] for line in loaded.notices if ": ignored" in line]
    assert "status" in fields and "metadata.resourceVersion" in fields
    assert "spec.schedulerName" in fields and "spec.tolerations" in fields
    # One notice per field, however many documents or containers carry it.
    names = [f.rsplit(".", 1)[-1] for f in fields]
    assert len(names) == len(set(names)), loaded.notices


BASE = """
apiVersion: v1
kind: Pod
metadata: {name: web, managedFields: [{manager: kubectl}], generation: 3}
spec:
  schedulerName: default-scheduler
  priorityClassName: high
  topologySpreadConstraints: [{maxSkew: 1}]
  affinity: {nodeAffinity: {}}
  nodeSelector: {disk: ssd}
  automountServiceAccountToken: false
  containers:
  - name: app
    image: busybox:1.36
    terminationMessagePolicy: FallbackToLogsOnError
    readinessProbe: {exec: {command: ["true"]}}
    livenessProbe: {httpGet: {port: 80, path: /}}
    lifecycle: {postStart: {exec: {command: ["true"]}}}
    resources:
      limits: {hugepages-2Mi: 4Mi, ephemeral-storage: 1Gi, memory: 64Mi}
  - name: two
    image: busybox:1.36
    terminationMessagePolicy: File
"""


def test_ignored_fields_give_notices_not_problems() -> None:
    notices: dict[str, str] = {}
    pod = load_pods(BASE, "pod.yaml", notices)[0]
    lines = list(notices.values())
    for field in ("metadata.managedFields", "metadata.generation", "spec.schedulerName",
                  "spec.priorityClassName", "spec.topologySpreadConstraints", "spec.affinity",
                  "spec.nodeSelector", "spec.automountServiceAccountToken"):
        assert any(line.startswith(f"{field}: ignored (") for line in lines), (field, lines)
    # The kubelet's own fields are run, not ignored.
    for field in ("terminationMessagePolicy", "readinessProbe", "livenessProbe", "lifecycle"):
        assert not any(field in line for line in lines), (field, lines)
    assert any("ephemeral-storage']: accepted, not enforced" in line for line in lines)
    app = pod.spec.containers[0]
    assert app.liveness_probe is not None and app.liveness_probe.http_get is not None
    assert app.lifecycle is not None and app.readiness_probe is not None
    resources = container_resources(pod.spec.containers[0])
    assert resources.hugepage_limits == (HugepageLimit(page_size="2MB", limit=4 * 2**20),)


def test_unknown_fields_are_still_refused_beside_ignored_ones() -> None:
    with pytest.raises(ManifestError) as caught:
        load_pods(BASE.replace("  affinity:", "  shareProcessNamespace: true\n  affinity:"))
    assert [p for p, _ in caught.value.problems] == ["spec.shareProcessNamespace"]
    with pytest.raises(ManifestError) as caught:
        load_pods(BASE.replace("hugepages-2Mi", "nvidia.com/gpu"))
    assert caught.value.problems[0][0] == "spec.containers[0].resources.limits['nvidia.com/gpu']"


@pytest.mark.parametrize(
    ("volume", "path"),
    [
        ("{name: v, configMap: {name: c}, emptyDir: {}}", "spec.volumes[0]"),
        ("{name: v, configMap: {name: c, items: [{key: k, path: ../x}]}}",
         "spec.volumes[0].configMap.items[0].path"),
        ("{name: v, secret: {secretName: s, defaultMode: 1000}}",
         "spec.volumes[0].secret.defaultMode"),
        ("{name: v, downwardAPI: {items: [{path: p, fieldRef: {fieldPath: spec.nodeName}}]}}",
         "spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath"),
        ("{name: v, projected: {sources: [{configMap: {name: a}, secret: {name: b}}]}}",
         "spec.volumes[0].projected.sources[0]"),
    ],
)
def test_bad_object_volumes_name_the_field(volume: str, path: str) -> None:
    text = f"""
metadata: {{name: p}}
spec:
  volumes: [{volume}]
  containers: [{{name: c, image: x}}]
"""
    with pytest.raises(ManifestError) as caught:
        load_pods(text)
    assert path in [p for p, _ in caught.value.problems], caught.value.problems
