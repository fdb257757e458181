"""A container's environment as the kubelet makes it (makeEnvironmentVariables): ``envFrom``
first, in order, then ``env`` with ``$(VAR)`` expansion over what came before; values from
fieldRef, configMapKeyRef and secretKeyRef.

A missing ConfigMap, Secret or key that is not ``optional`` raises an
:class:`~kubert.errors.InvalidArgumentError` with the kubelet's message; the container then
waits with CreateContainerConfigError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from kubert.errors import InvalidArgumentError
from kubert.kubelet.fieldrefs import resolve_field_ref
from kubert.kubelet.objects import CONFIG_MAP, SECRET, KubeObject
from kubert.kubelet.objectstore import ObjectStore
from kubert.kubelet.pod import Container, KeySelector, Pod

_VAR_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined variables are replaced, ``$$`` escapes ``$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(one, text)


class MissingObjectError(InvalidArgumentError):
    """A ConfigMap, Secret or key a pod needs is not there (and is not optional)."""

    def __init__(self, field: str, value: str, message: str) -> None:
        super().__init__(field, value, message)
        # The kubelet's wording alone ('configmap "x" not found'), no field prefix.
        self.message = message
        self.args = (message,)


def lookup(
    objects: ObjectStore | None, kind: str, namespace: str, name: str, optional: bool
) -> KubeObject | None:
    """The object, None when it is missing and ``optional``.

    :raises MissingObjectError: it is missing and required.
    """
    found = objects.get(kind, namespace, name) if objects is not None else None
    if found is None and not optional:
        raise MissingObjectError(kind, name, f'{kind.lower()} "{name}" not found')
    return found


def _key_value(objects: ObjectStore | None, kind: str, pod: Pod, ref: KeySelector) -> str | None:
    obj = lookup(objects, kind, pod.namespace, ref.name, ref.optional)
    if obj is None:
        return None
    if ref.key not in obj.data:
        if ref.optional:
            return None
        raise MissingObjectError(
            kind, ref.name, f"couldn't find key {ref.key} in {kind} {pod.namespace}/{ref.name}"
        )
    return obj.text(ref.key)


def container_env(
    pod: Pod, container: Container, pod_ips: Sequence[str], objects: ObjectStore | None
) -> dict[str, str]:
    """Every variable of ``container``, in the order the kubelet sets them.

    :param objects: where ConfigMaps and Secrets are read; None means there are none.
    :raises MissingObjectError: a required object or key is missing.
    """
    env: dict[str, str] = {}
    for source in container.env_from:
        ref = source.config_map_ref or source.secret_ref
        assert ref is not None  # validated: exactly one is set
        kind = CONFIG_MAP if source.config_map_ref is not None else SECRET
        obj = lookup(objects, kind, pod.namespace, ref.name, ref.optional)
        if obj is None:
            continue
        for key in obj.data:
            name = source.prefix + key
            # The kubelet skips keys that are not valid variable names (it records an event).
            if _ENV_NAME.match(name):
                env[name] = obj.text(key)
    for item in container.env:
        source_ref = item.value_from
        if source_ref is None:
            env[item.name] = expand(item.value, env)
            continue
        value: str | None
        if source_ref.field_ref is not None:
            value = resolve_field_ref(pod, source_ref.field_ref.field_path, pod_ips)
        elif source_ref.config_map_key_ref is not None:
            value = _key_value(objects, CONFIG_MAP, pod, source_ref.config_map_key_ref)
        else:
            assert source_ref.secret_key_ref is not None  # validated: exactly one is set
            value = _key_value(objects, SECRET, pod, source_ref.secret_key_ref)
        if value is not None:
            env[item.name] = value
    return env
