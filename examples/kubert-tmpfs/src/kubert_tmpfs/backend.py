"""TmpfsBackend: CRI state as JSON files, each container's command a real host process.

What it does, and what it declares it does not (the suite's capability fixtures):

* sandboxes are records plus a working directory; containers run ``command + args`` with the
  container's environment, in a new session under ``<root>/tmpfs/work/<id>``, output to a log;
* a container's exit is noticed when its state is next read (``poll``), so ``sh -c "exit 3"``
  reports 3 and a stopped ``sleep`` reports 143 (SIGTERM) or 137 (SIGKILL);
* ExecSync runs the command on the host in the container's directory, with its timeout;
* images are only names: ``options["images"]`` are present from the start, ``options["catalog"]``
  can be pulled; nothing is downloaded;
* no stats, no events, no resource updates, no log reopening: those raise UnimplementedError.

Records survive a restart of the backend; processes started by a previous instance are
reported EXITED with code 255 once they are gone.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from kubert import (
    RUNTIME_READY,
    AlreadyExistsError,
    AuthConfig,
    BackendContext,
    Container,
    ContainerConfig,
    ContainerFilter,
    ContainerMetadata,
    ContainerState,
    ContainerStatus,
    DeadlineExceededError,
    ExecSyncResult,
    FailedPreconditionError,
    Image,
    ImageBackend,
    ImageFilter,
    ImageSpec,
    InvalidArgumentError,
    NotFoundError,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxMetadata,
    PodSandboxState,
    PodSandboxStatus,
    PullProgress,
    RuntimeBackend,
    RuntimeCondition,
    SandboxCreated,
    VersionInfo,
)

from kubert_tmpfs.store import JsonStore

READY, NOTREADY = "SANDBOX_READY", "SANDBOX_NOTREADY"
CREATED, RUNNING, EXITED = "CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED"


def _tag(ref: str) -> str:
    last = ref.rsplit("/", 1)[-1]
    return ref if "@" in ref or ":" in last else f"{ref}:latest"


def _image_id(tag: str) -> str:
    return "sha256:" + hashlib.sha256(tag.encode()).hexdigest()


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


class TmpfsBackend(RuntimeBackend, ImageBackend):
    """See the module docstring."""

    name = "tmpfs"

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        base = context.root_dir / "tmpfs"
        self._sandboxes = JsonStore(base / "sandboxes")
        self._containers = JsonStore(base / "containers")
        self._images = JsonStore(base / "images")
        self._work = base / "work"
        self._lock = threading.RLock()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        catalog = context.option("catalog", ["busybox:1.36", "alpine:3.20"])
        self._catalog = {_tag(ref) for ref in catalog}
        present = context.option("images", [context.pod_infra_container_image, "busybox:latest"])
        for ref in present:
            if self._find_image(ref) is None:
                self._store_image(_tag(ref))

    # ---- runtime-wide ------------------------------------------------------------------

    def version(self) -> VersionInfo:
        return VersionInfo(runtime_name="tmpfs", runtime_version="0.1.0")

    def status(self) -> RuntimeCondition:
        return RuntimeCondition.ready(RUNTIME_READY)

    def close(self) -> None:
        with self._lock:
            for container_id in list(self._procs):
                record = self._containers.get(container_id)
                if record is not None:
                    self._kill(record, 0)

    # ---- helpers -----------------------------------------------------------------------

    def _sandbox(self, sandbox_id: str) -> dict[str, Any]:
        record = self._sandboxes.get(sandbox_id) if sandbox_id.isalnum() else None
        if record is None:
            raise NotFoundError("sandbox", sandbox_id)
        return record

    def _container(self, container_id: str) -> dict[str, Any]:
        record = self._containers.get(container_id) if container_id.isalnum() else None
        if record is None:
            raise NotFoundError("container", container_id)
        return self._refresh(record)

    def _refresh(self, record: dict[str, Any]) -> dict[str, Any]:
        """Notice a process that has ended since the record was written."""
        if record["state"] != RUNNING:
            return record
        proc = self._procs.get(record["id"])
        if proc is not None:
            code = proc.poll()
            if code is None:
                return record
            self._procs.pop(record["id"], None)
            return self._exited(record, _exit_code(code))
        try:
            os.kill(record["pid"], 0)
        except ProcessLookupError:
            return self._exited(record, 255)
        return record

    def _exited(self, record: dict[str, Any], code: int) -> dict[str, Any]:
        record.update(state=EXITED, exit_code=code, finished_at=time.time_ns(),
                      reason="Completed" if code == 0 else "Error")
        self._containers.put(record["id"], record)
        return record

    def _kill(self, record: dict[str, Any], timeout: int) -> None:
        record = self._refresh(record)
        if record["state"] != RUNNING:
            return
        proc = self._procs.pop(record["id"], None)
        pgid = record["pid"]
        try:
            os.killpg(pgid, signal.SIGTERM)
            if proc is not None:
                try:
                    proc.wait(timeout=max(timeout, 0.2))
                except subprocess.TimeoutExpired:
                    os.killpg(pgid, signal.SIGKILL)
                    proc.wait()
        except ProcessLookupError:
            pass
        code = _exit_code(proc.returncode) if proc is not None else 137
        self._exited(record, code)

    # ---- sandboxes ---------------------------------------------------------------------

    def create_sandbox(self, config: PodSandboxConfig, runtime_handler: str) -> SandboxCreated:
        if runtime_handler:
            raise InvalidArgumentError("runtime_handler", runtime_handler,
                                       "tmpfs has only the default handler ''")
        meta = config.metadata
        with self._lock:
            for other in self._sandboxes.all():
                if other["metadata"] == _meta(meta):
                    raise AlreadyExistsError("sandbox", f"{meta.name}_{meta.namespace}_"
                                             f"{meta.uid}_{meta.attempt}")
            infra = self._find_image(self.context.pod_infra_container_image)
            if infra is None:
                raise NotFoundError("image", self.context.pod_infra_container_image)
            sandbox_id = secrets.token_hex(32)
            self._sandboxes.put(sandbox_id, {
                "id": sandbox_id, "metadata": _meta(meta), "labels": config.labels,
                "annotations": config.annotations, "state": NOTREADY, "stopped": False,
                "created_at": time.time_ns(), "image_id": infra["id"],
                "log_directory": config.log_directory,
            })
            return SandboxCreated(id=sandbox_id)

    def start_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            record = self._sandbox(sandbox_id)
            if record["stopped"]:
                raise FailedPreconditionError(f"sandbox {sandbox_id!r} was stopped")
            (self._work / sandbox_id).mkdir(parents=True, exist_ok=True)
            record["state"] = READY
            self._sandboxes.put(sandbox_id, record)

    def stop_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            record = self._sandbox(sandbox_id)
            for container in self._containers.all():
                if container["sandbox_id"] == sandbox_id:
                    self._kill(container, 0)
            record.update(state=NOTREADY, stopped=True)
            self._sandboxes.put(sandbox_id, record)

    def remove_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            self._sandbox(sandbox_id)
            for container in list(self._containers.all()):
                if container["sandbox_id"] == sandbox_id:
                    self._remove_container(container)
            self._sandboxes.delete(sandbox_id)

    @staticmethod
    def _sandbox_fields(r: dict[str, Any]) -> dict[str, Any]:
        """What a list entry and a status both say about the sandbox record ``r``."""
        return {
            "id": r["id"], "metadata": PodSandboxMetadata(**r["metadata"]),
            "state": PodSandboxState[r["state"]], "created_at": r["created_at"],
            "labels": r["labels"], "annotations": r["annotations"],
        }

    def sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        with self._lock:
            r = self._sandbox(sandbox_id)
        return PodSandboxStatus(**self._sandbox_fields(r))

    def list_sandboxes(self, filter: PodSandboxFilter | None) -> list[PodSandbox]:
        with self._lock:
            entries = [PodSandbox(**self._sandbox_fields(r)) for r in self._sandboxes.all()]
        return [e for e in entries if filter is None or filter.matches(e)]

    # ---- containers --------------------------------------------------------------------

    def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        with self._lock:
            sandbox = self._sandbox(sandbox_id)
            if sandbox["state"] != READY:
                raise FailedPreconditionError(f"sandbox {sandbox_id!r} is not ready")
            meta = {"name": config.metadata.name, "attempt": config.metadata.attempt}
            for other in self._containers.all():
                if other["sandbox_id"] == sandbox_id and other["metadata"] == meta:
                    raise AlreadyExistsError("container", f"{meta['name']}_{meta['attempt']}")
            image = self._find_image(config.image.image)
            if image is None:
                raise NotFoundError("image", config.image.image, "pull it first")
            container_id = secrets.token_hex(32)
            log_dir = sandbox["log_directory"]
            self._containers.put(container_id, {
                "id": container_id, "sandbox_id": sandbox_id, "metadata": meta,
                "image": config.image.image, "image_id": image["id"],
                "argv": [*config.command, *config.args],
                "envs": {kv.key: kv.value for kv in config.envs},
                "labels": config.labels, "annotations": config.annotations,
                "state": CREATED, "created_at": time.time_ns(), "started_at": 0,
                "finished_at": 0, "exit_code": 0, "reason": "", "pid": 0,
                "log_path": os.path.join(log_dir, config.log_path)
                if log_dir and config.log_path else "",
            })
            return container_id

    def start_container(self, container_id: str) -> None:
        with self._lock:
            record = self._container(container_id)
            if record["state"] != CREATED:
                raise FailedPreconditionError(
                    f"container {container_id!r} is {record['state']}, not CREATED"
                )
            if self._sandbox(record["sandbox_id"])["state"] != READY:
                raise FailedPreconditionError(f"sandbox of {container_id!r} is not ready")
            workdir = self._work / record["sandbox_id"] / container_id
            workdir.mkdir(parents=True, exist_ok=True)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **record["envs"]}
            try:
                with open(workdir / "output.log", "ab") as log:
                    proc = subprocess.Popen(
                        record["argv"] or ["sleep", "infinity"], cwd=workdir, env=env,
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            except OSError as exc:
                record.update(started_at=time.time_ns(), message=str(exc))
                self._exited(record, 127)
                return
            self._procs[container_id] = proc
            record.update(state=RUNNING, started_at=time.time_ns(), pid=proc.pid)
            self._containers.put(container_id, record)

    def stop_container(self, container_id: str, timeout: int) -> None:
        with self._lock:
            self._kill(self._container(container_id), timeout)

    def remove_container(self, container_id: str) -> None:
        with self._lock:
            self._remove_container(self._container(container_id))

    def _remove_container(self, record: dict[str, Any]) -> None:
        self._kill(record, 0)
        self._containers.delete(record["id"])

    def container_status(self, container_id: str) -> ContainerStatus:
        with self._lock:
            r = self._container(container_id)
        return ContainerStatus(
            id=r["id"], metadata=ContainerMetadata(**r["metadata"]),
            state=ContainerState[r["state"]], created_at=r["created_at"],
            started_at=r["started_at"], finished_at=r["finished_at"], exit_code=r["exit_code"],
            image=ImageSpec(image=r["image"]), image_ref=r["image_id"], image_id=r["image_id"],
            reason=r["reason"], labels=r["labels"], annotations=r["annotations"],
            log_path=r["log_path"],
        )

    def list_containers(self, filter: ContainerFilter | None) -> list[Container]:
        with self._lock:
            entries = [
                Container(
                    id=r["id"], pod_sandbox_id=r["sandbox_id"],
                    metadata=ContainerMetadata(**r["metadata"]),
                    image=ImageSpec(image=r["image"]), image_ref=r["image_id"],
                    image_id=r["image_id"], state=ContainerState[r["state"]],
                    created_at=r["created_at"], labels=r["labels"], annotations=r["annotations"],
                )
                for r in map(self._refresh, list(self._containers.all()))
            ]
        return [e for e in entries if filter is None or filter.matches(e)]

    def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int) -> ExecSyncResult:
        with self._lock:
            record = self._container(container_id)
            if record["state"] != RUNNING:
                raise FailedPreconditionError(f"container {container_id!r} is not running")
        workdir = self._work / record["sandbox_id"] / container_id
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **record["envs"]}
        try:
            done = subprocess.run(list(cmd), cwd=workdir, env=env, capture_output=True,
                                  timeout=timeout or None, check=False)
        except subprocess.TimeoutExpired:
            raise DeadlineExceededError("ExecSync " + " ".join(cmd), timeout) from None
        except OSError as exc:
            return ExecSyncResult(stderr=f"{cmd[0]}: {exc.strerror}\n".encode(), exit_code=127)
        return ExecSyncResult(stdout=done.stdout, stderr=done.stderr,
                              exit_code=_exit_code(done.returncode))

    # ---- images ------------------------------------------------------------------------

    def _find_image(self, ref: str) -> dict[str, Any] | None:
        if not ref:
            return None
        wanted = _tag(ref)
        for image in self._images.all():
            if ref in (image["id"], image["id"].removeprefix("sha256:")) or wanted in image["tags"]:
                return image
        return None

    def _store_image(self, tag: str) -> dict[str, Any]:
        image_id = _image_id(tag)
        record = {"id": image_id, "tags": [tag], "size": len(tag) * 1000}
        self._images.put(image_id.removeprefix("sha256:"), record)
        return record

    def _image(self, r: dict[str, Any]) -> Image:
        return Image(id=r["id"], repo_tags=r["tags"], size=r["size"])

    def list_images(self, filter: ImageFilter | None) -> list[Image]:
        with self._lock:
            if filter is not None and filter.image is not None and filter.image.image:
                found = self._find_image(filter.image.image)
                return [self._image(found)] if found else []
            return [self._image(r) for r in self._images.all()]

    def image_status(self, image: ImageSpec) -> Image | None:
        with self._lock:
            found = self._find_image(image.image)
        return self._image(found) if found else None

    def pull_image(
        self,
        image: ImageSpec,
        auth: AuthConfig | None,
        sandbox_config: PodSandboxConfig | None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> str:
        with self._lock:
            found = self._find_image(image.image)
            if found is None:
                if _tag(image.image) not in self._catalog:
                    raise NotFoundError("image", image.image, "not in the tmpfs catalog")
                found = self._store_image(_tag(image.image))
            return str(found["id"])

    def remove_image(self, image: ImageSpec) -> None:
        with self._lock:
            found = self._find_image(image.image)
            if found is None:
                return
            users = [c["id"] for c in self._containers.all() if c["image_id"] == found["id"]]
            users += [s["id"] for s in self._sandboxes.all() if s["image_id"] == found["id"]]
            if users:
                raise FailedPreconditionError(f"image {image.image!r} is used by {users[0]}")
            self._images.delete(found["id"].removeprefix("sha256:"))


def _meta(meta: PodSandboxMetadata) -> dict[str, Any]:
    return {"name": meta.name, "uid": meta.uid, "namespace": meta.namespace,
            "attempt": meta.attempt}


__all__ = ["TmpfsBackend"]
