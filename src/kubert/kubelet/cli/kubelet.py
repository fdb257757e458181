"""``kubert kubelet --manifests DIR``: the static-pod loop over any CRI endpoint."""

from __future__ import annotations

import datetime
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click
import pluggy

from kubert.kubelet.cli.podctl import runtime_options, session
from kubert.kubelet.static import StaticPodLoop, node_name


def _stamp(line: str) -> None:
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%H:%M:%S")
    click.echo(f"{now} {line}")


def make_command(pm: pluggy.PluginManager) -> click.Command:
    @click.command("kubelet")
    @click.option("--manifests", type=click.Path(path_type=Path, file_okay=False),
                  help="Static pod directory: every file not starting with '.' is one pod.")
    @click.option("--hostname-override", default="",
                  help="The node name static pods' names end with (default: the host name).")
    @click.option("--period", type=float, default=1.0, show_default=True,
                  help="Seconds between relists (container events make them sooner).")
    @click.option("--serialize-image-pulls/--parallel-image-pulls", default=True,
                  show_default=True, help="Pull one image at a time, as the kubelet's default.")
    @click.option("--max-parallel-image-pulls", type=int, default=0,
                  help="With parallel pulls, at most this many at once (0: no limit).")
    @click.option("--registry-qps", type=float, default=5.0, show_default=True,
                  help="Image pulls per second (0: no limit).")
    @click.option("--registry-burst", type=int, default=10, show_default=True)
    @click.option("--cluster-dns", multiple=True, help="Nameserver for ClusterFirst pods.")
    @click.option("--container-log-dir", type=click.Path(path_type=Path, file_okay=False),
                  help="Log agents' links (default: 'containers' beside --log-root).")
    @click.option("--container-log-max-size", type=int, default=10 * 1024 * 1024,
                  show_default=True, help="Rotate a running container's log above these bytes.")
    @click.option("--container-log-max-files", type=int, default=5, show_default=True,
                  help="Log files kept per container, the current one included.")
    @runtime_options
    def kubelet(
        manifests: Path | None, hostname_override: str, period: float, serialize_image_pulls: bool,
        max_parallel_image_pulls: int, registry_qps: float, registry_burst: int,
        cluster_dns: tuple[str, ...], container_log_dir: Path | None,
        container_log_max_size: int, container_log_max_files: int, **options: Any,
    ) -> None:
        """Keep the pods of --manifests (and those applied) running until SIGTERM / Ctrl-C."""
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        with session(
            pm, **options, serialize_image_pulls=serialize_image_pulls,
            max_parallel_image_pulls=max_parallel_image_pulls,
            registry_pull_qps=registry_qps, registry_burst=registry_burst,
            cluster_dns=cluster_dns, container_log_dir=container_log_dir,
            container_log_max_size=container_log_max_size,
            container_log_max_files=container_log_max_files,
        ) as s:
            loop = StaticPodLoop(s.manager, s.store, manifests, period=period, report=_stamp,
                                 node=hostname_override.lower() or node_name())
            _stamp(f"kubelet: watching {manifests or '(no manifest directory)'} on "
                   f"{options['runtime_endpoint']}")
            loop.run(stop)
            _stamp("kubelet: stopped; pods keep running")

    return kubelet
