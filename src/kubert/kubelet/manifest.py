"""Load Pod manifests from YAML: every problem is reported with its field path, then refused.

Unknown fields are refused, never dropped: a manifest that asks for something kubert would not
do (an emptyDir ``medium``, a ``csi`` volume) must not run as if it had not asked. The
exceptions are the fields of :mod:`kubert.kubelet.ignored` (what only the scheduler or the
control plane act on, as clusters print them): accepted, with one notice per field. All
problems of a manifest are collected and raised together in one :class:`ManifestError`.
"""

from __future__ import annotations

import re
import types
import typing
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import yaml

from kubert.errors import InvalidArgumentError
from kubert.kubelet import ignored
from kubert.kubelet.lifecycle import validate_lifecycle, validate_termination
from kubert.kubelet.pod import Container, DownwardAPIVolumeFile, Pod, Volume
from kubert.kubelet.probespec import PROBE_FIELDS, probes_of, validate_probe
from kubert.kubelet.quantity import QuantityError, parse_cpu, parse_memory

T = TypeVar("T")

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_FIELD_REF = re.compile(
    r"^(metadata\.(name|namespace|uid)|status\.podIPs?|"
    r"metadata\.(labels|annotations)\['([^'\]]+)'\])$"
)
#: Namespace for uids derived from namespace/name, so re-applying a file addresses the same pod.
UID_NAMESPACE = uuid.UUID("6f3c6a52-52a6-4a53-9a4c-6b7562657274")

_DOWNWARD_REF = re.compile(
    r"^metadata\.(name|namespace|uid|labels|annotations)$|"
    r"^metadata\.(labels|annotations)\['([^'\]]+)'\]$"
)
#: Resources beside cpu and memory that are accepted: hugepages are applied, ephemeral storage
#: is not enforced (kubert does not evict).
_EXTRA_RESOURCE = re.compile(r"^(ephemeral-storage|hugepages-[0-9]+[KMG]i)$")

_HINTS = {
    "medium": "only the default (disk) medium is supported",
    "sizeLimit": "kubert does not evict, so it cannot enforce an emptyDir size limit",
}


