"""The state view: every CRI object of the engine, kept current by its event stream.

Lists and statuses are answered from here, so a kubelet relist costs what building the answer
costs, not an engine round trip per container (cri-dockerd's most reported load problem). The
view subscribes to the engine's events first and then reads the whole engine, so nothing falls
between the two; it reads everything again every ``resync_period`` seconds and whenever the
engine comes back. Writers (create, start, stop …) refresh the objects they touched at once, and
an event older than the last refresh of its object costs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kubert import NotFoundError, UnavailableError
from kubert_docker import naming
from kubert_docker.engine import BACKEND, Engine, translate
from kubert_docker.status import Record, build_record

log = logging.getLogger(__name__)

#: Engine actions that change what the CRI reports about a container.
REFRESH_ACTIONS = frozenset(
    {"create", "start", "die", "destroy", "oom", "update", "rename", "pause", "unpause",
     "restart"}
)
IMAGE_ACTIONS = frozenset({"pull", "tag", "untag", "delete", "import", "load"})
_RECONNECT_DELAY = 0.5
_TOMBSTONE_TTL_NS = 600 * 1_000_000_000

EventCallback = Callable[[str, str, "Record | None", int], None]


class StateView:
    """Records of the engine's CRI objects by ID.

    :param engine: the engine connection.
    :param image_ref: image ID -> the reference reported as ``image_ref``.
    :param on_event: called as ``(action, id, record or None, time_ns)`` for create, start,
        die and destroy of CRI objects, after the view reflects them.
    :param before_exit: called with a container ID when the engine reports it died, before
        the view says so (the log follower drains there).
    :param on_images_changed: called when the engine's images change.
    :param on_synced: called after each (re)connection's full read, before events flow.
    """

    def __init__(
        self,
        engine: Engine,
        image_ref: Callable[[str], str],
        on_event: EventCallback,
        before_exit: Callable[[str], None],
        on_images_changed: Callable[[], None],
        on_synced: Callable[[], None],
        resync_period: float = 60.0,
    ) -> None:
        self.engine = engine
        self.image_ref = image_ref
        self.on_event = on_event
        self.before_exit = before_exit
        self.on_images_changed = on_images_changed
        self.on_synced = on_synced
        self.resync_period = resync_period
        self.records: dict[str, Record] = {}
        self._tombstones: dict[str, int] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._synced = threading.Event()
        self.healthy = False
        self.last_error = "not connected yet"
        self._stream: Any = None
        self._threads: list[threading.Thread] = []

    # ---- life cycle --------------------------------------------------------------------

    def start(self, wait: float = 5.0) -> None:
        """Start following the engine; wait up to ``wait`` s for the first full read."""
        for target, name in ((self._follow, "events"), (self._resync_loop, "resync")):
            thread = threading.Thread(target=target, name=f"kubert-docker-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._synced.wait(wait)

    def close(self) -> None:
        self._closed.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # closing a dead stream may raise anything; we are leaving anyway
                log.debug("closing the event stream failed", exc_info=True)
        for thread in self._threads:
            thread.join(timeout=5)

    def mark_down(self, reason: str) -> None:
        if self.healthy:
            log.warning("docker engine lost: %s", reason)
        self.healthy = False
        self.last_error = reason

    def check(self) -> None:
        """Raise UnavailableError while the engine is unreachable (reads must not go stale)."""
        if not self.healthy:
            raise UnavailableError(BACKEND, self.last_error)

    # ---- reading -----------------------------------------------------------------------

    def get(self, ident: str, kind: str) -> Record:
        """The record of ``ident`` (a full ID or unique prefix) of ``kind``; NotFound otherwise."""
        self.check()
        what = "sandbox" if kind == naming.TYPE_SANDBOX else "container"
        record = self.records.get(ident)
        if record is None and ident:
            matches = [r for key, r in list(self.records.items()) if key.startswith(ident)]
            if len(matches) == 1:
                record = matches[0]
            elif len(matches) > 1:
                raise NotFoundError(what, ident, "the prefix is ambiguous")
        if record is None or record.kind != kind:
            raise NotFoundError(what, ident)
        return record

    def all(self, kind: str) -> list[Record]:
        self.check()
        return [r for r in list(self.records.values()) if r.kind == kind]

    def in_sandbox(self, sandbox_id: str) -> list[Record]:
        return [
            r for r in list(self.records.values())
            if r.kind == naming.TYPE_CONTAINER and r.sandbox_id == sandbox_id
        ]

    # ---- writing -----------------------------------------------------------------------

    def refresh(self, cid: str) -> Record | None:
        """Inspect ``cid`` now and store what the engine says; None when it is gone."""
        started = time.time_ns()
        try:
            with translate("container", cid):
                inspect = self.engine.api().inspect_container(cid)
        except NotFoundError:
            self.forget(cid, started)
            return None
        return self._store(inspect, started)

    def forget(self, cid: str, at_ns: int | None = None) -> None:
        with self._lock:
            self.records.pop(cid, None)
            self._tombstones[cid] = at_ns or time.time_ns()

    def _store(self, inspect: dict[str, Any], started: int) -> Record | None:
        meta = naming.meta_from_engine(
            inspect.get("Name", ""), (inspect.get("Config") or {}).get("Labels")
        )
        if meta is None:
            return None
        record = build_record(inspect, meta, started, self.image_ref)
        with self._lock:
            gone_at = self._tombstones.get(record.id)
            if gone_at is not None and gone_at >= started:
                return None
            current = self.records.get(record.id)
            if current is not None and current.refreshed_ns > started:
                return current
            self.records[record.id] = record
        return record

    def full_sync(self) -> None:
        """Read every CRI object from the engine; inspect only what changed."""
        api = self.engine.api()
        started = time.time_ns()
        with translate("containers", "*"):
            listed = api.containers(all=True, filters={"label": naming.TYPE_LABEL})
        seen = set()
        for item in listed:
            cid = item["Id"]
            seen.add(cid)
            current = self.records.get(cid)
            if current is None or current.docker_state != item.get("State"):
                self.refresh(cid)
        with self._lock:
            for cid in [c for c, r in self.records.items() if r.refreshed_ns < started]:
                if cid not in seen:
                    self.records.pop(cid, None)
            horizon = started - _TOMBSTONE_TTL_NS
            self._tombstones = {c: t for c, t in self._tombstones.items() if t > horizon}

    # ---- following the engine ----------------------------------------------------------

    def _follow(self) -> None:
        while not self._closed.is_set():
            try:
                client = self.engine.new_client(timeout=None)
                try:
                    with translate("events", "*"):
                        self._stream = client.events(
                            decode=True, filters={"type": ["container", "image"]}
                        )
                        self.full_sync()
                    self.healthy = True
                    self.last_error = ""
                    self.on_synced()
                    self._synced.set()
                    for event in self._stream:
                        if self._closed.is_set():
                            break
                        self._handle(event)
                finally:
                    client.close()
                if not self._closed.is_set():
                    self.mark_down("the engine closed its event stream")
            except Exception as exc:  # any failure means: reconnect and re-read everything
                if not self._closed.is_set():
                    self.mark_down(str(exc))
                    log.debug("event stream failed", exc_info=True)
            self._synced.set()
            self._closed.wait(_RECONNECT_DELAY)

    def _resync_loop(self) -> None:
        while not self._closed.wait(self.resync_period):
            if not self.healthy:
                continue
            try:
                self.full_sync()
            except Exception as exc:  # the event loop notices a lost engine too
                log.debug("periodic resync failed: %s", exc)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("Type")
        action = str(event.get("Action", "")).split(":", 1)[0]
        if kind == "image":
            if action in IMAGE_ACTIONS:
                self.on_images_changed()
            return
        actor = event.get("Actor") or {}
        cid = actor.get("ID", "")
        attributes = actor.get("Attributes") or {}
        if action not in REFRESH_ACTIONS or naming.TYPE_LABEL not in attributes:
            return
        when = int(event.get("timeNano") or time.time_ns())
        record: Record | None
        if action == "destroy":
            existing = self.records.get(cid)
            self.forget(cid, when)
            self.on_event(action, cid, existing, when)
            return
        if action == "die":
            self.before_exit(cid)
        current = self.records.get(cid)
        if current is not None and current.refreshed_ns > when:
            record = current
        else:
            record = self.refresh(cid)
        if action in ("create", "start", "die"):
            self.on_event(action, cid, record, when)
