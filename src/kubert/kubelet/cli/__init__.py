"""The kubelet layer's commands: ``kubert apply``, ``get``, ``describe``, ``logs``, ``delete``
and ``kubelet``, over any CRI endpoint.

The core's command line does not know them: the layer's plugin (:mod:`kubert.kubelet.plugin`)
adds them through the core's ``kubert_add_commands`` hook. Each command module provides
``make_command(pm)``, built with the host's plugin manager so that the pod-sync hooks of every
loaded plugin apply; :mod:`kubert.kubelet.cli.podctl` holds what they share.
"""

from __future__ import annotations

import click
import pluggy

from kubert.kubelet.cli import apply, delete, describe, get, kubelet, logs

COMMAND_MODULES = (apply, delete, get, logs, describe, kubelet)


def add_commands(cli: click.Group, pm: pluggy.PluginManager) -> None:
    """Add the pod commands to ``cli``; they run the pod-sync hooks through ``pm``."""
    for module in COMMAND_MODULES:
        cli.add_command(module.make_command(pm))
