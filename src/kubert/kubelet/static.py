"""The static-pod loop behind ``kubert kubelet``: keep every wanted pod converged.

Wanted pods are the manifests in a directory (static pods, as the kubelet's
``staticPodPath``) plus the pods ``kubert apply`` stored. Static pods follow the kubelet's
identity rules (pkg/kubelet/config): every file of the directory not starting with ``.`` holds
one pod; the pod is named ``<name>-<node name>``; without a ``metadata.uid`` its UID is a hash
of the node name, the file's path and its content, so an edit of the file is a new pod (the old
one is deleted); the ``kubernetes.io/config.hash|source|seen`` annotations are set.

Each pass re-reads changed files, syncs every wanted pod, deletes the pods whose file is gone,
and writes each pod's waiting reasons for ``kubert get pods``. Passes run every ``period``
seconds and sooner when the runtime's container events (GetContainerEvents, where offered)
say something changed.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import yaml
from attrs import define, field

from kubert.errors import KubertError, UnimplementedError
from kubert.kubelet import labels
from kubert.kubelet.logfiles import rotate_logs
from kubert.kubelet.manager import RuntimeManager
from kubert.kubelet.manifest import ManifestError, load_pods
from kubert.kubelet.pod import Pod
from kubert.kubelet.store import PodStore

log = logging.getLogger(__name__)

FILE_SOURCE = "file:"
CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_SEEN = "kubernetes.io/config.seen"

Report = Callable[[str], None]


@define
class _ManifestFile:
    digest: str
    pods: list[Pod]


def node_name() -> str:
    """The kubelet's default node name: the host name, lower-cased."""
    return socket.gethostname().lower()


def static_pod(pod: Pod, text: str, path: Path, node: str, seen: str) -> Pod:
    """``pod`` of the static manifest ``path`` (content ``text``) with the kubelet's identity:
    name ``<name>-<node>``, the UID hashed from node, path and content unless the manifest
    names one, and the config annotations (``seen`` is when this content was first read)."""
    document = yaml.safe_load(text)
    given = document.get("metadata", {}).get("uid") if isinstance(document, dict) else None
    uid = str(given) if given else hashlib.md5(
        f"host:{node}\nfile:{path}\n{text}".encode(), usedforsecurity=False
    ).hexdigest()
    annotations = dict(pod.metadata.annotations)
    annotations.update({CONFIG_HASH: uid, CONFIG_SOURCE: "file", CONFIG_SEEN: seen})
    metadata = attrs.evolve(
        pod.metadata, name=f"{pod.name}-{node}", uid=uid, annotations=annotations
    )
    return attrs.evolve(pod, metadata=metadata)


