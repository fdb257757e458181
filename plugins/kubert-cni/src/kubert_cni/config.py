"""Network config lists: parse one document, and pick the first valid file of a config dir.

The rules are libcni's and the kubelet's: ``.conf``, ``.conflist`` and ``.json`` files in
lexicographic order, the first valid one wins, a single-plugin ``.conf`` (or ``.json``) becomes
a one-plugin list, and a ``cniVersions`` array picks the highest version kubert supports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import field, frozen

from kubert_cni.errors import CNIConfigError
from kubert_cni.versions import SUPPORTED_VERSIONS, highest_supported, is_supported

CONFIG_EXTENSIONS: tuple[str, ...] = (".conf", ".conflist", ".json")

# A sane bound: config files are a few hundred bytes; a huge file is a mistake, not a network.
_MAX_CONFIG_BYTES = 1 << 20


@frozen(kw_only=True)
class NetworkConfigList:
    """One network: its name, the spec version it runs at, and its plugins in chain order.

    :ivar plugins: each plugin's config as written (never mutated; injection copies it).
    :ivar source: the file it came from, or a description (``"kubenet"``).
    """

    name: str
    cni_version: str
    plugins: tuple[Mapping[str, Any], ...]
    disable_check: bool = False
    disable_gc: bool = False
    source: str = ""

    @property
    def plugin_types(self) -> tuple[str, ...]:
        return tuple(str(p["type"]) for p in self.plugins)

    def to_document(self) -> dict[str, Any]:
        """The list as a conflist document (what the result cache stores as ``config``)."""
        doc: dict[str, Any] = {
            "cniVersion": self.cni_version,
            "name": self.name,
            "plugins": [dict(p) for p in self.plugins],
        }
        if self.disable_check:
            doc["disableCheck"] = True
        if self.disable_gc:
            doc["disableGC"] = True
        return doc

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_document(), separators=(",", ":")).encode()


@frozen(kw_only=True)
class SkippedConfig:
    """A file of the config dir that was not used, and why."""

    path: str
    reason: str


@frozen(kw_only=True)
class ConfigScan:
    """What one scan of the config dir found: the network in use (if any) and what was skipped."""

    conf_dir: str
    network: NetworkConfigList | None
    skipped: tuple[SkippedConfig, ...] = field(factory=tuple)

    def problem(self) -> str:
        """Why there is no network, in one message naming every skipped file and its reason."""
        if self.network is not None:
            return ""
        if not self.skipped:
            return f"no network config found in {self.conf_dir}"
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in self.skipped)
        return f"no valid network config in {self.conf_dir} ({reasons})"


def parse_config(data: bytes | str, source: str, *, single: bool) -> NetworkConfigList:
    """Parse a ``.conflist`` document (``single=False``) or a one-plugin ``.conf`` (``True``).

    :raises CNIConfigError: naming ``source`` and what is wrong with it.
    """
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CNIConfigError(source, f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CNIConfigError(source, f"must be a JSON object, got {type(doc).__name__}")
    if single:
        if "plugins" in doc:
            raise CNIConfigError(source, "has a 'plugins' list; name it .conflist")
        _check_plugin(doc, source, "the config")
        plugins: list[Any] = [doc]
    else:
        plugins = doc.get("plugins")  # type: ignore[assignment]
        if not isinstance(plugins, list) or not plugins:
            raise CNIConfigError(source, "'plugins' must be a non-empty list")
        for index, plugin in enumerate(plugins):
            _check_plugin(plugin, source, f"plugins[{index}]")
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise CNIConfigError(source, f"'name' must be a non-empty string (got {name!r})")
    if any(c in name for c in "/\\\0") or name in (".", ".."):
        raise CNIConfigError(source, f"'name' {name!r} may not contain a path separator")
    return NetworkConfigList(
        name=name,
        cni_version=_pick_version(doc, source),
        plugins=tuple(plugins),
        disable_check=_flag(doc, "disableCheck", source),
        disable_gc=_flag(doc, "disableGC", source),
        source=source,
    )


def _check_plugin(plugin: Any, source: str, where: str) -> None:
    if not isinstance(plugin, dict):
        raise CNIConfigError(source, f"{where} must be a JSON object")
    kind = plugin.get("type")
    if not isinstance(kind, str) or not kind:
        raise CNIConfigError(source, f"{where} has no 'type' (the plugin binary's name)")
    if "/" in kind or kind in (".", ".."):
        raise CNIConfigError(source, f"{where} 'type' {kind!r} must be a bare binary name")
    capabilities = plugin.get("capabilities", {})
    if not isinstance(capabilities, dict):
        raise CNIConfigError(source, f"{where} 'capabilities' must be an object")


def _pick_version(doc: Mapping[str, Any], source: str) -> str:
    supported = ", ".join(SUPPORTED_VERSIONS)
    versions = doc.get("cniVersions")
    if versions is not None:
        if not isinstance(versions, list):
            raise CNIConfigError(source, f"'cniVersions' must be a list (got {versions!r})")
        chosen = highest_supported(versions)
        if chosen is None:
            raise CNIConfigError(
                source, f"none of cniVersions {versions} is supported (supported: {supported})"
            )
        return chosen
    version = doc.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise CNIConfigError(source, "'cniVersion' is missing")
    if not is_supported(version):
        raise CNIConfigError(
            source, f"cniVersion {version!r} is not supported (supported: {supported})"
        )
    return version


def _flag(doc: Mapping[str, Any], key: str, source: str) -> bool:
    value = doc.get(key, False)
    if not isinstance(value, bool):
        raise CNIConfigError(source, f"{key!r} must be true or false (got {value!r})")
    return value


def load_file(path: Path) -> NetworkConfigList:
    """Read and parse one config file; its extension says whether it is a list."""
    try:
        size = path.stat().st_size
        if size > _MAX_CONFIG_BYTES:
            raise CNIConfigError(str(path), f"is {size} bytes; a network config is at most 1 MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise CNIConfigError(str(path), f"cannot be read: {exc.strerror or exc}") from None
    return parse_config(data, str(path), single=path.suffix != ".conflist")


def config_files(conf_dir: Path) -> list[Path]:
    """The candidate files of ``conf_dir`` in lexicographic order ([] when it is missing)."""
    try:
        names = os.listdir(conf_dir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CNIConfigError(str(conf_dir), f"cannot be listed: {exc.strerror or exc}") from None
    return [conf_dir / n for n in sorted(names) if Path(n).suffix in CONFIG_EXTENSIONS]


def scan(conf_dir: Path, files: Sequence[Path] | None = None) -> ConfigScan:
    """The first valid network of ``conf_dir``, with every file skipped before it."""
    skipped: list[SkippedConfig] = []
    try:
        candidates = config_files(conf_dir) if files is None else list(files)
    except CNIConfigError as exc:
        return ConfigScan(conf_dir=str(conf_dir), network=None,
                          skipped=(SkippedConfig(path=str(conf_dir), reason=exc.reason),))
    for path in candidates:
        if not path.is_file():
            continue
        try:
            network = load_file(path)
        except CNIConfigError as exc:
            skipped.append(SkippedConfig(path=str(path), reason=exc.reason))
            continue
        return ConfigScan(conf_dir=str(conf_dir), network=network, skipped=tuple(skipped))
    return ConfigScan(conf_dir=str(conf_dir), network=None, skipped=tuple(skipped))
