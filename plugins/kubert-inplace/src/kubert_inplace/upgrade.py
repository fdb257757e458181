"""Carry out one pod's in-place upgrade: pre-pull, then per container stop, start, verify,
and roll back on failure; every step is written to the upgrade record before the next begins.

Nothing is stopped until every new image is present. Containers go in the plan's order, at
most ``max_unavailable`` at a time; after a batch with a failure no further container is
touched, and the failed one goes back to its previous image (unless rollback is off).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
from attrs import define, field

from kubert import KubertError
from kubert.kubelet import (
    SPEC_CHANGED,
    ContainerKill,
    ContainerRuntimeStatus,
    ContainerStart,
    ImagePullError,
    PodSyncContext,
    StartError,
    StepResult,
    sandbox_config,
)
from kubert_inplace.faults import crash_point
from kubert_inplace.plan import IMAGE, Plan, Target, running_image
from kubert_inplace.record import (
    FAILED,
    FINAL_PHASES,
    PULL_FAILED,
    PULLED,
    ROLLED_BACK,
    ROLLING_BACK,
    SKIPPED,
    STARTING,
    STOPPING,
    SUCCEEDED,
    UPGRADED,
    VERIFYING,
    ContainerProgress,
    RecordStore,
    UpgradeRecord,
    now,
)
from kubert_inplace.settings import Settings
from kubert_inplace.verify import verify_started

ACTION = "InPlaceUpgrade"


@define
class Upgrader:
    """One pod's upgrade in one sync (see the module docstring)."""

    context: PodSyncContext
    plan: Plan
    settings: Settings
    store: RecordStore
    attempt: int
    record: UpgradeRecord = field(init=False)
    _lock: threading.Lock = field(init=False, factory=threading.Lock)

    def run(self) -> list[StepResult]:
        """Upgrade the plan's targets. :returns: one step per container (errors included)."""
        self.record = self._open_record()
        self.store.save(self.record)
        crash_point("after-record")
        progress = self.context.progress
        changes = ", ".join(
            f"{t.name} {t.old_image} -> {t.new_image}" if t.reason == IMAGE
            else f"{t.name} (fieldRef values changed)"
            for t in self.plan.targets
        )
        verb = "Resuming interrupted" if self.plan.resumed else "Starting"
        progress(
            f"{verb} in-place upgrade #{self.record.sequence} (revision {self.plan.revision}): "
            f"{changes}"
        )
        failed_pulls = self._pre_pull()
        if failed_pulls:
            return self._pull_failed(failed_pulls)
        crash_point("after-pull")
        ok = True
        size = self.settings.max_unavailable
        targets = list(self.plan.targets)
        for index in range(0, len(targets), size):
            batch = targets[index : index + size]
            if not ok:
                for target in batch:
                    self._update(target.name, phase=SKIPPED,
                                 message="not upgraded: an earlier container's upgrade failed")
                continue
            if len(batch) == 1:
                results = [self._one(batch[0])]
            else:
                with ThreadPoolExecutor(max_workers=len(batch)) as pool:
                    results = list(pool.map(self._one, batch))
            ok = all(results)
        return self._finish()

    # ---- record ---------------------------------------------------------------------------

    def _open_record(self) -> UpgradeRecord:
        pod = self.context.pod
        previous = self.store.load(pod.uid)
        if self.plan.resumed and previous is not None and previous.in_progress:
            record = previous
            record.revision = self.plan.revision
        else:
            record = UpgradeRecord(
                uid=pod.uid,
                sandbox_id=self.plan.sandbox_id,
                revision=self.plan.revision,
                sequence=(previous.sequence + 1) if previous is not None else 1,
                started_at=now(),
            )
        for target in self.plan.targets:
            entry = record.containers.get(target.name)
            if entry is None or entry.phase in FINAL_PHASES:
                record.containers[target.name] = ContainerProgress(
                    name=target.name, kind=target.kind, reason=target.reason,
                    old_image=target.old_image, new_image=target.new_image,
                    old_id=target.current.id if target.current is not None else "",
                    old_image_ref=(
                        target.current.status.image_ref if target.current is not None else ""
                    ),
                )
            else:
                entry.new_image = target.new_image
        return record

    def _update(self, name: str, **changes: Any) -> ContainerProgress:
        with self._lock:
            entry = self.record.containers[name]
            for key, value in changes.items():
                setattr(entry, key, value)
            self.store.save(self.record)
            return entry

    def _finish(self) -> list[StepResult]:
        entries = [self.record.containers[t.name] for t in self.plan.targets]
        failures = [e for e in entries if e.phase in (ROLLED_BACK, FAILED)]
        with self._lock:
            if any(e.phase == FAILED for e in failures):
                self.record.result = FAILED
            elif failures:
                self.record.result = ROLLED_BACK
            else:
                self.record.result = SUCCEEDED
            self.record.message = "; ".join(f"{e.name}: {e.message}" for e in failures)
            self.record.finished_at = now()
            self.store.save(self.record)
        self.context.progress(
            f"In-place upgrade #{self.record.sequence} {self.record.result}"
            + (f": {self.record.message}" if self.record.message else "")
        )
        steps = []
        for entry in entries:
            error = {UPGRADED: "", ROLLED_BACK: "InPlaceUpgradeRolledBack",
                     SKIPPED: "InPlaceUpgradeSkipped"}.get(entry.phase, "InPlaceUpgradeFailed")
            steps.append(StepResult(action=ACTION, target=entry.name, error=error,
                                    message=entry.message or entry.new_id))
        return steps

    # ---- pre-pull -------------------------------------------------------------------------

    def _sandbox_config(self) -> Any:
        return sandbox_config(
            self.context.manager.config, self.context.pod, self.attempt, self.context.source
        )

    def _pre_pull(self) -> dict[str, tuple[str, str]]:
        """Make every new image present. :returns: the failures, by container name."""
        failures: dict[str, tuple[str, str]] = {}
        config = self._sandbox_config()
        for target in self.plan.targets:
            if target.rollback:
                continue
            try:
                self.context.manager.images.ensure_image(
                    self.context.pod, target.spec, config, self.context.progress
                )
            except ImagePullError as exc:
                failures[target.name] = (exc.reason, exc.message)
                continue
            except KubertError as exc:
                failures[target.name] = ("ErrImagePull", exc.message)
                continue
            self._update(target.name, phase=PULLED)
        return failures

    def _pull_failed(self, failures: dict[str, tuple[str, str]]) -> list[StepResult]:
        """Nothing was stopped by this sync; a container an interrupted upgrade had stopped
        goes back to its previous image rather than stay down."""
        steps = []
        for target in self.plan.targets:
            if target.current is None and target.name in failures:
                self._rollback(target, None, "the new image could not be pulled")
                continue
            if target.name not in failures:
                self._update(target.name, phase=SKIPPED,
                             message="not upgraded: another image could not be pulled")
        with self._lock:
            for name, (_, message) in failures.items():
                entry = self.record.containers[name]
                if entry.phase not in FINAL_PHASES:
                    entry.phase = SKIPPED
                entry.message = message
            self.record.result = PULL_FAILED
            self.record.message = "; ".join(m for _, m in failures.values())
            self.record.finished_at = now()
            self.store.save(self.record)
        for name, (reason, message) in failures.items():
            steps.append(StepResult(action=ACTION, target=name, error=reason, message=message))
        self.context.progress(
            f"In-place upgrade #{self.record.sequence} not started, no container was stopped: "
            f"{self.record.message}"
        )
        return steps

    # ---- one container --------------------------------------------------------------------

    def _one(self, target: Target) -> bool:
        """Upgrade one container. :returns: whether it runs the new image now."""
        entry = self.record.containers[target.name]
        if target.rollback:
            self._rollback(target, target.current, entry.message or "interrupted rollback")
            return False
        progress = self.context.progress
        if target.current is not None and target.current_is_new:
            new_id = target.current.id
        else:
            if target.current is not None:
                self._update(target.name, phase=STOPPING, old_id=target.current.id,
                             stop_started=now())
                refused = self._stop(target.current, target)
                if refused:
                    self._update(target.name, phase=FAILED, message=refused)
                    return False
                crash_point("after-stop", target.name)
            elif not entry.stop_started:
                self._update(target.name, stop_started=now())
            self._update(target.name, phase=STARTING)
            try:
                new_id = self._start(target, target.spec)
            except KubertError as exc:
                return self._failed(target, "", _start_error(exc))
            self._update(target.name, phase=VERIFYING, new_id=new_id,
                         downtime=round(now() - entry.stop_started, 3))
            crash_point("after-start", target.name)
        progress(f"Started container {target.name} ({new_id[:13]}) with image "
                 f"{target.new_image}; verifying")
        why = verify_started(
            self.context.runtime, new_id, target.spec,
            run_seconds=self.settings.verify_seconds,
            timeout_seconds=self.settings.timeout_seconds,
            pod_ip=(self.context.status.ips or ("",))[0],
        )
        if why:
            return self._failed(target, new_id, why)
        started = self._status(new_id)
        entry = self._update(
            target.name, phase=UPGRADED, new_id=new_id, message="",
            new_image_ref=started.status.image_ref if started is not None else "",
        )
        downtime = f"{entry.downtime:.3f}s" if entry.downtime is not None else "unknown"
        progress(f"Container {target.name} upgraded in place in sandbox "
                 f"{self.plan.sandbox_id[:13]} (downtime {downtime})")
        return True

    def _failed(self, target: Target, new_id: str, why: str) -> bool:
        can_roll_back = target.reason == IMAGE and target.old_image != target.new_image
        if self.settings.rollback and can_roll_back:
            self._rollback(target, self._status(new_id), why)
        else:
            self._update(target.name, phase=FAILED, message=why)
            self.context.progress(f"In-place upgrade of container {target.name} failed: {why}")
        return False

    def _rollback(
        self, target: Target, failed: ContainerRuntimeStatus | None, why: str
    ) -> None:
        """Stop the failed container and start one from the previous image again."""
        progress = self.context.progress
        self._update(target.name, phase=ROLLING_BACK, message=why)
        progress(f"Container {target.name} failed after its upgrade ({why}); rolling back to "
                 f"{target.old_image}")
        old_spec = attrs.evolve(target.spec, image=target.old_image)
        if failed is not None and failed.running:
            if running_image(failed) == target.old_image:
                self._update(target.name, phase=ROLLED_BACK, new_id="",
                             message=f"rolled back: {why}")
                return
            refused = self._stop(failed, target)
            if refused:
                self._update(target.name, phase=FAILED, message=f"{why}; rollback: {refused}")
                return
        crash_point("during-rollback", target.name)
        try:
            old_id = self._start(target, old_spec)
        except KubertError as exc:
            self._update(target.name, phase=FAILED,
                         message=f"{why}; rollback failed: {_start_error(exc)}")
            return
        again = verify_started(
            self.context.runtime, old_id, old_spec,
            run_seconds=min(self.settings.verify_seconds, 1.0),
            timeout_seconds=self.settings.timeout_seconds,
            pod_ip=(self.context.status.ips or ("",))[0],
        )
        if again:
            self._update(target.name, phase=FAILED, new_id=old_id,
                         message=f"{why}; the previous image failed too: {again}")
            return
        entry = self.record.containers[target.name]
        downtime = round(now() - entry.stop_started, 3) if entry.stop_started else None
        self._update(target.name, phase=ROLLED_BACK, new_id=old_id, downtime=downtime,
                     message=f"rolled back: {why}")
        progress(f"Container {target.name} rolled back to {target.old_image} ({old_id[:13]})")

    # ---- CRI steps ------------------------------------------------------------------------

    def _stop(self, container: ContainerRuntimeStatus, target: Target) -> str:
        """Stop ``container`` through the kill hook. :returns: "" or why it was not stopped."""
        manager, pod = self.context.manager, self.context.pod
        grace = self.settings.grace_period
        if grace is None:
            grace = manager.grace_period(pod, container, target.spec, SPEC_CHANGED)
        self.context.progress(
            f"Stopping container {container.name} ({container.id[:13]}) for its in-place "
            f"upgrade, grace {grace}s"
        )
        kill = ContainerKill(
            pod=pod, container=container, spec=target.spec, reason=SPEC_CHANGED,
            message=f"in-place upgrade to {target.new_image}", grace_period=grace,
            runtime=manager.runtime, manager=manager, progress=self.context.progress,
        )
        try:
            stopped = manager.pm.hook.kubert_kill_container(kill=kill)
        except KubertError as exc:
            return f"stopping {container.id[:13]} failed: {exc.message}"
        manager.probes.forget(container.id)
        return "a plugin kept the old container running" if stopped is False else ""

    def _start(self, target: Target, spec: Any) -> str:
        """Create and start ``spec`` in the sandbox through the start hook (attempt + 1)."""
        manager, pod = self.context.manager, self.context.pod
        newest = self._status_by_name(target.name)
        start = ContainerStart(
            pod=pod, spec=spec, kind=target.kind, sandbox_id=self.plan.sandbox_id,
            sandbox_config=self._sandbox_config(), pod_ips=self.context.status.ips,
            previous=newest, restart_count=newest.restart_count + 1 if newest else 0,
            reason=f"in-place upgrade to {spec.image}", runtime=manager.runtime,
            manager=manager, progress=self.context.progress,
        )
        container_id = manager.start_container(start)
        manager.waiting.pop((pod.uid, target.name), None)
        return container_id

    def _status(self, container_id: str) -> ContainerRuntimeStatus | None:
        if not container_id:
            return None
        for container in self.context.manager.observe(self.context.pod.uid).containers:
            if container.id == container_id:
                return container
        return None

    def _status_by_name(self, name: str) -> ContainerRuntimeStatus | None:
        status = self.context.manager.observe(self.context.pod.uid)
        return status.in_sandbox(self.plan.sandbox_id).find(name)


def _start_error(exc: KubertError) -> str:
    if isinstance(exc, (StartError, ImagePullError)):
        return f"{exc.reason}: {exc.message}"
    return exc.message

