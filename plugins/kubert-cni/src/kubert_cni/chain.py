"""libcni's list operations: ADD in chain order, DEL in reverse, CHECK, STATUS and GC.

Each plugin receives its own config with ``name``, ``cniVersion``, ``prevResult`` and a
``runtimeConfig`` of the capabilities it declares injected, as libcni injects them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import field, frozen

from kubert_cni.config import NetworkConfigList
from kubert_cni.errors import CNIPluginError
from kubert_cni.invoke import Invocation, run_plugin
from kubert_cni.podargs import runtime_config
from kubert_cni.result import ResultError, convert_result, validate_result
from kubert_cni.versions import supports_check, supports_status_and_gc


@frozen(kw_only=True)
class Attachment:
    """Who is attached where: libcni's RuntimeConf."""

    container_id: str
    netns: str
    ifname: str
    args: tuple[tuple[str, str], ...] = field(factory=tuple)
    capability_args: Mapping[str, Any] = field(factory=dict)


@frozen(kw_only=True)
class Chain:
    """One network config list bound to where its plugins live and how long they may take."""

    network: NetworkConfigList
    bin_dirs: tuple[Path, ...]
    timeout: float

    def add(self, attachment: Attachment) -> dict[str, Any]:
        """ADD every plugin in order, each one seeing the previous result.

        :returns: the final result, at the list's version.
        :raises CNIPluginError: a plugin failed or returned no usable result.
        """
        prev: dict[str, Any] | None = None
        for plugin in self.network.plugins:
            output = self._run(plugin, "ADD", attachment, prev)
            if output is None:
                raise CNIPluginError(str(plugin["type"]), "ADD", self.network.name, 0,
                                     "printed no result")
            try:
                validate_result(output)
            except ResultError as exc:
                raise CNIPluginError(str(plugin["type"]), "ADD", self.network.name, 0,
                                     f"printed an invalid result: {exc}") from None
            prev = convert_result(output, self.network.cni_version)
        assert prev is not None  # a list has at least one plugin (config.parse_config)
        return prev

    def delete(self, attachment: Attachment, cached: Mapping[str, Any] | None) -> None:
        """DEL every plugin in reverse order, with the cached result from spec 0.4.0 on.

        Every plugin is asked even when one fails, so that a failing plugin does not keep the
        others (host-local's lease above all) from releasing what they hold; the first
        failure is raised at the end.
        """
        prev = cached if cached is not None and supports_check(self.network.cni_version) else None
        if prev is not None:
            prev = convert_result(prev, self.network.cni_version)
        first_error: Exception | None = None
        for plugin in reversed(self.network.plugins):
            try:
                self._run(plugin, "DEL", attachment, prev)
            except Exception as exc:  # collected and re-raised below; see docstring
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def check(self, attachment: Attachment, cached: Mapping[str, Any]) -> bool:
        """CHECK every plugin in order; False when the version or config rules it out."""
        if not supports_check(self.network.cni_version) or self.network.disable_check:
            return False
        prev = convert_result(cached, self.network.cni_version)
        for plugin in self.network.plugins:
            self._run(plugin, "CHECK", attachment, prev)
        return True

    def status(self) -> None:
        """STATUS every plugin (spec 1.1.0 on; a no-op before). Raises on the first failure."""
        if not supports_status_and_gc(self.network.cni_version):
            return
        for plugin in self.network.plugins:
            self._run(plugin, "STATUS", None, None)

    def gc(self, valid: Sequence[tuple[str, str]]) -> None:
        """GC every plugin with the attachments (container id, ifname) that remain valid."""
        if not supports_status_and_gc(self.network.cni_version) or self.network.disable_gc:
            return
        attachments = [{"containerID": cid, "ifname": ifname} for cid, ifname in valid]
        # Spec 1.1.0 names the key "cni.dev/valid-attachments"; its first text said
        # "cni.dev/attachments", which some plugins still read, so both are sent (as libcni does).
        extra = {"cni.dev/valid-attachments": attachments, "cni.dev/attachments": attachments}
        for plugin in self.network.plugins:
            self._run(plugin, "GC", None, None, extra)

    def plugin_config(
        self,
        plugin: Mapping[str, Any],
        attachment: Attachment | None,
        prev: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The config one plugin receives on stdin."""
        config = copy.deepcopy(dict(plugin))
        config["name"] = self.network.name
        config["cniVersion"] = self.network.cni_version
        if prev is not None:
            config["prevResult"] = prev
        if attachment is not None:
            runtime = runtime_config(plugin, attachment.capability_args)
            if runtime:
                config["runtimeConfig"] = runtime
        if extra:
            config.update(extra)
        return config

    def _run(
        self,
        plugin: Mapping[str, Any],
        command: str,
        attachment: Attachment | None,
        prev: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        invocation = (
            Invocation(
                command=command, container_id=attachment.container_id, netns=attachment.netns,
                ifname=attachment.ifname, args=attachment.args,
            )
            if attachment is not None
            else Invocation(command=command)
        )
        return run_plugin(
            str(plugin["type"]), self.network.name, invocation,
            self.plugin_config(plugin, attachment, prev, extra), self.bin_dirs, self.timeout,
        )
