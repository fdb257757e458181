"""``kubert serve`` configuration: defaults, then a TOML file, then command-line flags.

The file uses the flags' own names as keys, and one ``[backend.<name>]`` table per backend for
the options plugins declare (:class:`~kubert.ServeOption`)::

    container-runtime-endpoint = "unix:///run/kubert/kubert.sock"
    runtime = "docker"
    network-plugin = "cni"

    [backend.cni]
    conf-dir = "/etc/cni/net.d"

Unknown keys are refused by name, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen

from kubert.errors import InvalidArgumentError
from kubert.options import ServeOption

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_ROOT",
    "LOG_LEVELS",
    "LOG_LEVEL_ALIASES",
    "ServeConfig",
    "load_config",
]

DEFAULT_ENDPOINT = "unix:///run/kubert/kubert.sock"
DEFAULT_ROOT = Path("/var/lib/kubert")
DEFAULT_INFRA_IMAGE = "registry.k8s.io/pause:3.9"
LOG_LEVELS = ("debug", "info", "warning", "error")
#: cri-dockerd's (logrus) level names that kubert's levels stand for.
LOG_LEVEL_ALIASES = {"trace": "debug", "warn": "warning", "fatal": "error", "panic": "error"}


def _log_level_name(value: Any) -> Any:
    return LOG_LEVEL_ALIASES.get(value, value) if isinstance(value, str) else value


def _log_level(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in LOG_LEVELS:
        raise InvalidArgumentError("log-level", value, f"must be one of {', '.join(LOG_LEVELS)}")


def _backend_name(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not value or not value.replace("-", "").replace("_", "").isalnum():
        raise InvalidArgumentError(
            attribute.name.replace("_", "-"), value, "must be a backend name such as 'docker'"
        )


def _optional_backend_name(
    _: Any, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is not None:
        _backend_name(_, attribute, value)  # type: ignore[arg-type]


def _host_port(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not value:
        return
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgumentError(
            attribute.name.replace("_", "-"), value, "must be HOST:PORT, e.g. 127.0.0.1:10255"
        )


@frozen(kw_only=True)
class ServeConfig:
    """Everything ``kubert serve`` needs; attribute names are the flags' with underscores.

    :ivar image_service: the image backend; None means the runtime's own (same instance).
    :ivar backends: per-backend options, ``{backend name: {key: value}}``.
    """

    container_runtime_endpoint: str = DEFAULT_ENDPOINT
    root_directory: Path = field(default=DEFAULT_ROOT, converter=Path)
    runtime: str = field(default="docker", validator=_backend_name)
    image_service: str | None = field(default=None, validator=_optional_backend_name)
    #: cni, as cri-dockerd: a node swapping one for the other keeps giving pods addresses.
    network_plugin: str = field(default="cni", validator=_backend_name)
    checkpoint_store: str = field(default="file", validator=_backend_name)
    pod_infra_container_image: str = DEFAULT_INFRA_IMAGE
    log_level: str = field(default="info", converter=_log_level_name, validator=_log_level)
    socket_group: str | None = None
    shutdown_grace_period: float = 10.0
    #: HOST:PORT serving Prometheus metrics (kubelet_runtime_operations_*); "" = off.
    metrics_address: str = field(default="", validator=_host_port)
    # The streaming server (Exec/Attach/PortForward URLs); see docs/streaming.md.
    streaming_address: str = "127.0.0.1"
    streaming_port: int = 0
    streaming_tls_cert_file: str = ""
    streaming_tls_key_file: str = ""
    streaming_base_url: str = ""
    streaming_idle_timeout: float = 4 * 3600.0
    #: cri-dockerd's flag, kept for its users; kubert reports every pod IP regardless.
    ipv6_dual_stack: bool = False
    backends: Mapping[str, Mapping[str, Any]] = field(factory=dict)

    @property
    def image_backend(self) -> str:
        return self.image_service or self.runtime

    def backend_options(self, name: str) -> dict[str, Any]:
        return dict(self.backends.get(name, {}))


#: Top-level keys of the file: the flag names.
FILE_KEYS: dict[str, str] = {
    a.name.replace("_", "-"): a.name for a in attrs.fields(ServeConfig) if a.name != "backends"
}


def _file_settings(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise InvalidArgumentError("config", str(path), "no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidArgumentError("config", str(path), f"is not valid TOML: {error}") from None


def load_config(
    path: Path | None,
    flags: Mapping[str, Any],
    plugin_options: Iterable[ServeOption] = (),
    plugin_flags: Mapping[str, Any] | None = None,
) -> ServeConfig:
    """Merge defaults, the file at ``path`` and ``flags`` (None values are unset flags).

    :param flags: ServeConfig attribute name -> flag value.
    :param plugin_options: the options plugins declared (``kubert_serve_options``).
    :param plugin_flags: flag values of those options, keyed by :func:`option_id`.
    :raises InvalidArgumentError: an unknown key or a bad value, named.
    """
    settings: dict[str, Any] = {}
    backends: dict[str, dict[str, Any]] = {}
    declared: dict[str, set[str]] = {}
    for option in plugin_options:
        declared.setdefault(option.backend, set()).add(option.key)
        if option.default is not None:
            backends.setdefault(option.backend, {})[option.key] = option.default
    if path is not None:
        document = _file_settings(path)
        for key, value in document.items():
            if key == "backend":
                _merge_backend_tables(path, value, declared, backends)
                continue
            if key not in FILE_KEYS:
                raise InvalidArgumentError(
                    f"{path}: {key}", value,
                    f"unknown setting; known: {', '.join(sorted(FILE_KEYS))}, [backend.<name>]",
                )
            _check_type(path, key, value)
            settings[FILE_KEYS[key]] = value
    settings.update({k: v for k, v in flags.items() if v is not None})
    for option_key, value in (plugin_flags or {}).items():
        if value is None or value == ():
            continue
        backend, key = option_key.split("\0", 1)
        backends.setdefault(backend, {})[key] = list(value) if isinstance(value, tuple) else value
    try:
        return ServeConfig(**settings, backends=backends)
    except TypeError as error:
        raise InvalidArgumentError("config", str(path), str(error)) from None


def _check_type(path: Path, key: str, value: Any) -> None:
    """A file value must have the type of the setting's default (a string where it is None)."""
    default = getattr(attrs.fields(ServeConfig), FILE_KEYS[key]).default
    if isinstance(default, bool):
        expected: tuple[type, ...] = (bool,)
    elif isinstance(default, float):
        expected = (int, float)
    elif isinstance(default, int):
        expected = (int,)
    else:
        expected = (str,)
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        names = " or ".join(t.__name__ for t in expected)
        raise InvalidArgumentError(f"{path}: {key}", value, f"must be a {names}")


def option_id(option: ServeOption) -> str:
    """The key under which a plugin option's flag value is passed to :func:`load_config`."""
    return f"{option.backend}\0{option.key}"


def _merge_backend_tables(
    path: Path, tables: Any, declared: Mapping[str, set[str]], into: dict[str, dict[str, Any]]
) -> None:
    if not isinstance(tables, dict):
        raise InvalidArgumentError(f"{path}: backend", tables, "must be a table of tables")
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise InvalidArgumentError(f"{path}: backend.{name}", table, "must be a table")
        known = declared.get(name)
        for key, value in table.items():
            # Backends that declare options get their keys checked; others take any option.
            if known is not None and key not in known:
                raise InvalidArgumentError(
                    f"{path}: backend.{name}.{key}", value,
                    f"unknown option of backend {name!r}; known: {', '.join(sorted(known))}",
                )
            into.setdefault(name, {})[key] = value
