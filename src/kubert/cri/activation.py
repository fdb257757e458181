"""Serving CRI on a socket systemd passes (``--container-runtime-endpoint fd://``).

grpc-python cannot serve on a descriptor it did not create: ``add_insecure_port`` binds its
own socket, and the core's socket-activation support is compiled out of the published wheels.
So the gRPC server binds a private unix socket in a directory only this user can enter, and a
relay accepts on the passed listening socket and copies each connection's bytes both ways.
The passed socket is never closed by name nor unlinked: connections queued on it before kubert
started (or while it restarted) are accepted from the same backlog and answered, and the next
kubert instance inherits it as it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import socket
import stat
import tempfile
import threading
from pathlib import Path

from kubert.errors import FailedPreconditionError
from kubert.systemd.listen import ListenFd

__all__ = ["SocketRelay", "adopt_listener", "relay_for"]

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024


def adopt_listener(passed: ListenFd) -> socket.socket:
    """The passed descriptor as a listening stream socket, after checking it is one.

    :raises FailedPreconditionError: the descriptor is not a socket, not a stream socket, or
        not listening (``Accept=yes`` units pass connections, which kubert cannot serve).
    """
    try:
        mode = os.fstat(passed.fd).st_mode
    except OSError as error:
        raise FailedPreconditionError(
            f"passed descriptor {passed.fd} ({passed.name}): {error.strerror}"
        ) from None
    if not stat.S_ISSOCK(mode):
        raise FailedPreconditionError(
            f"passed descriptor {passed.fd} ({passed.name}) is not a socket"
        )
    listener = socket.socket(fileno=passed.fd)
    if listener.type != socket.SOCK_STREAM or not listener.getsockopt(
        socket.SOL_SOCKET, socket.SO_ACCEPTCONN
    ):
        listener.detach()
        raise FailedPreconditionError(
            f"passed descriptor {passed.fd} ({passed.name}) is not a listening stream socket; "
            "the socket unit needs ListenStream= and Accept=no"
        )
    return listener


def describe(listener: socket.socket) -> str:
    """``fd://NAME (unix:///run/kubert/kubert.sock)``-style text for logs."""
    name = listener.getsockname()
    if listener.family == socket.AF_UNIX:
        if isinstance(name, bytes):
            return "unix:@" + name.lstrip(b"\0").decode(errors="replace")
        return f"unix://{name}"
    host, port = name[0], name[1]
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


class SocketRelay:
    """Accepts on ``listener`` and relays every connection to the private gRPC socket.

    :param listener: the passed listening socket (see :func:`adopt_listener`).
    :param runtime_dir: where the private socket's directory is made (``RUNTIME_DIRECTORY``
        under systemd); the system's temporary directory when None.
    """

    def __init__(self, listener: socket.socket, runtime_dir: str | None = None) -> None:
        self.listener = listener
        self.address = describe(listener)
        # mkdtemp makes the directory 0700: nobody but this user reaches the private socket,
        # which would otherwise be a second, unguarded door to the CRI.
        self.private_dir = Path(tempfile.mkdtemp(prefix="kubert-cri-", dir=runtime_dir))
        self.upstream = self.private_dir / "grpc.sock"
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._accepting: threading.Thread | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False

    @property
    def grpc_target(self) -> str:
        return f"unix://{self.upstream}"

    def start(self) -> None:
        """Start accepting (the gRPC server must already listen on :attr:`upstream`)."""
        self._accepting = threading.Thread(
            target=self._accept_loop, name="cri-fd-accept", daemon=True
        )
        self._accepting.start()

    def stop_accepting(self) -> None:
        """Leave further connections queued on the passed socket for the next instance."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"x")
        if self._accepting is not None:
            self._accepting.join(timeout=5)

    def close(self) -> None:
        """Stop accepting, close the relayed connections and the private directory.

        The passed socket's descriptor is detached, not shut down: systemd keeps listening.
        """
        self.stop_accepting()
        with self._lock:
            self._closed = True
            connections = list(self._open)
            self._open.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self.listener.detach()
        shutil.rmtree(self.private_dir, ignore_errors=True)

    def _accept_loop(self) -> None:
        poller = select.poll()
        poller.register(self.listener.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            events = dict(poller.poll())
            if self._wake_r in events:
                return
            try:
                client, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as error:
                log.error("accepting on %s failed: %s", self.address, error)
                return
            self._relay(client)

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            upstream.connect(str(self.upstream))
        except OSError as error:
            log.error("relaying a connection on %s to the CRI server failed: %s",
                      self.address, error)
            client.close()
            upstream.close()
            return
        with self._lock:
            if self._closed:
                client.close()
                upstream.close()
                return
            self._open.update((client, upstream))
        remaining = [2]

        def pump(source: socket.socket, sink: socket.socket) -> None:
            # One thread per direction: a blocked send one way never stalls the other.
            try:
                while data := source.recv(_CHUNK):
                    sink.sendall(data)
            except OSError:
                pass
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
            with self._lock:
                remaining[0] -= 1
                finished = remaining[0] == 0
                if finished:
                    self._open.discard(client)
                    self._open.discard(upstream)
            if finished:
                client.close()
                upstream.close()

        for source, sink, direction in ((client, upstream, "in"), (upstream, client, "out")):
            threading.Thread(
                target=pump, args=(source, sink), name=f"cri-fd-{direction}", daemon=True
            ).start()


def relay_for(fd_name: str) -> SocketRelay:
    """The relay for ``fd://fd_name``: reads ``LISTEN_FDS`` (once; the variables are then
    removed), checks the chosen descriptor and makes the private socket's directory.

    :raises FailedPreconditionError: no socket was passed, none has that name, or it is not a
        listening stream socket.
    """
    from kubert.systemd.listen import listen_fds, pick

    listener = adopt_listener(pick(listen_fds(), fd_name))
    runtime_dir = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or None
    return SocketRelay(listener, runtime_dir=runtime_dir)
