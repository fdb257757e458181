"""Registry credentials for a pull, in the kubelet's order (pkg/credentialprovider): the pod's
``imagePullSecrets`` (kubernetes.io/dockerconfigjson Secrets, in the order listed), then the
node's docker config (``<root-dir>/config.json``, then ``$HOME/.docker/config.json``).

Within one source the most specific matching key comes first (longer registry path). The image
puller tries each credential in turn and, when no key matches, pulls without credentials.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubert.kubelet.objects import DOCKER_CONFIG_JSON, SECRET
from kubert.kubelet.objectstore import ObjectStore
from kubert.kubelet.pod import Pod
from kubert.kubelet.settings import KubeletConfig
from kubert.model import AuthConfig

DOCKER_HUB = "index.docker.io"
_HUB_ALIASES = ("docker.io", "registry-1.docker.io", "index.docker.io")


def image_location(image: str) -> tuple[str, str]:
    """``(registry host, repository path)`` of an image reference (Docker Hub by default)."""
    name = image.split("@", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name if "/" in name else f"library/{name}"
    last = path.rsplit("/", 1)
    if ":" in last[-1]:
        path = path[: len(path) - len(last[-1])] + last[-1].split(":", 1)[0]
    return (DOCKER_HUB if host in _HUB_ALIASES else host), path


def _key_location(key: str) -> tuple[str, str]:
    """A docker config key (``host``, ``https://host/v1/``, ``host/path``) as host and path."""
    text = key.split("://", 1)[-1].rstrip("/")
    host, _, path = text.partition("/")
    if path in ("v1", "v2"):
        path = ""
    return (DOCKER_HUB if host in _HUB_ALIASES else host), path


def _matches(key: str, host: str, path: str) -> bool:
    key_host, key_path = _key_location(key)
    if not fnmatch.fnmatchcase(host, key_host):
        return False
    return not key_path or path == key_path or path.startswith(key_path + "/")


def _auth(key: str, entry: Any) -> AuthConfig | None:
    if not isinstance(entry, dict):
        return None
    username, password = str(entry.get("username", "")), str(entry.get("password", ""))
    if entry.get("auth") and not username:
        try:
            username, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
    return AuthConfig(
        username=username, password=password, server_address=_key_location(key)[0],
        identity_token=str(entry.get("identitytoken", "")),
    )


def _from_config(data: Any, image: str) -> list[AuthConfig]:
    """The credentials of one docker config for ``image``, most specific key first."""
    auths = data.get("auths", data) if isinstance(data, dict) else {}
    if not isinstance(auths, dict):
        return []
    host, path = image_location(image)
    keys = sorted((k for k in auths if _matches(str(k), host, path)),
                  key=lambda k: len(_key_location(str(k))[1]), reverse=True)
    return [a for a in (_auth(str(k), auths[k]) for k in keys) if a is not None]


def node_config_paths(config: KubeletConfig) -> list[Path]:
    """Where the kubelet looks for the node's docker config, in order."""
    paths = [config.root_dir / "config.json"]
    home = os.environ.get("HOME")
    if home:
        paths.append(Path(home) / ".docker" / "config.json")
    return paths


def _read_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def credentials(config: KubeletConfig, pod: Pod, image: str) -> list[AuthConfig]:
    """Every credential to try for pulling ``image`` for ``pod``, in the kubelet's order.

    Pull secrets that are missing or not of type kubernetes.io/dockerconfigjson are skipped,
    as the kubelet does (it only logs them).
    """
    out: list[AuthConfig] = []
    objects = ObjectStore(config)
    for ref in pod.spec.image_pull_secrets:
        secret = objects.get(SECRET, pod.namespace, ref.name)
        if secret is None or secret.type != DOCKER_CONFIG_JSON:
            continue
        out += _from_config(_read_json(secret.data.get(".dockerconfigjson", b"")), image)
    for path in _existing(node_config_paths(config)):
        out += _from_config(_read_json(path.read_bytes()), image)
        break  # the first node config found is the node's keyring
    return out


def _existing(paths: Iterable[Path]) -> Iterable[Path]:
    return (p for p in paths if p.is_file())
