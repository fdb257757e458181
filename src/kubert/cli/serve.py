"""``kubert serve``: run the CRI server until SIGTERM or SIGINT, then drain and clean up.

Flag names follow cri-dockerd's where they mean the same, and every cri-dockerd flag is
accepted (see :mod:`kubert.cli.compat`). Plugins add flags through ``kubert_serve_options``; one
flag may feed several backends (cni and kubenet share ``--cni-bin-dir``), and its value lands in
each of those backends' options. Under systemd it reports readiness and status through
``NOTIFY_SOCKET`` and logs in the journal's format (see :mod:`kubert.systemd`).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import attrs
import click

from kubert.cli.compat import (
    CRI_DOCKERD_FLAGS,
    DURATION_FLAGS,
    CriDockerdFlag,
    Duration,
    normalize_bool_flags,
)
from kubert.cli.version import build_info, version_line
from kubert.config import (
    DEFAULT_ENDPOINT,
    DEFAULT_ROOT,
    LOG_LEVEL_ALIASES,
    LOG_LEVELS,
    load_config,
    option_id,
)
from kubert.errors import KubertError
from kubert.options import ServeOption
from kubert.plugins import PluginHost
from kubert.systemd.journal import PLAIN_FORMAT, JournalFormatter, stderr_is_journal
from kubert.systemd.notify import Notifier

log = logging.getLogger("kubert.serve")

_CLICK_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "list": str}


def _flag_param(flag: str) -> str:
    return "plugin_" + flag.lstrip("-").replace("-", "_")


def _plugin_options(options: list[ServeOption]) -> dict[str, list[ServeOption]]:
    """The plugin options grouped by flag, in declaration order."""
    by_flag: dict[str, list[ServeOption]] = {}
    for option in options:
        by_flag.setdefault(option.flag, []).append(option)
    return by_flag


def _click_option(flag: str, options: list[ServeOption]) -> Callable[[Any], Any]:
    first = options[0]
    backends = ", ".join(sorted({o.backend for o in options}))
    help_text = f"{first.help} [backend: {backends}]".strip()
    if first.type == "bool":
        return click.option(
            f"{flag}/--no-{flag.lstrip('-')}", _flag_param(flag), default=None,
            envvar=first.envvar, help=help_text,
        )
    click_type = _CLICK_TYPES[first.type]
    if flag in DURATION_FLAGS and first.type in ("int", "float"):
        # cri-dockerd spells these as Go durations (1m0s); plain seconds work too.
        click_type = Duration(integer=first.type == "int")
    return click.option(
        flag, _flag_param(flag), type=click_type, default=None,
        multiple=first.type == "list", envvar=first.envvar, help=help_text,
        show_envvar=first.envvar is not None,
    )


def _list_value(values: tuple[str, ...]) -> list[str]:
    """Repeated flags and comma lists both work: ``--x a --x b,c`` -> ``[a, b, c]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class ServeCommand(click.Command):
    """``serve`` reading boolean flags the way cri-dockerd's flag library does."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            args = normalize_bool_flags(args)
        except click.BadParameter as error:
            error.ctx = ctx
            raise
        return super().parse_args(ctx, args)


def _print_and_exit(text: Callable[[], str]) -> Callable[[click.Context, Any, Any], None]:
    def callback(ctx: click.Context, param: Any, value: Any) -> None:
        if value and not ctx.resilient_parsing:
            click.echo(text())
            ctx.exit(0)

    return callback


def _ignored_flag(flag: CriDockerdFlag) -> Callable[[Any], Any]:
    """A cri-dockerd flag nothing loaded serves: accepted, noted, without effect."""
    param = "ignored_" + flag.name.lstrip("-").replace("-", "_")
    help_text = f"cri-dockerd's flag; no effect here (served by {flag.provider}, not loaded)"
    if flag.takes_value:
        return click.option(flag.name, param, default=None, help=help_text)
    return click.option(flag.name, param, is_flag=True, default=None, help=help_text)


def _streaming_bind_addr(value: str) -> tuple[str, int | None]:
    """cri-dockerd's ``--streaming-bind-addr``: ``ADDR`` or ``ADDR:PORT`` (``[v6]:PORT``)."""
    text = value.strip()
    host, port = text, None
    if text.startswith("["):
        host, _, tail = text[1:].partition("]")
        if tail:
            if not tail.startswith(":") or not tail[1:].isdigit():
                raise click.BadParameter(f"{value!r} is not ADDR or ADDR:PORT",
                                         param_hint="'--streaming-bind-addr'")
            port = int(tail[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text.isdigit():
            raise click.BadParameter(f"{value!r} is not ADDR or ADDR:PORT",
                                     param_hint="'--streaming-bind-addr'")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: {host!r} is not an IP address", param_hint="'--streaming-bind-addr'"
        ) from None
    if port is not None and not 0 <= port < 65536:
        raise click.BadParameter(f"{value!r}: port out of range",
                                 param_hint="'--streaming-bind-addr'")
    return host, port


def _apply_cri_dockerd_flags(flags: dict[str, Any], notices: list[str]) -> None:
    """Fold cri-dockerd's spellings into kubert's flags; collect notices for those that have
    no effect. ``flags`` is changed in place."""
    bind = flags.pop("streaming_bind_addr", None)
    if bind is not None:
        host, port = _streaming_bind_addr(bind)
        if flags.get("streaming_address") not in (None, host):
            raise click.UsageError(
                f"--streaming-bind-addr {bind} and --streaming-address "
                f"{flags['streaming_address']} disagree; give one"
            )
        flags["streaming_address"] = host
        if port is not None:
            if flags.get("streaming_port") not in (None, port):
                raise click.UsageError(
                    f"--streaming-bind-addr {bind} and --streaming-port "
                    f"{flags['streaming_port']} disagree; give one"
                )
            flags["streaming_port"] = port
    if flags.get("ipv6_dual_stack"):
        notices.append(
            "--ipv6-dual-stack: kubert always reports every address the network plugin "
            "assigns (IPv4 first), so dual-stack needs no switch"
        )
    for name in [key for key in flags if key.startswith("ignored_")]:
        value = flags.pop(name)
        if value is None:
            continue
        flag = "--" + name.removeprefix("ignored_").replace("_", "-")
        provider = next(f.provider for f in CRI_DOCKERD_FLAGS if f.name == flag)
        notices.append(
            f"{flag}: ignored, no loaded plugin uses it (it is {provider}'s; "
            "see 'kubert plugins')"
        )


def make_command(host: PluginHost) -> click.Command:
    """The ``serve`` command, with the flags the loaded plugins contribute."""
    by_flag = _plugin_options(host.serve_options())

    @click.command(
        "serve", cls=ServeCommand, context_settings={"help_option_names": ["-h", "--help"]}
    )
    @click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                  help="TOML configuration file; flags override it")
    @click.option("--container-runtime-endpoint", default=None,
                  help=f"socket to listen on: unix:///path.sock, tcp://host:port, or fd:// "
                       f"(the socket systemd passes) [default: {DEFAULT_ENDPOINT}]")
    @click.option("--runtime", default=None, help="runtime backend name [default: docker]")
    @click.option("--image-service", default=None,
                  help="image backend name [default: the runtime's]")
    @click.option("--network-plugin", default=None,
                  help="network backend: cni, kubenet, noop … [default: cni]")
    @click.option("--checkpoint-store", default=None,
                  help="checkpoint store backend [default: file]")
    @click.option("--root-directory", "--cri-dockerd-root-directory", "root_directory",
                  type=click.Path(path_type=Path), default=None,
                  help=f"state directory [default: {DEFAULT_ROOT}]")
    @click.option("--pod-infra-container-image", default=None,
                  help="the sandbox (pause) image")
    @click.option("--log-level", type=click.Choice(LOG_LEVELS + tuple(LOG_LEVEL_ALIASES)),
                  default=None,
                  help="log verbosity; cri-dockerd's trace, warn, fatal, panic too "
                       "[default: info]")
    @click.option("--ipv6-dual-stack/--no-ipv6-dual-stack", default=None,
                  help="cri-dockerd's dual-stack switch; kubert always reports every pod IP")
    @click.option("--streaming-bind-addr", default=None,
                  help="cri-dockerd's ADDR or ADDR:PORT for the streaming server "
                       "(--streaming-address and --streaming-port)")
    @click.option("--version", is_flag=True, expose_value=False, is_eager=True,
                  callback=_print_and_exit(version_line), help="print the version and exit")
    @click.option("--buildinfo", is_flag=True, expose_value=False, is_eager=True,
                  callback=_print_and_exit(build_info),
                  help="print build information and exit")
    @click.option("--print-config", is_flag=True, default=False,
                  help="print the configuration these flags give, as JSON, and exit")
    @click.option("--socket-group", default=None,
                  help="group that owns the socket (mode 0660)")
    @click.option("--metrics-address", default=None,
                  help="HOST:PORT serving Prometheus metrics at /metrics [default: off]")
    @click.option("--streaming-address", default=None,
                  help="streaming server (exec/attach/port-forward) bind address "
                       "[default: 127.0.0.1]")
    @click.option("--streaming-port", type=int, default=None,
                  help="streaming server port [default: 0, a free one]")
    @click.option("--streaming-tls-cert-file", default=None,
                  help="PEM certificate: the streaming server speaks TLS")
    @click.option("--streaming-tls-key-file", default=None, help="PEM key of that certificate")
    @click.option("--streaming-base-url", default=None,
                  help="URL prefix handed out for streaming [default: from the bound address]")
    @click.option("--streaming-idle-timeout", type=float, default=None,
                  help="seconds an idle streaming session lives [default: 14400]")
    def serve(config_file: Path | None, print_config: bool, **flags: Any) -> None:
        """Serve CRI v1 (RuntimeService + ImageService) on a unix socket."""
        notices: list[str] = []
        _apply_cri_dockerd_flags(flags, notices)
        plugin_flags: dict[str, Any] = {}
        for flag, options in by_flag.items():
            value = flags.pop(_flag_param(flag), None)
            if options[0].type == "list" and value is not None:
                value = _list_value(value) or None
            for option in options:
                plugin_flags[option_id(option)] = value
        try:
            config = load_config(
                config_file, flags, [o for opts in by_flag.values() for o in opts], plugin_flags
            )
        except KubertError as error:
            raise click.UsageError(error.message) from None
        if print_config:
            for notice in notices:
                click.echo(f"kubert serve: {notice}", err=True)
            click.echo(json.dumps(attrs.asdict(config), default=str, indent=2, sort_keys=True))
            return
        _configure_logging(config.log_level)
        if config.container_runtime_endpoint.startswith("fd://") and config.socket_group:
            notices.append("--socket-group: the socket unit's SocketGroup= owns an fd:// socket")
        for notice in notices:
            log.info("%s", notice)
        sys.exit(run(host, config))

    for flag, options in reversed(by_flag.items()):
        serve = _click_option(flag, options)(serve)
    served = {name for param in serve.params for name in param.opts + param.secondary_opts}
    served.update(("-h", "--help"))  # click's own help option
    for known in CRI_DOCKERD_FLAGS:
        if known.name not in served:
            serve = _ignored_flag(known)(serve)
    return serve


