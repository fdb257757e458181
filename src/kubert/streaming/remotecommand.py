"""One exec or attach session, whatever the transport: pump the client's stdin and resize
events into the process, its output back out, then report how it ended on the error stream.

The remote-command protocols' transport side is here too: which SPDY and WebSocket protocol
versions are served, and how a session's streams are gathered from a WebSocket connection's
channels or from the streams a SPDY client opens.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from attrs import define

from kubert.backends import RuntimeBackend
from kubert.errors import KubertError
from kubert.model import AttachRequest, ExecRequest
from kubert.streaming.channels import ChannelMux
from kubert.streaming.contract import STDERR, ProcessStream
from kubert.streaming.spdy_session import SpdySession, SpdyStream
from kubert.streaming.status import encode_status, exit_status, internal_error_status

__all__ = [
    "REMOTE_COMMAND_SPDY",
    "REMOTE_COMMAND_WEBSOCKET",
    "CommandStreams",
    "Duplex",
    "ResizeDecoder",
    "run_command",
    "run_request",
    "spdy_command",
    "websocket_command",
]

log = logging.getLogger(__name__)

MAX_RESIZE_BUFFER = 4096

#: SPDY remote-command protocols served, newest first, with their version numbers.
REMOTE_COMMAND_SPDY = {"v4.channel.k8s.io": 4, "v3.channel.k8s.io": 3, "v2.channel.k8s.io": 2}
#: WebSocket remote-command subprotocols: (version, binary framing, close signal).
REMOTE_COMMAND_WEBSOCKET = {
    "v5.channel.k8s.io": (5, True, True),
    "v4.channel.k8s.io": (4, True, False),
    "v4.base64.channel.k8s.io": (4, False, False),
    "channel.k8s.io": (1, True, False),
    "base64.channel.k8s.io": (1, False, False),
    "": (1, True, False),
}
#: The channels of a WebSocket remote-command connection, by number.
STDIN_CHANNEL, STDOUT_CHANNEL, STDERR_CHANNEL, ERROR_CHANNEL, RESIZE_CHANNEL = range(5)


class Duplex(Protocol):
    """A SPDY stream or a WebSocket channel, as the session logic sees it."""

    def read(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@define
class CommandStreams:
    """The client's streams for one session; absent ones are None."""

    error: Duplex
    stdin: Duplex | None = None
    stdout: Duplex | None = None
    stderr: Duplex | None = None
    resize: Duplex | None = None


class ResizeDecoder:
    """Terminal sizes from the resize stream: JSON objects ``{"Width": w, "Height": h}`` one
    after another (Go's json.Encoder puts a newline after each, which we do not rely on)."""

    def __init__(self) -> None:
        self._buf = ""
        self._json = json.JSONDecoder()

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        """Sizes complete so far. :raises ValueError: the stream is not such JSON."""
        self._buf += data.decode("utf-8", "replace")
        sizes = []
        while True:
            self._buf = self._buf.lstrip()
            if not self._buf:
                break
            try:
                obj, end = self._json.raw_decode(self._buf)
            except json.JSONDecodeError:
                if len(self._buf) > MAX_RESIZE_BUFFER:
                    raise ValueError("resize stream holds no JSON object") from None
                break  # incomplete; wait for more
            self._buf = self._buf[end:]
            if not isinstance(obj, dict):
                raise ValueError(f"resize event is not an object: {obj!r}")
            width, height = obj.get("Width", 0), obj.get("Height", 0)
            if not (isinstance(width, int) and isinstance(height, int)):
                raise ValueError(f"resize event has non-integer sizes: {obj!r}")
            if 0 < width <= 0xFFFF and 0 < height <= 0xFFFF:
                sizes.append((width, height))
        return sizes


def _pump_stdin(process: ProcessStream, stdin: Duplex) -> None:
    try:
        while (data := stdin.read()) is not None:
            process.write_stdin(data)
    except OSError as exc:
        log.debug("stdin stopped: %s", exc)
    finally:
        with contextlib.suppress(OSError):
            process.close_stdin()


def _pump_resize(process: ProcessStream, resize: Duplex) -> None:
    decoder = ResizeDecoder()
    try:
        while (data := resize.read()) is not None:
            for width, height in decoder.feed(data):
                process.resize(width, height)
    except ValueError as exc:
        # Like the kubelet: a garbled resize stream ends resizing, not the session.
        log.warning("ignoring the rest of a bad resize stream: %s", exc)
    except (OSError, KubertError) as exc:
        log.debug("resize stopped: %s", exc)


def _close_on(hung_up: threading.Event, close: Callable[[], None]) -> None:
    hung_up.wait()
    close()


def _start(target: Callable[..., None], *args: object) -> None:
    threading.Thread(target=target, args=args, daemon=True).start()