class ManifestError(InvalidArgumentError):
    """A manifest kubert refuses; ``problems`` holds one ``(path, reason)`` per problem."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        lines = [f"{path}: {reason}" for path, reason in problems]
        super().__init__(problems[0][0] if problems else source, source, "; ".join(lines))
        if len(lines) > 1:
            self.message = f"{source or 'manifest'}:\n  " + "\n  ".join(lines)
        else:
            self.message = f"{source}: {lines[0]}" if source else "".join(lines)
        self.args = (self.message,)
        self.source = source
        self.problems = problems


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _yaml_name(attribute: attrs.Attribute[Any]) -> str:
    return str(attribute.metadata.get("alias") or camel(attribute.name))


class _Loader:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        #: One notice per ignored field (keyed by model and field), at its first path.
        self.notices: dict[str, str] = {}

    def problem(self, path: str, reason: str) -> None:
        self.problems.append((path, reason))

    def notice(self, cls: type, key: str, path: str, reason: str) -> None:
        self.notices.setdefault(f"{cls.__name__}.{key}", f"{path}: ignored ({reason})")

    def load(self, cls: type[T], data: Any, path: str) -> T | None:
        assert attrs.has(cls)
        if not isinstance(data, dict):
            self.problem(path or "(document)", f"must be a mapping, got {_kind(data)}")
            return None
        attrs.resolve_types(cls)
        fields = {_yaml_name(a): a for a in attrs.fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in data.items():
            sub = f"{path}.{key}" if path else str(key)
            attribute = fields.get(str(key))
            reason = ignored.ignored_reason(cls, str(key)) if attribute is None else ""
            if reason:
                self.notice(cls, str(key), sub, reason)
                continue
            if attribute is None:
                hint = _HINTS.get(str(key), f"unknown field; kubert knows {', '.join(fields)}")
                self.problem(sub, f"not supported: {hint}")
                continue
            if raw is None:
                continue
            value = self.convert(attribute.type, raw, sub)
            if value is _BAD:
                continue
            choices = attribute.metadata.get("choices")
            if choices is not None and value not in choices and not any(choices):
                self.problem(sub, f"not supported: {_HINTS.get(str(key), 'leave it out')}")
                continue
            if choices is not None and value not in choices:
                shown = ", ".join(repr(c) for c in choices if c)
                self.problem(sub, f"must be one of {shown} (got {value!r})")
                continue
            values[attribute.name] = value
        missing = [
            a for a in attrs.fields(cls) if a.default is attrs.NOTHING and a.name not in values
        ]
        for attribute in missing:
            sub = f"{path}.{_yaml_name(attribute)}" if path else _yaml_name(attribute)
            if not any(p == sub for p, _ in self.problems):
                self.problem(sub, "required")
        if missing:
            return None
        return cls(**values)  # type: ignore[return-value]  # narrowed by attrs.has above

    def convert(self, tp: Any, raw: Any, path: str) -> Any:
        origin = typing.get_origin(tp)
        if origin in (types.UnionType, typing.Union):
            inner = [a for a in typing.get_args(tp) if a is not type(None)]
            return self.convert(inner[0], raw, path)
        if origin is tuple:
            if not isinstance(raw, list):
                self.problem(path, f"must be a list, got {_kind(raw)}")
                return _BAD
            item_type = typing.get_args(tp)[0]
            items = [self.convert(item_type, item, f"{path}[{i}]") for i, item in enumerate(raw)]
            return tuple(item for item in items if item is not _BAD and item is not None)
        if origin is dict:
            if not isinstance(raw, dict):
                self.problem(path, f"must be a mapping, got {_kind(raw)}")
                return _BAD
            out: dict[str, str] = {}
            for key, value in raw.items():
                if isinstance(value, bool) or not isinstance(value, str | int | float):
                    self.problem(f"{path}[{key!r}]", f"must be a string, got {_kind(value)}")
                    continue
                out[str(key)] = str(value)
            return out
        if tp is bool:
            if not isinstance(raw, bool):
                self.problem(path, f"must be true or false, got {raw!r}")
                return _BAD
            return raw
        if tp is int:
            if isinstance(raw, bool) or not isinstance(raw, int):
                self.problem(path, f"must be an integer, got {raw!r}")
                return _BAD
            return raw
        if tp is str:
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                self.problem(path, f"must be a string, got {_kind(raw)}")
                return _BAD
            return str(raw)
        if attrs.has(tp):
            loaded = self.load(tp, raw, path)
            return _BAD if loaded is None else loaded
        raise TypeError(f"no manifest conversion for {tp!r} at {path}")


_BAD = object()


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def derive_uid(namespace: str, name: str) -> str:
    """The uid of a pod whose manifest names none: stable for a namespace and name."""
    return str(uuid.uuid5(UID_NAMESPACE, f"{namespace}/{name}"))


def default_pull_policy(image: str) -> str:
    """The API server's default: Always for ``:latest`` or untagged images, else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _defaulted(pod: Pod) -> Pod:
    def fill(container: Container) -> Container:
        if container.image_pull_policy:
            return container
        return attrs.evolve(container, image_pull_policy=default_pull_policy(container.image))

    spec = attrs.evolve(
        pod.spec,
        containers=tuple(fill(c) for c in pod.spec.containers),
        init_containers=tuple(fill(c) for c in pod.spec.init_containers),
        ephemeral_containers=tuple(fill(c) for c in pod.spec.ephemeral_containers),
    )
    metadata = pod.metadata
    if not metadata.uid:
        metadata = attrs.evolve(metadata, uid=derive_uid(metadata.namespace, metadata.name))
    return attrs.evolve(pod, metadata=metadata, spec=spec)


