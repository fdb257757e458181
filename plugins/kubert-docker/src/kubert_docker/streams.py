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
    OutputChunk,
    ProcessStream,
)
from kubert_docker.engine import Engine, translate

CLONE_NEWNET = 0x40000000


class EngineStream(ProcessStream):
    """A hijacked engine connection: multiplexed frames without a TTY, raw bytes with one."""

    def __init__(self, engine: Engine, client: Any, raw: Any, tty: bool, exec_id: str = "",
                 container_id: str = "") -> None:
        self.engine = engine
        self.client = client
        self.raw = raw
        self.sock: socket.socket = getattr(raw, "_sock", raw)
        self.tty = tty
        self.exec_id = exec_id
        self.container_id = container_id
        self._write_lock = threading.Lock()

    def _recv_exactly(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def read(self) -> OutputChunk | None:
        try:
            if self.tty:
                chunk = self.sock.recv(65536)
                return (STDOUT, chunk) if chunk else None
            while True:
                header = self._recv_exactly(8)
                if header is None:
                    return None
                kind, size = struct.unpack(">BxxxL", header)
                payload = self._recv_exactly(size) if size else b""
                if payload is None:
                    return None
                if kind in (STDOUT, STDERR) and payload:
                    return (kind, payload)
        except OSError:
            return None

    def write_stdin(self, data: bytes) -> None:
        with self._write_lock:
            self.sock.sendall(data)

    def close_stdin(self) -> None:
        # With a TTY the engine answers a half-close by ending the output streams too
        # (moby's attach ends stdout with stdin unless it may close the process's stdin),
        # so the terminal keeps its input open and this client just stops typing.
        if self.tty:
            return
        with self._write_lock, contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def resize(self, width: int, height: int) -> None:
        if not self.tty:
            return
        with contextlib.suppress(Exception):
            if self.exec_id:
                self.engine.sdk().exec_resize(self.exec_id, height=height, width=width)
            else:
                self.engine.sdk().resize(self.container_id, height=height, width=width)

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
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(Exception):
            self.client.close()


def exec_stream(engine: Engine, container_id: str, request: ExecRequest) -> EngineStream:
    client = engine.new_client(timeout=None)
    with translate("container", container_id):
        exec_id = client.exec_create(
            container_id, list(request.cmd), stdout=request.stdout, stderr=request.stderr,
            stdin=request.stdin, tty=request.tty,
        )["Id"]
        raw = client.exec_start(exec_id, tty=request.tty, socket=True)
    return EngineStream(engine, client, raw, request.tty, exec_id=exec_id)


def attach_stream(
    engine: Engine, container_id: str, request: AttachRequest, tty: bool
) -> EngineStream:
    client = engine.new_client(timeout=None)
    params = {
        "stdin": 1 if request.stdin else 0,
        "stdout": 1 if request.stdout else 0,
        "stderr": 1 if request.stderr and not tty else 0,
        "stream": 1,
    }
    with translate("container", container_id):
        raw = client.attach_socket(container_id, params=params)
    return EngineStream(engine, client, raw, tty, container_id=container_id)


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
