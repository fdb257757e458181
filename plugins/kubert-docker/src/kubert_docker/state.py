"""The state view: every CRI object of the engine, kept current by its event stream.

Lists and statuses are answered from here, so a kubelet relist costs what building the answer
costs, not an engine round trip per container (cri-dockerd's most reported load problem). The
view subscribes to the engine's events first and then reads the whole engine, so nothing falls
between the two; it reads everything again every ``resync_period`` seconds and whenever the
engine comes back.

Engine requests are spent only on what the events cannot tell. A writer (create, start …)
marks its call in flight (:meth:`StateView.creating`, :meth:`StateView.writing`) and inspects
the object once afterwards; the events its own call causes are not inspected a second time,
and an event older than the last refresh of its object costs nothing. An exit (``die``) of a
container seen running is taken from the event itself (its exit code and time), so a stop
costs the stop request alone: the writer waits for the event (:meth:`StateView.wait_exited`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kubert import NotFoundError, UnavailableError
from kubert_docker import naming
from kubert_docker.engine import BACKEND, Engine, translate
from kubert_docker.status import Record, build_record, format_time, provisional_inspect

log = logging.getLogger(__name__)

#: Engine actions that change what the CRI reports about a container.
REFRESH_ACTIONS = frozenset(
    {"create", "start", "die", "destroy", "oom", "update", "rename", "pause", "unpause",
     "restart"}
)
IMAGE_ACTIONS = frozenset({"pull", "tag", "untag", "delete", "import", "load"})
_RECONNECT_DELAY = 0.5
#: How long a stopping writer waits for the engine's ``die`` event before inspecting instead.
_EXIT_EVENT_WAIT = 2.0
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
        #: Notified whenever a record is stored or forgotten (writers wait for exits on it).
        self._changed = threading.Condition(self._lock)
        #: Containers whose writer's engine call and refresh are in flight (by ID) …
        self._writing: dict[str, int] = {}
        #: … and containers being created (by name: the ID is not known before the reply).
        self._creating: dict[str, int] = {}
        #: Containers the engine reported OOM-killed whose exit has not been seen yet.
        self._oom: set[str] = set()
        self._following = False
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
        self._set_following(False)
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
        self._set_following(False)

    def _set_following(self, following: bool) -> None:
        """Tell the endpoint's shared image cache whether events keep it current."""
        with self._lock:
            changed = following != self._following
            self._following = following
        if changed:
            self.engine.facts.following(following)

    def check(self) -> None:
        """Raise UnavailableError while the engine is unreachable (reads must not go stale)."""
        if not self.healthy:
            raise UnavailableError(BACKEND, self.last_error)

    # ---- reading -----------------------------------------------------------------------

    def get(self, ident: str, kind: str, complete: bool = True) -> Record:
        """The record of ``ident`` (a full ID or unique prefix) of ``kind``; NotFound otherwise.

        :param complete: inspect a provisional record first (see :meth:`provisional`); a
            writer that only needs what it wrote itself passes False.
        """
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
        if complete:
            completed = self._complete(record)
            if completed is None:
                raise NotFoundError(what, ident)
            record = completed
        return record

    def lookup(self, cid: str) -> Record | None:
        """The (completed) record of the full ID ``cid``, None when the view has none."""
        record = self.records.get(cid)
        return None if record is None else self._complete(record)

    def all(self, kind: str) -> list[Record]:
        self.check()
        return self._completed(r for r in list(self.records.values()) if r.kind == kind)

    def in_sandbox(self, sandbox_id: str, complete: bool = True) -> list[Record]:
        members = [
            r for r in list(self.records.values())
            if r.kind == naming.TYPE_CONTAINER and r.sandbox_id == sandbox_id
        ]
        return self._completed(members) if complete else members

    def _completed(self, records: Iterable[Record]) -> list[Record]:
        answer = []
        for record in records:
            completed = self._complete(record)
            if completed is not None:
                answer.append(completed)
        return answer

    def _complete(self, record: Record) -> Record | None:
        """``record``, inspected first when it is provisional: what the CRI reports of an
        object must come from the engine (its times never change once reported)."""
        if record.refreshed_ns:
            return record
        # Needed only when a reader comes between a create and its writer's inspect (the
        # kubelet's create-then-start does not): the engine's times and image ID.
        return self.refresh(record.id)

    # ---- writing -----------------------------------------------------------------------

    def writing(self, cid: str) -> contextlib.AbstractContextManager[None]:
        """Around a writer's engine call on ``cid`` and its refresh after: the create, start
        and update events that call causes are not inspected by the event loop as well."""
        return self._in_flight(self._writing, cid)

    def creating(self, name: str) -> contextlib.AbstractContextManager[None]:
        """Around the create of container ``name`` and what the writer records after it."""
        return self._in_flight(self._creating, name)

    @contextlib.contextmanager
    def _in_flight(self, counts: dict[str, int], key: str) -> Iterator[None]:
        with self._lock:
            counts[key] = counts.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = counts.get(key, 1) - 1
                if left > 0:
                    counts[key] = left
                else:
                    counts.pop(key, None)

    def provisional(self, cid: str, name: str, body: dict[str, Any]) -> Record | None:
        """Record a container just created from ``body`` without asking the engine: its one
        inspect follows its start (in the same RunPodSandbox for a sandbox; StartContainer
        after CreateContainer for a container). Its ``refreshed_ns`` is 0: every read
        (:meth:`get`, :meth:`all`, :meth:`in_sandbox`, :meth:`lookup`) inspects it first,
        so nothing this process made up is ever reported, anything the engine says replaces
        it, and a full sync inspects it."""
        return self._store(provisional_inspect(cid, name, body, time.time_ns()), 0)

    def wait_exited(self, cid: str, timeout: float = _EXIT_EVENT_WAIT) -> Record | None:
        """After a stop: the record once the view has ``cid`` not running, from its ``die``
        event; inspected instead when the events are down or the event does not come."""
        if self.healthy:
            deadline = time.monotonic() + timeout
            with self._changed:
                while True:
                    record = self.records.get(cid)
                    if record is None or not record.running:
                        return record
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._changed.wait(remaining)
        # Needed only without the event: what the engine says about the stopped container.
        return self.refresh(cid)

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
            self._oom.discard(cid)
            self._tombstones[cid] = at_ns or time.time_ns()
            self._changed.notify_all()

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
            self._changed.notify_all()
        return record

    def _exited(self, current: Record, exit_code: int, when: int) -> Record | None:
        """``current`` (seen running) as the engine's ``die`` event at ``when`` describes it."""
        inspect = dict(current.inspect)
        state = dict(inspect.get("State") or {})
        with self._lock:
            oom = current.id in self._oom
            self._oom.discard(current.id)
        state.update(
            Status="exited", Running=False, Paused=False, Restarting=False, Pid=0,
            ExitCode=exit_code, OOMKilled=oom or bool(state.get("OOMKilled")),
            FinishedAt=format_time(when),
        )
        inspect["State"] = state
        return self._store(inspect, when)

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
            if (
                current is None or current.docker_state != item.get("State")
                or current.refreshed_ns == 0
            ):
                self.refresh(cid)
        with self._lock:
            for cid in [c for c, r in self.records.items() if r.refreshed_ns < started]:
                if cid not in seen:
                    self.records.pop(cid, None)
            horizon = started - _TOMBSTONE_TTL_NS
            self._tombstones = {c: t for c, t in self._tombstones.items() if t > horizon}

    # ---- following the engine ----------------------------------------------------------

    def _follow(self) -> None:
        connections = 0
        while not self._closed.is_set():
            try:
                if connections:
                    # The engine may have been replaced (upgraded) while it was away.
                    self.engine.forget_version()
                connections += 1
                stream = None
                try:
                    with translate("events", "*"):
                        stream = self._stream = self.engine.api().events(
                            filters={"type": ["container", "image"]}
                        )
                        self.full_sync()
                    self.healthy = True
                    self.last_error = ""
                    self._set_following(True)
                    self.on_synced()
                    self._synced.set()
                    for event in stream:
                        if self._closed.is_set():
                            break
                        self._handle(event)
                finally:
                    if stream is not None:
                        stream.close()
                if not self._closed.is_set():
                    self.mark_down("the engine closed its event stream")
            except Exception as exc:  # any failure means: reconnect and re-read everything
                if not self._closed.is_set():
                    # check() says "docker is unavailable: <reason>"; the reason once.
                    self.mark_down(exc.detail if isinstance(exc, UnavailableError) else str(exc))
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
                self.engine.facts.images_changed()
                self.on_images_changed()
            return
        actor = event.get("Actor") or {}
        cid = actor.get("ID", "")
        attributes = actor.get("Attributes") or {}
        if naming.TYPE_LABEL not in attributes:
            return
        if action == "oom":
            with self._lock:
                self._oom.add(cid)
            return
        if action not in REFRESH_ACTIONS:
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
        elif action == "die" and current is not None and current.running and (
            str(attributes.get("exitCode", "")).lstrip("-").isdigit()
        ):
            # The event says all an exit changes: no inspect.
            record = self._exited(current, int(attributes["exitCode"]), when)
        elif action != "die" and self._written(cid, action, attributes):
            record = current  # its writer inspects it after its call
        else:
            # Needed: a change no writer of this process made (or an exit of a container
            # not seen running), which only the engine can describe.
            record = self.refresh(cid)
        if action in ("create", "start", "die"):
            self.on_event(action, cid, record, when)

    def _written(self, cid: str, action: str, attributes: dict[str, Any]) -> bool:
        """Whether a writer of this process is making (or has made) the change of this event."""
        with self._lock:
            if cid in self._writing:
                return True
            if action == "create":
                known = cid in self.records
                return known or str(attributes.get("name", "")).lstrip("/") in self._creating
        return False