def validate(pod: Pod) -> list[tuple[str, str]]:
    """Semantic checks the types cannot express; returns ``(path, reason)`` pairs."""
    out: list[tuple[str, str]] = []
    meta = pod.metadata
    if not _DNS_SUBDOMAIN.match(meta.name) or "_" in meta.name:
        out.append(("metadata.name", f"must be a lower-case DNS subdomain (got {meta.name!r})"))
    if not _DNS_LABEL.match(meta.namespace):
        out.append(("metadata.namespace", f"must be a DNS label (got {meta.namespace!r})"))
    if meta.uid and not re.match(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$", meta.uid):
        out.append(("metadata.uid", f"must be letters, digits, '-' or '.' (got {meta.uid!r})"))
    spec = pod.spec
    if not spec.containers:
        out.append(("spec.containers", "required: at least one container"))
    for knob, value in (("hostname", spec.hostname), ("subdomain", spec.subdomain)):
        if value and not _DNS_LABEL.match(value):
            out.append((f"spec.{knob}", f"must be a DNS label (got {value!r})"))
    if spec.termination_grace_period_seconds < 0:
        out.append(("spec.terminationGracePeriodSeconds", "must not be negative"))
    if spec.dns_policy == "None" and spec.dns_config is None:
        out.append(("spec.dnsConfig", "required when dnsPolicy is None"))
    volumes: set[str] = set()
    for i, volume in enumerate(spec.volumes):
        path = f"spec.volumes[{i}]"
        if volume.name in volumes:
            out.append((f"{path}.name", f"duplicate volume name {volume.name!r}"))
        volumes.add(volume.name)
        out.extend(_volume(path, volume))
    names: set[str] = set()
    host_ports: set[tuple[int, str]] = set()
    lists = (
        ("spec.initContainers", spec.init_containers, "init"),
        ("spec.containers", spec.containers, "regular"),
        ("spec.ephemeralContainers", spec.ephemeral_containers, "ephemeral"),
    )
    regular_names = {c.name for c in spec.containers}
    for prefix, containers, kind in lists:
        for i, container in enumerate(containers):
            path = f"{prefix}[{i}]"
            if container.name in names:
                out.append((f"{path}.name", f"duplicate container name {container.name!r}"))
            names.add(container.name)
            out.extend(_container(path, container, kind, volumes, host_ports, regular_names))
    return out


def _container(
    path: str,
    c: Container,
    kind: str,
    volumes: set[str],
    host_ports: set[tuple[int, str]],
    regular_names: set[str],
) -> Iterable[tuple[str, str]]:
    if not _DNS_LABEL.match(c.name):
        yield f"{path}.name", f"must be a DNS label (got {c.name!r})"
    if not c.image.strip():
        yield f"{path}.image", "required"
    if c.working_dir and not c.working_dir.startswith("/"):
        yield f"{path}.workingDir", f"must be an absolute path (got {c.working_dir!r})"
    if c.restart_policy and kind != "init":
        yield f"{path}.restartPolicy", "only init containers may set restartPolicy (Always)"
    if c.target_container_name and kind != "ephemeral":
        yield f"{path}.targetContainerName", "only ephemeral containers may set it"
    if c.target_container_name and c.target_container_name not in regular_names:
        yield f"{path}.targetContainerName", f"no container named {c.target_container_name!r}"
    if kind == "ephemeral":
        for name, value in (
            ("ports", c.ports),
            ("livenessProbe", c.liveness_probe),
            ("readinessProbe", c.readiness_probe),
            ("startupProbe", c.startup_probe),
            ("resources", c.resources.limits or c.resources.requests),
        ):
            if value:
                yield f"{path}.{name}", "not allowed on ephemeral containers"
    if kind == "init" and not c.is_sidecar:
        for name, value in zip(PROBE_FIELDS, probes_of(c), strict=True):
            if value:
                yield f"{path}.{name}", "only restartable init containers (sidecars) may have it"
    seen_env: set[str] = set()
    for j, env in enumerate(c.env):
        epath = f"{path}.env[{j}]"
        if not _ENV_NAME.match(env.name):
            yield f"{epath}.name", f"must be a C identifier-like variable name (got {env.name!r})"
        seen_env.add(env.name)
        if env.value_from is not None:
            if env.value:
                yield f"{epath}", "may not set both value and valueFrom"
            source = env.value_from
            refs = [source.field_ref, source.config_map_key_ref, source.secret_key_ref]
            if sum(r is not None for r in refs) != 1:
                yield (
                    f"{epath}.valueFrom",
                    "must set exactly one of fieldRef, configMapKeyRef or secretKeyRef",
                )
                continue
            if source.field_ref is None:
                continue
            ref = source.field_ref.field_path
            if not _FIELD_REF.match(ref):
                yield (
                    f"{epath}.valueFrom.fieldRef.fieldPath",
                    f"unsupported field path {ref!r}: use metadata.name, metadata.namespace, "
                    "metadata.uid, metadata.labels['k'], metadata.annotations['k'], "
                    "status.podIP or status.podIPs",
                )
    for j, env_from in enumerate(c.env_from):
        if (env_from.config_map_ref is None) == (env_from.secret_ref is None):
            yield f"{path}.envFrom[{j}]", "must set exactly one of configMapRef or secretRef"
        if env_from.prefix and not _ENV_NAME.match(env_from.prefix):
            yield f"{path}.envFrom[{j}].prefix", f"not a valid variable prefix: {env_from.prefix!r}"
    for j, port in enumerate(c.ports):
        ppath = f"{path}.ports[{j}]"
        if not 1 <= port.container_port <= 65535:
            yield f"{ppath}.containerPort", f"must be 1-65535 (got {port.container_port})"
        if not 0 <= port.host_port <= 65535:
            yield f"{ppath}.hostPort", f"must be 0-65535 (got {port.host_port})"
        if port.host_port:
            taken = (port.host_port, port.protocol)
            if taken in host_ports:
                yield f"{ppath}.hostPort", f"{port.host_port}/{port.protocol} is used twice"
            host_ports.add(taken)
    for section, values in (("limits", c.resources.limits), ("requests", c.resources.requests)):
        for resource, amount in values.items():
            rpath = f"{path}.resources.{section}[{resource!r}]"
            if resource not in ("cpu", "memory") and not _EXTRA_RESOURCE.match(resource):
                yield rpath, "only cpu, memory, ephemeral-storage and hugepages-<size> apply"
            else:
                yield from _quantity(rpath, amount, "cpu" if resource == "cpu" else "memory")
    for j, mount in enumerate(c.volume_mounts):
        mpath = f"{path}.volumeMounts[{j}]"
        if mount.name not in volumes:
            yield f"{mpath}.name", f"no volume named {mount.name!r}"
        if not mount.mount_path.startswith("/"):
            yield f"{mpath}.mountPath", f"must be an absolute path (got {mount.mount_path!r})"
        if mount.sub_path and (mount.sub_path.startswith("/") or ".." in mount.sub_path.split("/")):
            yield f"{mpath}.subPath", "must be a relative path without '..'"
    named = [(p.name, p.container_port) for p in c.ports if p.name]
    if c.lifecycle is not None:
        yield from validate_lifecycle(f"{path}.lifecycle", c.lifecycle, named)
    yield from validate_termination(path, c.termination_message_path, c.termination_message_policy)
    for name, probe in zip(PROBE_FIELDS, probes_of(c), strict=True):
        if probe is not None:
            yield from validate_probe(f"{path}.{name}", name, probe, named)


def _volume_parts(path: str, volume: Volume) -> Iterable[tuple[str, Any, int | None]]:
    """(field path, source, default mode) of every part of ``volume`` that lists items."""
    for name, source in (("configMap", volume.config_map), ("secret", volume.secret),
                         ("downwardAPI", volume.downward_api)):
        if source is not None:
            yield f"{path}.{name}", source, source.default_mode
    if volume.projected is not None:
        yield f"{path}.projected", None, volume.projected.default_mode
        for i, projection in enumerate(volume.projected.sources):
            where = f"{path}.projected.sources[{i}]"
            parts: tuple[tuple[str, Any], ...] = (
                ("configMap", projection.config_map),
                ("secret", projection.secret),
                ("downwardAPI", projection.downward_api),
            )
            for name, part in parts:
                if part is not None:
                    yield f"{where}.{name}", part, None


def _volume(path: str, volume: Volume) -> Iterable[tuple[str, str]]:
    if len(volume.sources) != 1:
        yield path, "must set exactly one of hostPath, emptyDir, configMap, secret, " \
            "downwardAPI or projected"
    if volume.host_path is not None and not volume.host_path.path.startswith("/"):
        yield f"{path}.hostPath.path", "must be an absolute path"
    if volume.projected is not None:
        for i, p in enumerate(volume.projected.sources):
            chosen = (p.config_map, p.secret, p.downward_api, p.service_account_token)
            if sum(s is not None for s in chosen) != 1:
                yield f"{path}.projected.sources[{i}]", "must set exactly one of configMap, " \
                    "secret, downwardAPI or serviceAccountToken"
    modes: list[tuple[str, int | None]] = []
    for where, source, default_mode in _volume_parts(path, volume):
        modes.append((f"{where}.defaultMode", default_mode))
        for j, item in enumerate(source.items if source is not None else ()):
            ipath = f"{where}.items[{j}]"
            if not item.path or item.path.startswith("/") or ".." in item.path.split("/"):
                yield f"{ipath}.path", f"must be a relative path without '..' (got {item.path!r})"
            modes.append((f"{ipath}.mode", item.mode))
            ref = item.field_ref.field_path if isinstance(item, DownwardAPIVolumeFile) else None
            if ref is not None and not _DOWNWARD_REF.match(ref):
                yield f"{ipath}.fieldRef.fieldPath", (
                    f"unsupported field path {ref!r}: use metadata.name, metadata.namespace, "
                    "metadata.uid, metadata.labels, metadata.annotations or one label / "
                    "annotation"
                )
    for where, mode in modes:
        if mode is not None and not 0 <= mode <= 0o777:
            yield where, f"must be a file mode 0-0777 (0-511 in decimal), got {mode}"


def _quantity(path: str, value: str, kind: str) -> Iterable[tuple[str, str]]:
    try:
        parse_cpu(value) if kind == "cpu" else parse_memory(value)
    except QuantityError as exc:
        yield path, str(exc)


#: Notices of loading, one line per ignored field, keyed by model and field so that a field
#: met in many containers or documents gives one notice (at its first path).
Notices = dict[str, str]


def load_model(cls: type[T], data: Any, source: str = "", notices: Notices | None = None) -> T:
    """Build the model ``cls`` from decoded manifest data (no semantic checks).

    :param notices: receives a line per ignored field (see :mod:`kubert.kubelet.ignored`)
        not in it yet.
    :raises ManifestError: listing every problem with its field path.
    """
    loader = _Loader()
    loaded = loader.load(cls, data, "")
    if loaded is None or loader.problems:
        raise ManifestError(source, loader.problems)
    if notices is not None:
        for key, line in loader.notices.items():
            notices.setdefault(key, line)
    return loaded


def pod_from_dict(data: Any, source: str = "", notices: Notices | None = None) -> Pod:
    """Build a :class:`~kubert.kubelet.pod.Pod` from a decoded manifest, defaults applied.

    :param notices: receives a line per ignored field, and per resource that is accepted
        but not enforced (each once).
    :raises ManifestError: listing every problem with its field path.
    """
    found: Notices = {}
    pod = load_model(Pod, data, source, found)
    problems = validate(pod)
    if problems:
        raise ManifestError(source, problems)
    if notices is not None:
        for key, line in (found | _resource_notices(pod) | _token_notices(pod)).items():
            notices.setdefault(key, line)
    return _defaulted(pod)


def _resource_notices(pod: Pod) -> Notices:
    for prefix, containers in (("spec.initContainers", pod.spec.init_containers),
                               ("spec.containers", pod.spec.containers)):
        for i, container in enumerate(containers):
            for section in ("limits", "requests"):
                if "ephemeral-storage" in getattr(container.resources, section):
                    where = f"{prefix}[{i}].resources.{section}['ephemeral-storage']"
                    return {"resources.ephemeral-storage":
                            f"{where}: accepted, not enforced (kubert does not evict)"}
    return {}


def _token_notices(pod: Pod) -> Notices:
    for i, volume in enumerate(pod.spec.volumes):
        for j, source in enumerate(volume.projected.sources if volume.projected else ()):
            if source.service_account_token is not None:
                where = f"spec.volumes[{i}].projected.sources[{j}].serviceAccountToken"
                return {"VolumeProjection.serviceAccountToken":
                        f"{where}: ignored (needs an API server; no token file is written)"}
    return {}


def load_pods(text: str, source: str = "", notices: Notices | None = None) -> list[Pod]:
    """Every Pod in a (possibly multi-document) YAML text; empty documents are skipped."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(source, [("(yaml)", str(exc).replace("\n", " "))]) from None
    if not documents:
        raise ManifestError(source, [("(document)", "no pod in the file")])
    pods = []
    for index, document in enumerate(documents):
        where = source if len(documents) == 1 else f"{source}#{index}"
        pods.append(pod_from_dict(document, where, notices))
    return pods


def load_pod_file(path: str | Path) -> list[Pod]:
    """Every Pod in the YAML file at ``path``."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise InvalidArgumentError("file", str(file), f"cannot be read: {exc.strerror}") from None
    return load_pods(text, str(file))


def pod_to_dict(pod: Pod) -> dict[str, Any]:
    """The manifest form of ``pod`` (camelCase keys, empty values left out)."""
    out = to_manifest(pod)
    assert isinstance(out, dict)
    return out


def to_manifest(value: Any) -> Any:
    """A model (or list / map of them) in manifest form: camelCase keys, empty values left out."""
    if attrs.has(type(value)):
        out: dict[str, Any] = {}
        for attribute in attrs.fields(type(value)):
            raw = getattr(value, attribute.name)
            # An empty nested object means something (``emptyDir: {}``); empty scalars do not.
            if not attrs.has(type(raw)) and (
                raw is None or raw in ("", (), {}) or (raw is False and attribute.default is False)
            ):
                continue
            out[_yaml_name(attribute)] = to_manifest(raw)
        return out
    if isinstance(value, tuple):
        return [to_manifest(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value