@define
class StaticPodLoop:
    """Converges the pods of ``manifests`` (and the applied ones) through ``manager``.

    :param manifests: the static pod directory, or None for applied pods only.
    :param period: seconds between passes when nothing wakes the loop earlier.
    :param report: where progress lines go (prefixed with the pod's name).
    :param node: the node name static pods' names end with (the host name by default).
    """

    manager: RuntimeManager
    store: PodStore
    manifests: Path | None = None
    period: float = 1.0
    report: Report = print
    workers: int = 4
    node: str = field(factory=node_name)
    #: Seconds between container log rotation rounds (the kubelet's monitoring period).
    log_rotation_period: float = 10.0
    _rotated_at: float = field(init=False, default=float("-inf"))
    _files: dict[Path, _ManifestFile] = field(init=False, factory=dict)
    _wake: threading.Event = field(init=False, factory=threading.Event)

    # ---- manifests -----------------------------------------------------------------------

    def read_manifests(self) -> dict[str, tuple[Pod, str]]:
        """Every pod in the manifest directory, re-parsing only files whose content changed.

        A file that fails to parse keeps its last good pods and is reported once per content.
        """
        found: dict[Path, _ManifestFile] = {}
        if self.manifests is not None and self.manifests.is_dir():
            for path in sorted(self.manifests.iterdir()):
                # Every file but dot files (editor swap files, atomic-write temporaries).
                if path.name.startswith(".") or not path.is_file():
                    continue
                try:
                    text = path.read_text()
                except OSError:
                    continue
                digest = hashlib.sha256(text.encode()).hexdigest()
                known = self._files.get(path)
                if known is not None and known.digest == digest:
                    found[path] = known
                    continue
                try:
                    pods = self._load(text, path)
                except ManifestError as exc:
                    self.report(f"manifest refused: {exc}")
                    pods = known.pods if known is not None else []
                else:
                    verb = "changed" if known is not None else "found"
                    self.report(f"manifest {verb}: {path} ({', '.join(p.name for p in pods)})")
                found[path] = _ManifestFile(digest=digest, pods=pods)
        for path in set(self._files) - set(found):
            self.report(f"manifest removed: {path}")
        self._files = found
        wanted: dict[str, tuple[Pod, str]] = {}
        for path, manifest in found.items():
            for pod in manifest.pods:
                if pod.uid in wanted:
                    self.report(f"{path}: pod {pod.full_name} is already defined; ignored")
                    continue
                wanted[pod.uid] = (pod, f"{FILE_SOURCE}{path}")
        return wanted

    def _load(self, text: str, path: Path) -> list[Pod]:
        pods = load_pods(text, str(path))
        if len(pods) != 1:
            raise ManifestError(str(path), [("(document)", f"a static pod file holds one pod, "
                                                           f"not {len(pods)}")])
        seen = datetime.datetime.now(tz=datetime.UTC).isoformat()
        pod = static_pod(pods[0], text, path, self.node, seen)
        stored = self.store.load(pod.uid)
        if stored is not None and CONFIG_SEEN in stored.pod.metadata.annotations:
            # The same content seen by an earlier run: keep when it was first seen.
            pod = static_pod(pods[0], text, path, self.node,
                             stored.pod.metadata.annotations[CONFIG_SEEN])
        return [pod]

    # ---- one pass ------------------------------------------------------------------------

    def wanted_pods(self) -> dict[str, tuple[Pod, str]]:
        wanted = self.read_manifests()
        for uid, stored in self.store.all().items():
            if stored.source.startswith(FILE_SOURCE):
                continue
            if uid in wanted:
                self.report(f"pod {stored.pod.full_name}: the static manifest wins over apply")
                continue
            wanted[uid] = (stored.pod, stored.source)
        return wanted

    def run_once(self) -> None:
        """One pass: sync every wanted pod, delete static pods whose manifest is gone."""
        wanted = self.wanted_pods()
        for uid, (pod, source) in wanted.items():
            if source.startswith(FILE_SOURCE):
                stored = self.store.load(uid)
                if stored is None or stored.pod != pod or stored.source != source:
                    self.store.save(pod, source)
        for uid, stored in self.store.all().items():
            if stored.source.startswith(FILE_SOURCE) and uid not in wanted:
                self.report(f"pod {stored.pod.full_name}: manifest gone; deleting")
                self._delete(uid, stored.pod)
        for uid in self._orphans(set(wanted)):
            self.report(f"pod {uid}: no manifest and not applied; deleting")
            self._delete(uid, None)
        self._rotate_logs()
        items = list(wanted.values())
        if not items:
            return
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(items)))) as pool:
            list(pool.map(lambda item: self._sync(*item), items))

    def _rotate_logs(self) -> None:
        now = self.manager.clock.now()
        if now - self._rotated_at < self.log_rotation_period:
            return
        self._rotated_at = now
        count = rotate_logs(self.manager.config, self.manager.runtime)
        if count:
            self.report(f"rotated {count} container log(s)")

    def _orphans(self, wanted: set[str]) -> list[str]:
        """Pods on the runtime made from a manifest file that no file nor the store wants."""
        out: list[str] = []
        for sandbox in self.manager.runtime.list_pod_sandbox(None):
            uid = sandbox.labels.get(labels.POD_UID, "")
            source = sandbox.annotations.get(labels.CONFIG_SOURCE, "")
            unwanted = uid and uid not in wanted and uid not in out
            if unwanted and source.startswith(FILE_SOURCE) and self.store.load(uid) is None:
                out.append(uid)
        return out

    def _delete(self, uid: str, pod: Pod | None) -> None:
        name = pod.name if pod is not None else uid
        try:
            self.manager.delete_pod(uid, pod, progress=lambda line: self.report(f"{name}: {line}"))
        except KubertError as exc:
            self.report(f"{name}: delete failed: {exc}")
            return
        self.store.forget(uid)

    def _sync(self, pod: Pod, source: str) -> None:
        def progress(line: str) -> None:
            self.report(f"{pod.name}: {line}")

        try:
            self.manager.sync_pod(pod, source=source, progress=progress)
        except KubertError as exc:
            self.report(f"{pod.name}: sync failed: {exc}")
        except OSError as exc:
            self.report(f"{pod.name}: sync failed: {exc}")
        waiting = {
            name: value for (uid, name), value in self.manager.waiting.items() if uid == pod.uid
        }
        self.store.save_waiting(pod.uid, waiting)

    # ---- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set; container events make the next pass sooner."""
        watcher = threading.Thread(target=self._watch_events, args=(stop,), daemon=True)
        watcher.start()
        while not stop.is_set():
            try:
                self.run_once()
            except KubertError as exc:
                self.report(f"pass failed: {exc}")
            self._wake.wait(self.period)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def _watch_events(self, stop: threading.Event) -> None:
        events = getattr(self.manager.runtime, "container_events", None)
        if events is None:
            return
        try:
            for _ in events():
                if stop.is_set():
                    return
                self._wake.set()
        except UnimplementedError:
            log.info("the runtime offers no container events; relisting every %ss", self.period)
        except KubertError as exc:
            log.info("container events ended: %s", exc)
