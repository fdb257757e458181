"""The ``cni`` network backend: pods get their network from the first valid config in a dir.

What the kubelet's CNI network plugin and libcni do together: rescan the config dir while
serving, run the chain per sandbox under a per-sandbox lock, cache each attachment, tear down
from the cache, collect what no sandbox owns, and answer pod IPs from the cache after a restart.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from attrs import evolve

from kubert import (
    NETWORK_READY,
    BackendContext,
    DeadlineExceededError,
    InvalidArgumentError,
    LockTable,
    NetworkBackend,
    NotFoundError,
    PodNetwork,
    PodSandboxNetworkStatus,
    RuntimeCondition,
    UnavailableError,
)
from kubert_cni.cache import CacheEntry, ResultCache
from kubert_cni.chain import Attachment, Chain
from kubert_cni.config import CONFIG_EXTENSIONS, NetworkConfigList, parse_config, scan
from kubert_cni.errors import CNIConfigError, CNIPluginError
from kubert_cni.invoke import find_plugin
from kubert_cni.loopback import loopback_up
from kubert_cni.podargs import capability_args, cni_args
from kubert_cni.result import pod_network_status
from kubert_cni.settings import CNISettings, parse_pod_cidrs

log = logging.getLogger(__name__)

#: The interface name inside the pod, as the kubelet names it.
POD_IFNAME = "eth0"
NOT_READY_REASON = "NetworkPluginNotReady"


class CNINetwork(NetworkBackend):
    """Network backend over CNI plugin binaries and the config in ``--cni-conf-dir``."""

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.settings = CNISettings.from_context(context, self.name or "cni")
        self.cache = ResultCache(self.settings.cache_dir)
        self.pod_cidrs = self.settings.pod_cidrs
        self._locks = LockTable()
        self._state_lock = threading.Lock()
        self._scan_key: tuple[Any, ...] | None = None
        self._network: NetworkConfigList | None = None
        self._problem = "the network config has not been loaded yet"
        # The hot path of PodSandboxStatus: IPs by sandbox, filled on ADD or first cache read.
        self._statuses: dict[str, PodSandboxNetworkStatus] = {}
        # Bumped by every teardown: a status read from the cache while one ran is not memoized,
        # so a teardown racing a PodSandboxStatus cannot leave stale IPs in memory.
        self._teardowns = 0

    # ---- the network in use ---------------------------------------------------------------

    def current_network(self) -> NetworkConfigList | None:
        """The network new pods join; rescans the config dir when it has changed."""
        network, _problem = self._load()
        return network

    def _load(self) -> tuple[NetworkConfigList | None, str]:
        """The network and, when there is none, why; cheap when nothing changed."""
        conf_dir = self.settings.conf_dir
        key = _dir_key(conf_dir)
        with self._state_lock:
            if key != self._scan_key:
                found = scan(conf_dir)
                for skipped in found.skipped:
                    log.warning("skipping CNI config %s: %s", skipped.path, skipped.reason)
                if found.network is not None and found.network != self._network:
                    log.info("using CNI network %r (cniVersion %s) from %s", found.network.name,
                             found.network.cni_version, found.network.source)
                self._network, self._problem = found.network, found.problem()
                self._scan_key = key
            return self._network, self._problem

    def chain(self, network: NetworkConfigList) -> Chain:
        return Chain(network=network, bin_dirs=self.settings.bin_dirs,
                     timeout=self.settings.plugin_timeout)

    # ---- NetworkBackend -------------------------------------------------------------------

    def status(self) -> RuntimeCondition:
        """NetworkReady: a config is loaded, its plugins exist, and (1.1.0) STATUS succeeds."""
        network, problem = self._load()
        if network is None:
            return RuntimeCondition.not_ready(
                NETWORK_READY, NOT_READY_REASON, f"cni config uninitialized: {problem}"
            )
        bin_dirs = self.settings.bin_dirs
        missing = [t for t in network.plugin_types if find_plugin(t, bin_dirs) is None]
        if missing:
            dirs = ", ".join(str(d) for d in self.settings.bin_dirs)
            return RuntimeCondition.not_ready(
                NETWORK_READY, NOT_READY_REASON,
                f"network {network.name!r} needs CNI plugin(s) {', '.join(missing)}, "
                f"not found in {dirs}",
            )
        try:
            self.chain(network).status()
        except (CNIPluginError, DeadlineExceededError) as exc:
            return RuntimeCondition.not_ready(NETWORK_READY, NOT_READY_REASON, str(exc))
        return RuntimeCondition.ready(NETWORK_READY)

    def setup_pod(self, pod: PodNetwork) -> PodSandboxNetworkStatus:
        """ADD the sandbox to the network; on any failure DEL what was done and re-raise."""
        if pod.host_network:
            return PodSandboxNetworkStatus()
        if not pod.netns_path:
            raise InvalidArgumentError(
                "netns_path", pod.netns_path, "a sandbox on a CNI network needs its netns path"
            )
        network, problem = self._load()
        if network is None:
            raise UnavailableError(self.name or "cni", f"cni config uninitialized: {problem}")
        # Checked before anything is created, so a bad annotation leaves nothing behind.
        caps = capability_args(pod, self.pod_cidrs, pod.dns_config)
        attachment = Attachment(
            container_id=pod.sandbox_id, netns=pod.netns_path, ifname=POD_IFNAME,
            args=cni_args(pod), capability_args=caps,
        )
        with self._locks.hold(pod.sandbox_id):
            cached = self.cache.read(network.name, pod.sandbox_id, POD_IFNAME)
            if cached is not None and cached.result is not None:
                return self._remember(pod.sandbox_id, cached)
            if cached is not None:
                # An ADD cut short (kubert crashed mid-ADD): clear what it left, then start over.
                self._delete_entry(cached, pod.netns_path)
            loopback_up(pod.netns_path, pod.sandbox_id, self.settings.bin_dirs,
                        self.settings.plugin_timeout,
                        internal=self.settings.internal_loopback)
            entry = CacheEntry(
                network=network.name, container_id=pod.sandbox_id, ifname=POD_IFNAME,
                netns=pod.netns_path, config=network.to_bytes(), cni_args=attachment.args,
                capability_args=caps,
            )
            # Written before ADD: a crash mid-ADD leaves an entry that GC can find.
            self.cache.write(entry)
            chain = self.chain(network)
            try:
                result = chain.add(attachment)
            except BaseException as exc:
                self._undo_add(chain, attachment, exc)
                raise
            entry = evolve(entry, result=result)
            self.cache.write(entry)
            return self._remember(pod.sandbox_id, entry)

    def _undo_add(self, chain: Chain, attachment: Attachment, cause: BaseException) -> None:
        try:
            chain.delete(attachment, None)
        except Exception as exc:  # the ADD failure is what the caller must see
            log.error("CNI DEL after failed ADD of sandbox %s failed too (kept its cache entry "
                      "for garbage collection): %s; ADD failed with: %s",
                      attachment.container_id, exc, cause)
            return
        self.cache.delete(chain.network.name, attachment.container_id, attachment.ifname)

    def teardown_pod(self, pod: PodNetwork) -> None:
        """DEL every attachment of the sandbox, from the cache when there is one.

        Idempotent. Without a cache entry the current network's chain still runs DEL, so that
        IPAM releases the sandbox's lease; a gone netns is fine.
        """
        if pod.host_network:
            return
        with self._locks.hold(pod.sandbox_id):
            try:
                self._teardown(pod)
            finally:
                self._forget(pod.sandbox_id)

    def _teardown(self, pod: PodNetwork) -> None:
        entries = self.cache.for_container(pod.sandbox_id, POD_IFNAME)
        if entries:
            for entry in entries:
                self._delete_entry(entry, pod.netns_path)
            return
        network = self.current_network()
        if network is None:
            return
        try:
            caps = capability_args(pod, self.pod_cidrs, pod.dns_config)
        except InvalidArgumentError:
            # A bad annotation refused ADD; it must not also keep DEL from releasing.
            caps = capability_args(evolve(pod, annotations={}), self.pod_cidrs)
        self.chain(network).delete(
            Attachment(container_id=pod.sandbox_id, netns=pod.netns_path,
                       ifname=POD_IFNAME, args=cni_args(pod), capability_args=caps),
            None,
        )

    def _forget(self, sandbox_id: str) -> None:
        with self._state_lock:
            self._statuses.pop(sandbox_id, None)
            self._teardowns += 1

    def _delete_entry(self, entry: CacheEntry, netns: str) -> None:
        """DEL one cached attachment with the config it was made with, then forget it."""
        network = self._entry_network(entry)
        if network is not None:
            attachment = Attachment(
                container_id=entry.container_id, netns=netns or entry.netns,
                ifname=entry.ifname, args=entry.cni_args, capability_args=entry.capability_args,
            )
            self.chain(network).delete(attachment, entry.result)
        self.cache.delete(entry.network, entry.container_id, entry.ifname)

    def _entry_network(self, entry: CacheEntry) -> NetworkConfigList | None:
        if entry.config:
            try:
                return parse_config(entry.config, str(self.cache.path(
                    entry.network, entry.container_id, entry.ifname)), single=False)
            except CNIConfigError as exc:
                log.warning("%s; falling back to the current network config", exc)
        current = self.current_network()
        if current is not None and current.name == entry.network:
            return current
        log.warning("no config for network %r of cached attachment %s/%s; forgetting it",
                    entry.network, entry.container_id, entry.ifname)
        return None

    def pod_network_status(self, pod: PodNetwork) -> PodSandboxNetworkStatus | None:
        """The sandbox's IPs from memory, else from the result cache (also after a restart)."""
        if pod.host_network:
            return None
        with self._state_lock:
            known = self._statuses.get(pod.sandbox_id)
            teardowns = self._teardowns
        if known is not None:
            return known
        current = self.current_network()
        entries = [e for e in self.cache.for_container(pod.sandbox_id, POD_IFNAME) if e.result]
        if not entries:
            return None
        entries.sort(key=lambda e: current is None or e.network != current.name)
        return self._remember(pod.sandbox_id, entries[0], teardowns)

    def _remember(
        self, sandbox_id: str, entry: CacheEntry, teardowns: int | None = None
    ) -> PodSandboxNetworkStatus:
        """The entry's IPs, memoized unless a teardown ran since ``teardowns`` was read."""
        assert entry.result is not None
        status = pod_network_status(entry.result, entry.netns)
        with self._state_lock:
            if teardowns is None or teardowns == self._teardowns:
                self._statuses[sandbox_id] = status
        return status

    def check_pod(self, pod: PodNetwork) -> bool:
        """CHECK the sandbox's attachment to the current network.

        :returns: False when the spec version or ``disableCheck`` rules CHECK out.
        :raises NotFoundError: the sandbox has no cached attachment to the current network.
        :raises CNIPluginError: a plugin found the attachment broken.
        """
        network = self.current_network()
        with self._locks.hold(pod.sandbox_id):
            entry = (
                self.cache.read(network.name, pod.sandbox_id, POD_IFNAME) if network else None
            )
            if network is None or entry is None or entry.result is None:
                raise NotFoundError("CNI attachment", pod.sandbox_id,
                                    "no cached result for the current network")
            attachment = Attachment(
                container_id=pod.sandbox_id, netns=pod.netns_path or entry.netns,
                ifname=POD_IFNAME, args=entry.cni_args, capability_args=entry.capability_args,
            )
            return self.chain(network).check(attachment, entry.result)

    def garbage_collect(self, live_sandbox_ids: set[str]) -> None:
        """DEL every cached attachment no live sandbox owns, then GC (spec 1.1.0) the rest."""
        for entry in self.cache.entries():
            if entry.container_id in live_sandbox_ids:
                continue
            with self._locks.hold(entry.container_id):
                try:
                    self._delete_entry(entry, "")
                except (CNIPluginError, DeadlineExceededError) as exc:
                    log.warning("garbage collection of CNI attachment %s/%s failed: %s",
                                entry.container_id, entry.ifname, exc)
                finally:
                    self._forget(entry.container_id)
        network = self.current_network()
        if network is None:
            return
        try:
            self.chain(network).gc([(sid, POD_IFNAME) for sid in sorted(live_sandbox_ids)])
        except (CNIPluginError, DeadlineExceededError) as exc:
            log.warning("CNI GC of network %r failed: %s", network.name, exc)

    def update_pod_cidr(self, pod_cidr: str) -> None:
        """The node's pod CIDR(s): passed to plugins declaring the ``ipRanges`` capability."""
        self.pod_cidrs = parse_pod_cidrs(pod_cidr, "pod_cidr")


def _dir_key(conf_dir: os.PathLike[str]) -> tuple[Any, ...]:
    """What changes when a config file is added, removed or rewritten."""
    entries: list[tuple[Any, ...]] = []
    try:
        with os.scandir(conf_dir) as it:
            for e in it:
                if os.path.splitext(e.name)[1] not in CONFIG_EXTENSIONS:
                    continue
                try:
                    st = e.stat()
                except OSError:
                    entries.append((e.name, "unreadable"))
                    continue
                entries.append((e.name, st.st_mtime_ns, st.st_size, st.st_ino))
    except FileNotFoundError:
        return ("missing",)
    except OSError as exc:
        return ("error", str(exc))
    return tuple(sorted(entries, key=repr))



