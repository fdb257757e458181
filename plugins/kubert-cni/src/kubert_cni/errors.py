"""Errors of the CNI backend: a plugin's error result, and a config file kubert cannot use."""

from __future__ import annotations

from kubert import KubertError


class CNIPluginError(KubertError, RuntimeError):
    """A CNI plugin failed: its error result (code, msg, details), or output kubert cannot read.

    :ivar plugin: the plugin type (binary name) that failed.
    :ivar command: ADD, DEL, CHECK, STATUS, GC or VERSION.
    :ivar network: the network (config list) name.
    :ivar code: the CNI error code (spec: 1-99 reserved by CNI, 100+ plugin-specific); 0 when
        the plugin gave no error result at all (crashed, printed garbage).
    :ivar msg: the plugin's ``msg``, or kubert's description of the failure.
    :ivar details: the plugin's ``details`` (or its stderr when it printed no error result).
    """

    def __init__(
        self, plugin: str, command: str, network: str, code: int, msg: str, details: str = ""
    ) -> None:
        text = f"CNI plugin {plugin!r} failed {command} on network {network!r}"
        if code:
            text += f" with error code {code}"
        text += f": {msg}"
        if details:
            text += f" ({details})"
        super().__init__(text)
        self.plugin = plugin
        self.command = command
        self.network = network
        self.code = code
        self.msg = msg
        self.details = details


class CNIConfigError(KubertError, ValueError):
    """A network config file or document kubert cannot use; ``reason`` says why."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"CNI config {source}: {reason}")
        self.source = source
        self.reason = reason