class _Closer:
    """Closes the process stream once: when the client hangs up (to end a blocked read of an
    attach that would otherwise outlive its client), or when the session ends."""

    def __init__(self, process: ProcessStream) -> None:
        self._process = process
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._process.close()


def run_command(
    open_process: Callable[[], ProcessStream],
    streams: CommandStreams,
    version: int,
    cmd: tuple[str, ...] = (),
    hung_up: threading.Event | None = None,
) -> None:
    """Run one session to its end; the caller closes the connection afterwards.

    :param open_process: starts the exec or attaches (the backend call).
    :param version: the remote-command protocol version (4 and up report JSON status).
    :param hung_up: set by the transport when the client's connection ends.
    """
    try:
        process = open_process()
    except (KubertError, OSError) as exc:
        log.info("streaming session failed to start: %s", exc)
        _report(streams, internal_error_status(str(exc)), version)
        return
    close = _Closer(process)
    if hung_up is not None:
        _start(_close_on, hung_up, close)
    try:
        if streams.stdin is not None:
            _start(_pump_stdin, process, streams.stdin)
        if streams.resize is not None:
            _start(_pump_resize, process, streams.resize)
        while (chunk := process.read()) is not None:
            fd, data = chunk
            target = streams.stderr if fd == STDERR else streams.stdout
            if target is not None and data:
                target.write(data)
        code = process.wait()
    except ConnectionError as exc:
        log.info("client left the streaming session: %s", exc)
        return
    except (KubertError, OSError) as exc:
        _report(streams, internal_error_status(str(exc)), version)
        return
    finally:
        close()
    _report(streams, exit_status(code, cmd), version)


def _report(streams: CommandStreams, status: dict[str, object], version: int) -> None:
    for stream in (streams.stdout, streams.stderr):
        if stream is not None:
            stream.close()
    data = encode_status(status, version)
    try:
        if data:
            streams.error.write(data)
    except ConnectionError:
        return
    streams.error.close()


# ---- the transports ------------------------------------------------------------------------


def websocket_command(
    runtime: RuntimeBackend,
    mux: ChannelMux,
    request: ExecRequest | AttachRequest,
    version: int,
    hung_up: threading.Event,
) -> None:
    """Run ``request`` over the channels of a WebSocket connection (``mux``), to its end."""
    ch = mux.channels
    # The kubelet's first message: an empty one on the lowest channel the client reads.
    first = (STDOUT_CHANNEL if request.stdout else STDERR_CHANNEL if request.stderr
             else ERROR_CHANNEL)
    ch[first].write(b"")
    streams = CommandStreams(
        error=ch[ERROR_CHANNEL],
        stdin=ch[STDIN_CHANNEL] if request.stdin else None,
        stdout=ch[STDOUT_CHANNEL] if request.stdout else None,
        stderr=ch[STDERR_CHANNEL] if request.stderr else None,
        resize=ch[RESIZE_CHANNEL] if request.tty else None,
    )
    run_request(runtime, request, streams, version, hung_up)


def spdy_command(
    runtime: RuntimeBackend,
    session: SpdySession,
    request: ExecRequest | AttachRequest,
    version: int,
    creation_timeout: float,
) -> None:
    """Gather the streams ``request`` needs as the SPDY client opens them (within
    ``creation_timeout`` seconds in all), then run it to its end."""
    wanted = {"error"}
    if request.stdin:
        wanted.add("stdin")
    if request.stdout:
        wanted.add("stdout")
    if request.stderr and not request.tty:
        wanted.add("stderr")
    if request.tty and version >= 3:
        wanted.add("resize")
    got: dict[str, SpdyStream] = {}
    # The streams arrive within the creation timeout in all, not each.
    deadline = _Deadline(creation_timeout)
    while set(got) != wanted:
        stream = session.accept(deadline.left())
        if stream is None:
            log.info("SPDY client opened %s of the streams %s in time", sorted(got),
                     sorted(wanted))
            return
        kind = stream.header("streamtype")
        if kind not in wanted or kind in got:
            stream.abort()
            continue
        got[kind] = stream
    streams = CommandStreams(
        error=got["error"], stdin=got.get("stdin"), stdout=got.get("stdout"),
        stderr=got.get("stderr"), resize=got.get("resize"),
    )
    run_request(runtime, request, streams, version, session.done)


def run_request(
    runtime: RuntimeBackend,
    request: ExecRequest | AttachRequest,
    streams: CommandStreams,
    version: int,
    hung_up: threading.Event,
) -> None:
    """Run an exec or attach ``request`` with ``runtime``'s process stream (:func:`run_command`)."""
    if isinstance(request, ExecRequest):
        run_command(lambda: runtime.exec_stream(request), streams, version,
                    request.cmd, hung_up)
    else:
        run_command(lambda: runtime.attach_stream(request), streams, version,
                    hung_up=hung_up)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())
