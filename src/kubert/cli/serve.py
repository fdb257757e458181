"""``kubert serve``: run the CRI server until SIGTERM or SIGINT, then drain and clean up.

Flag names follow cri-dockerd's where they mean the same. Plugins add flags through
``kubert_serve_options``; one flag may feed several backends (cni and kubenet share
``--cni-bin-dir``), and its value lands in each of those backends' options.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from kubert.config import DEFAULT_ENDPOINT, DEFAULT_ROOT, LOG_LEVELS, load_config, option_id
from kubert.errors import KubertError
from kubert.options import ServeOption
from kubert.plugins import PluginHost

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
    return click.option(
        flag, _flag_param(flag), type=_CLICK_TYPES[first.type], default=None,
        multiple=first.type == "list", envvar=first.envvar, help=help_text,
        show_envvar=first.envvar is not None,
    )


def _list_value(values: tuple[str, ...]) -> list[str]:
    """Repeated flags and comma lists both work: ``--x a --x b,c`` -> ``[a, b, c]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def make_command(host: PluginHost) -> click.Command:
    """The ``serve`` command, with the flags the loaded plugins contribute."""
    by_flag = _plugin_options(host.serve_options())

    @click.command("serve")
    @click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                  help="TOML configuration file; flags override it")
    @click.option("--container-runtime-endpoint", default=None,
                  help=f"socket to listen on [default: {DEFAULT_ENDPOINT}]")
    @click.option("--runtime", default=None, help="runtime backend name [default: docker]")
    @click.option("--image-service", default=None,
                  help="image backend name [default: the runtime's]")
    @click.option("--network-plugin", default=None, help="network backend [default: noop]")
    @click.option("--checkpoint-store", default=None,
                  help="checkpoint store backend [default: file]")
    @click.option("--root-directory", type=click.Path(path_type=Path), default=None,
                  help=f"state directory [default: {DEFAULT_ROOT}]")
    @click.option("--pod-infra-container-image", default=None,
                  help="the sandbox (pause) image")
    @click.option("--log-level", type=click.Choice(LOG_LEVELS), default=None,
                  help="log verbosity [default: info]")
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
    def serve(config_file: Path | None, **flags: Any) -> None:
        """Serve CRI v1 (RuntimeService + ImageService) on a unix socket."""
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
        _configure_logging(config.log_level)
        sys.exit(run(host, config))

    for flag, options in reversed(by_flag.items()):
        serve = _click_option(flag, options)(serve)
    return serve


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run(host: PluginHost, config: Any) -> int:
    """Start service and server, wait for a signal, drain, and stop. Returns the exit code."""
    from kubert.assemble import build_server, build_service  # grpc is imported only to serve
    from kubert.metrics import serve_metrics
    from kubert.streaming.server import start_streaming

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    try:
        service = build_service(host, config)
    except KubertError as error:
        click.echo(f"kubert serve: {error.message}", err=True)
        return 2
    # Handlers go in before anything listens: a signal that arrives while starting up must
    # still end in an orderly stop (the wait below then returns at once).
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        service.start()
        service.streaming = start_streaming(service.runtime, config)
        if config.metrics_address:
            # Before the CRI socket listens: a metrics port already taken fails the start
            # while nothing needs undoing but the service.
            metrics_host, _, metrics_port = config.metrics_address.rpartition(":")
            serve_metrics(metrics_host.strip("[]"), int(metrics_port))
        server = build_server(host, config, service)
        server.start()
    except (KubertError, OSError) as error:
        if service.streaming is not None:
            service.streaming.stop()
        service.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo(f"kubert serve: {error}", err=True)
        return 1
    log.info(
        "serving CRI on %s (runtime %s, images %s, network %s)",
        config.container_runtime_endpoint, config.runtime, config.image_backend,
        config.network_plugin,
    )
    try:
        # Short waits: a signal may land on one of grpc's threads, and Python runs its handler
        # only when the main thread next executes bytecode, so the main thread must wake up.
        while not stop.wait(0.2):
            pass
        log.info(
            "received %s; draining in-flight calls (up to %gs)",
            signal.Signals(received[0]).name, config.shutdown_grace_period,
        )
    finally:
        server.stop(config.shutdown_grace_period)
        if service.streaming is not None:
            service.streaming.stop()
        service.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")
    return 0
