"""Interactive streams for the streaming server: exec and attach over the engine's hijacked
connection, and port forwarding through a socket opened inside the sandbox's netns."""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import threading
import time
from typing import Any

from kubert import (
    STDERR,
    STDOUT,
    AttachRequest,
    ExecRequest,
    KubertError,
    OutputChunk,
    ProcessStream,
)
from kubert_docker.engine import Engine, translate
from kubert_docker.engineapi import Hijacked

CLONE_NEWNET = 0x40000000


class EngineStream(ProcessStream):
    """A hijacked engine connection: multiplexed frames without a TTY, raw bytes with one."""

    def __init__(self, engine: Engine, conn: Hijacked, tty: bool, exec_id: str = "",
                 container_id: str = "") -> None:
        self.engine = engine
        self.conn = conn
        self.tty = tty
        self.exec_id = exec_id
        self.container_id = container_id
        self._write_lock = threading.Lock()

    def read(self) -> OutputChunk | None:
        try:
            if self.tty:
                chunk = self.conn.read(65536)
                return (STDOUT, chunk) if chunk else None
            while True:
                header = self.conn.read_exactly(8)
                if header is None:
                    return None
                kind, size = struct.unpack(">BxxxL", header)
                payload = self.conn.read_exactly(size) if size else b""
                if payload is None:
                    return None
                if kind in (STDOUT, STDERR) and payload:
                    return (kind, payload)
        except (OSError, ValueError):
            return None

    def write_stdin(self, data: bytes) -> None:
        with self._write_lock:
            self.conn.write(data)

    def close_stdin(self) -> None:
        # With a TTY the engine answers a half-close by ending the output streams too
        # (moby's attach ends stdout with stdin unless it may close the process's stdin),
        # so the terminal keeps its input open and this client just stops typing.
        if self.tty:
            return
        with self._write_lock, contextlib.suppress(OSError):
            self.conn.close_write()

    def resize(self, width: int, height: int) -> None:
        if not self.tty:
            return
        if self.exec_id:
            label, kind, ident = "exec", "exec", self.exec_id
        else:
            label, kind, ident = "container", "containers", self.container_id
        # A resize that loses a race with the process's exit is of no consequence.
        with contextlib.suppress(KubertError), translate(label, ident):
            self.engine.api().resize(kind, ident, height=height, width=width)

    def wait(self) -> int | None:
        if not self.exec_id:
            return None
        deadline = time.monotonic() + 5
        while True:
            with translate("exec", self.exec_id):
                info = self.engine.api().exec_inspect(self.exec_id)
            if not info.get("Running") or time.monotonic() > deadline:
                return int(info.get("ExitCode") or 0)
            time.sleep(0.02)

    def close(self) -> None:
        self.conn.close()


def exec_stream(engine: Engine, container_id: str, request: ExecRequest) -> EngineStream:
    api = engine.api()
    with translate("container", container_id):
        exec_id = api.exec_create(
            container_id, list(request.cmd), stdout=request.stdout, stderr=request.stderr,
            stdin=request.stdin, tty=request.tty,
        )["Id"]
        conn = api.exec_attach(exec_id, request.tty)
    return EngineStream(engine, conn, request.tty, exec_id=exec_id)


def attach_stream(
    engine: Engine, container_id: str, request: AttachRequest, tty: bool
) -> EngineStream:
    with translate("container", container_id):
        conn = engine.api().attach(
            container_id, stdin=request.stdin, stdout=request.stdout,
            stderr=request.stderr and not tty,
        )
    return EngineStream(engine, conn, tty, container_id=container_id)


def connect_in_netns(pid: int, port: int, timeout: float = 10.0) -> socket.socket:
    """A TCP connection to ``127.0.0.1:port`` inside the network namespace of ``pid``.

    A short-lived thread enters the namespace (setns affects only the calling thread) and
    opens the socket there; a socket keeps the namespace it was made in.
    """
    outcome: dict[str, Any] = {}

    def work() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        except OSError as exc:
            os.close(own)
            outcome["error"] = exc
            return
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns into the netns of pid {pid}: {os.strerror(err)}")
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                sock.settimeout(None)
                outcome["socket"] = sock
            finally:
                # The thread ends right after, taking its namespace with it; going back is
                # only so that nothing else this thread still runs lands in the pod's netns.
                libc.setns(own, CLONE_NEWNET)
        except OSError as exc:
            outcome["error"] = exc
        finally:
            os.close(target)
            os.close(own)

    thread = threading.Thread(target=work, name="kubert-docker-portforward", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    sock = outcome["socket"]
    assert isinstance(sock, socket.socket)
    return sock
