"""Desired state between invocations: each applied pod's manifest under the pod's directory.

``<root_dir>/pods/<uid>/`` is the pod's directory (as the kubelet's /var/lib/kubelet/pods/<uid>):
``pod.yaml`` holds the manifest as last applied, ``source`` where it came from, and
``status.json`` the last sync's waiting reasons (so ``kubert get pods`` in another process can
say CrashLoopBackOff or ErrImagePull). The runtime stays the truth about what runs; this
directory is the truth about what should.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import yaml
from attrs import frozen

from kubert.fileutil import atomic_write
from kubert.kubelet.manifest import ManifestError, load_pods, pod_to_dict
from kubert.kubelet.pod import Pod
from kubert.kubelet.settings import KubeletConfig

MANIFEST = "pod.yaml"
SOURCE = "source"
STATUS = "status.json"
NO_POD_IP = "no-pod-ip"


@frozen(kw_only=True)
class StoredPod:
    pod: Pod
    source: str




@frozen
class PodStore:
    """The pods this node should run, keyed by uid."""

    config: KubeletConfig

    @property
    def pods_dir(self) -> Path:
        return self.config.root_dir / "pods"

    def save(self, pod: Pod, source: str = "apply") -> None:
        directory = self.config.pod_dir(pod.uid)
        atomic_write(directory / MANIFEST, yaml.safe_dump(pod_to_dict(pod), sort_keys=False))
        atomic_write(directory / SOURCE, source + "\n")

    def load(self, uid: str) -> StoredPod | None:
        directory = self.config.pod_dir(uid)
        try:
            text = (directory / MANIFEST).read_text()
            source = (directory / SOURCE).read_text().strip()
        except OSError:
            return None
        try:
            pods = load_pods(text, str(directory / MANIFEST))
        except ManifestError:
            return None
        return StoredPod(pod=pods[0], source=source) if pods else None

    def forget(self, uid: str) -> None:
        """Drop the desired state (the directory itself goes when the pod is deleted)."""
        directory = self.config.pod_dir(uid)
        for name in (MANIFEST, SOURCE, STATUS):
            (directory / name).unlink(missing_ok=True)

    def all(self) -> dict[str, StoredPod]:
        out: dict[str, StoredPod] = {}
        if not self.pods_dir.is_dir():
            return out
        for entry in sorted(self.pods_dir.iterdir()):
            stored = self.load(entry.name)
            if stored is not None:
                out[entry.name] = stored
        return out

    def find(self, name: str, namespace: str = "default") -> StoredPod | None:
        for stored in self.all().values():
            if stored.pod.name == name and stored.pod.namespace == namespace:
                return stored
        return None

    def save_waiting(self, uid: str, waiting: Mapping[str, tuple[str, str]]) -> None:
        directory = self.config.pod_dir(uid)
        if not directory.is_dir():
            return
        payload = {name: {"reason": r, "message": m} for name, (r, m) in waiting.items()}
        atomic_write(directory / STATUS, json.dumps({"waiting": payload}))

    def load_waiting(self, uid: str) -> dict[str, tuple[str, str]]:
        try:
            data = json.loads((self.config.pod_dir(uid) / STATUS).read_text())
        except (OSError, ValueError):
            return {}
        waiting = data.get("waiting", {}) if isinstance(data, dict) else {}
        return {
            str(name): (str(item.get("reason", "")), str(item.get("message", "")))
            for name, item in waiting.items()
            if isinstance(item, dict)
        }

    def runtime_gives_no_ip(self, endpoint: str) -> bool:
        """Whether a sandbox made on ``endpoint`` last came back without an IP."""
        try:
            return (self.config.root_dir / NO_POD_IP).read_text().strip() == endpoint
        except OSError:
            return False

    def remember_pod_ip(self, endpoint: str, expect_ip: bool) -> None:
        """Record what the last sandbox made on ``endpoint`` said about pod IPs."""
        marker = self.config.root_dir / NO_POD_IP
        if expect_ip:
            marker.unlink(missing_ok=True)
        else:
            atomic_write(marker, endpoint + "\n")
