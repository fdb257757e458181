"""ConfigMap, Secret, downwardAPI and projected volumes: their files, written with the atomic
writer under the pod's directory, as the kubelet's volume plugins lay them out
(``volumes/kubernetes.io~configmap/<name>`` and so on).

:func:`setup_volume` writes a volume before a container mounts it; :func:`refresh_pod`
rewrites the volumes a pod already has, so a changed ConfigMap or Secret reaches running
containers (the kubelet re-syncs them periodically; kubert on every pod sync).
"""

from __future__ import annotations

import logging
from pathlib import Path

from kubert.kubelet import atomicwriter
from kubert.kubelet.envsources import MissingObjectError, lookup
from kubert.kubelet.fieldrefs import resolve_field_ref
from kubert.kubelet.objects import CONFIG_MAP, SECRET, KubeObject
from kubert.kubelet.objectstore import ObjectStore
from kubert.kubelet.pod import DownwardAPIVolumeFile, KeyToPath, Pod, Volume
from kubert.kubelet.settings import KubeletConfig

log = logging.getLogger(__name__)

#: The kubelet's plugin directory name per volume source.
PLUGIN_DIRS = {
    "config_map": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downward_api": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}

Files = dict[str, tuple[bytes, int]]


def is_object_volume(volume: Volume) -> bool:
    """Whether ``volume``'s files come from objects or the pod (not hostPath / emptyDir)."""
    return any(getattr(volume, attr) is not None for attr in PLUGIN_DIRS)


def volume_dir(config: KubeletConfig, pod: Pod, volume: Volume) -> Path:
    attr = next(a for a in PLUGIN_DIRS if getattr(volume, a) is not None)
    return config.pod_dir(pod.uid) / "volumes" / PLUGIN_DIRS[attr] / volume.name


def _keys(
    obj: KubeObject | None, items: tuple[KeyToPath, ...], mode: int, optional: bool
) -> Files:
    if obj is None:
        return {}
    if not items:
        return {key: (value, mode) for key, value in obj.data.items()}
    out: Files = {}
    for item in items:
        if item.key not in obj.data:
            if optional:
                continue
            raise MissingObjectError(
                obj.kind, obj.name,
                f"{obj.kind.lower()} {obj.namespace}/{obj.name} references non-existent "
                f"key: {item.key}",
            )
        out[item.path] = (obj.data[item.key], item.mode if item.mode is not None else mode)
    return out


def _downward(pod: Pod, items: tuple[DownwardAPIVolumeFile, ...], mode: int) -> Files:
    return {
        item.path: (
            resolve_field_ref(pod, item.field_ref.field_path, ()).encode(),
            item.mode if item.mode is not None else mode,
        )
        for item in items
    }


def volume_files(objects: ObjectStore, pod: Pod, volume: Volume) -> Files:
    """What ``volume`` holds: relative path -> (bytes, mode).

    :raises MissingObjectError: a required ConfigMap, Secret or key is missing.
    """
    ns = pod.namespace
    if volume.config_map is not None:
        cm = volume.config_map
        found = lookup(objects, CONFIG_MAP, ns, cm.name, cm.optional)
        return _keys(found, cm.items, cm.default_mode, cm.optional)
    if volume.secret is not None:
        sec = volume.secret
        found = lookup(objects, SECRET, ns, sec.secret_name, sec.optional)
        return _keys(found, sec.items, sec.default_mode, sec.optional)
    if volume.downward_api is not None:
        return _downward(pod, volume.downward_api.items, volume.downward_api.default_mode)
    assert volume.projected is not None
    mode = volume.projected.default_mode
    out: Files = {}
    for source in volume.projected.sources:
        if source.config_map is not None:
            p = source.config_map
            found = lookup(objects, CONFIG_MAP, ns, p.name, p.optional)
            out.update(_keys(found, p.items, mode, p.optional))
        elif source.secret is not None:
            s = source.secret
            found = lookup(objects, SECRET, ns, s.name, s.optional)
            out.update(_keys(found, s.items, mode, s.optional))
        elif source.downward_api is not None:
            out.update(_downward(pod, source.downward_api.items, mode))
        # serviceAccountToken: no API server issues tokens here, so nothing is written.
    return out


def setup_volume(config: KubeletConfig, pod: Pod, volume: Volume) -> Path:
    """Write ``volume``'s files (atomically) and return its directory.

    :raises MissingObjectError: a required object or key is missing; nothing is written.
    """
    files = volume_files(ObjectStore(config), pod, volume)
    directory = volume_dir(config, pod, volume)
    atomicwriter.write(directory, files)
    if volume.secret is not None:
        # Secrets stay private to root on the host; containers reach them through the mount.
        directory.parent.chmod(0o700)
    return directory


def refresh_pod(config: KubeletConfig, pod: Pod) -> list[str]:
    """Rewrite the object volumes ``pod`` already has. :returns: the names of changed volumes.

    A volume whose object went missing keeps its last content, as the kubelet keeps a
    volume whose remount fails.
    """
    changed = []
    objects = ObjectStore(config)
    for volume in pod.spec.volumes:
        if not is_object_volume(volume):
            continue
        directory = volume_dir(config, pod, volume)
        if not (directory / atomicwriter.DATA).is_symlink():
            continue
        try:
            if atomicwriter.write(directory, volume_files(objects, pod, volume)):
                changed.append(volume.name)
        except (MissingObjectError, OSError) as exc:
            log.warning("volume %s of pod %s not refreshed: %s", volume.name, pod.full_name, exc)
    return changed