def _configure_logging(level: str) -> None:
    """As ``logging.basicConfig``: nothing when logging is already set up (a test harness, a
    program embedding kubert), else one stderr handler in the plain or the journal format."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    # Under systemd the journal stamps the time and reads the <N> prefix as the priority.
    try:
        journal = stderr_is_journal(fd=handler.stream.fileno())
    except (OSError, ValueError):  # stderr replaced by something without a descriptor
        journal = False
    handler.setFormatter(JournalFormatter() if journal else logging.Formatter(PLAIN_FORMAT))
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))


def _recovery_status(service: Any, address: str) -> str:
    report = getattr(service.recovery, "last_report", None)
    if report is None:
        return f"serving CRI on {address}; start-up recovery waits for the engine"
    return (
        f"serving CRI on {address}; recovered {report.sandboxes} sandboxes, "
        f"{report.checkpoints} checkpoints"
    )


def _return_freed_heap() -> None:
    """Give the system back the heap that start-up used and freed (reading plugin metadata,
    building the servers): glibc keeps freed pages in the process until ``malloc_trim``.
    Nothing where the C library has no such call."""
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def run(host: PluginHost, config: Any, notifier: Notifier | None = None) -> int:
    """Start service and server, wait for a signal, drain, and stop. Returns the exit code.

    :param notifier: where readiness goes; by default systemd's ``NOTIFY_SOCKET`` (a no-op
        when that is not set).
    """
    from kubert.assemble import build_server, build_service  # grpc is imported only to serve
    from kubert.metrics import serve_metrics
    from kubert.streaming.server import start_streaming

    notify = Notifier() if notifier is None else notifier
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    notify.status("starting backends")
    try:
        service = build_service(host, config)
    except KubertError as error:
        notify.status(f"failed: {error.message}")
        click.echo(f"kubert serve: {error.message}", err=True)
        return 2
    # Handlers go in before anything listens: a signal that arrives while starting up must
    # still end in an orderly stop (the wait below then returns at once).
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        notify.status("recovering state from the engine and checkpoints")
        service.start()
        service.streaming = start_streaming(service.runtime, config)
        if config.metrics_address:
            # Before the CRI socket listens: a metrics port already taken fails the start
            # while nothing needs undoing but the service.
            metrics_host, _, metrics_port = config.metrics_address.rpartition(":")
            serve_metrics(metrics_host.strip("[]"), int(metrics_port))
        server = build_server(host, config, service)
        server.start()
        _return_freed_heap()
    except (KubertError, OSError) as error:
        if service.streaming is not None:
            service.streaming.stop()
        service.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        notify.status(f"failed: {error}")
        click.echo(f"kubert serve: {error}", err=True)
        return 1
    log.info(
        "serving CRI on %s (runtime %s, images %s, network %s)",
        config.container_runtime_endpoint, config.runtime, config.image_backend,
        config.network_plugin,
    )
    status = _recovery_status(service, config.container_runtime_endpoint)
    notify.ready(status)
    try:
        # Short waits: a signal may land on one of grpc's threads, and Python runs its handler
        # only when the main thread next executes bytecode, so the main thread must wake up.
        # The same loop feeds the watchdog: if it stalls, systemd sees the keep-alives stop.
        notify.watchdog_due()
        while not stop.wait(0.2):
            notify.watchdog_due()
            now = _recovery_status(service, config.container_runtime_endpoint)
            if now != status:
                status = now
                notify.status(status)
        log.info(
            "received %s; draining in-flight calls (up to %gs)",
            signal.Signals(received[0]).name, config.shutdown_grace_period,
        )
        notify.stopping(f"draining in-flight calls (up to {config.shutdown_grace_period:g}s)")
    finally:
        server.stop(config.shutdown_grace_period)
        if service.streaming is not None:
            service.streaming.stop()
        service.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")
    return 0
