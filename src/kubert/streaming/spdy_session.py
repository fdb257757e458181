"""A server-side SPDY/3.1 session over a blocking socket: client-opened streams, each replied
to at once and handed to the caller, with data in and out, half-close and reset.

One reader thread parses frames; writers from any thread share a lock, under which header
blocks are compressed so that the compression context follows wire order. Kubernetes' SPDY
peers (moby/spdystream) do not implement SPDY/3.1 flow control, so sending never waits for
window credit; received data is acknowledged with WINDOW_UPDATE for peers that do.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable

from kubert.streaming import spdy
from kubert.streaming.netio import receive_until_idle, shutdown_quietly

__all__ = ["SpdySession", "SpdyStream"]

log = logging.getLogger(__name__)

CHUNK = 32 * 1024
# Chunks buffered per stream before the reader thread waits for the consumer; waiting
# pushes back on the peer through TCP, as spdystream's unbuffered channels do.
INBOX_CHUNKS = 64
_EOF = b""


class SpdyStream:
    """One client-opened stream; :meth:`read` and :meth:`write` are the two directions."""

    def __init__(self, session: SpdySession, stream_id: int, headers: spdy.HeaderList) -> None:
        self.session = session
        self.id = stream_id
        self.headers = dict(headers)
        self._inbox: queue.Queue[bytes] = queue.Queue(INBOX_CHUNKS)
        self.remote_closed = False
        self.local_closed = False
        self.reset = False

    def header(self, name: str) -> str:
        """A request header's value, "" when absent."""
        return self.headers.get(name.lower(), "")

    def read(self) -> bytes | None:
        """The next data the client sent; None after its FIN, a reset, or session end."""
        data = self._inbox.get()
        if not data:
            self._inbox.put(_EOF)  # keep later reads at EOF too
            return None
        self.session._consumed(self.id, len(data))
        return data

    def write(self, data: bytes) -> None:
        """Send ``data``. :raises ConnectionError: the stream or the session is closed."""
        if self.local_closed or self.reset:
            raise ConnectionError(f"SPDY stream {self.id} is closed")
        for pos in range(0, len(data), CHUNK):
            self.session.send(spdy.DataFrame(stream_id=self.id, data=data[pos : pos + CHUNK]))

    def close(self) -> None:
        """Half-close: send FIN. Idempotent; harmless on a reset stream or ended session."""
        if self.local_closed or self.reset:
            return
        self.local_closed = True
        with contextlib.suppress(OSError):
            self.session.send(spdy.DataFrame(stream_id=self.id, fin=True))
        self.session._maybe_forget(self)

    def abort(self, status: int = spdy.CANCEL) -> None:
        """Reset the stream (RST_STREAM) unless it is already closed both ways."""
        if self.reset or (self.local_closed and self.remote_closed):
            return
        self.reset = True
        with contextlib.suppress(OSError):
            self.session.send(spdy.RstStream(stream_id=self.id, status=status))
        self._end_input()
        self.session._forget(self.id)

    def _deliver(self, data: bytes) -> None:
        while not self.session.closed:
            try:
                self._inbox.put(data, timeout=0.5)
                return
            except queue.Full:
                continue

    def _end_input(self) -> None:
        # Never block: a consumer that stopped reading must not stall the reader thread.
        try:
            self._inbox.put_nowait(_EOF)
        except queue.Full:
            threading.Thread(target=self._inbox.put, args=(_EOF,), daemon=True).start()


class SpdySession:
    """The server end of one SPDY/3.1 connection (after the HTTP upgrade).

    :param sock: the upgraded connection; the session owns and closes it.
    :param idle_timeout: seconds with no frame in either direction before the session ends.
    :param on_stream: optional callback per new stream, run on the reader thread; without it
        streams queue up for :meth:`accept`.
    """

    def __init__(
        self,
        sock: socket.socket,
        idle_timeout: float,
        on_stream: Callable[[SpdyStream], None] | None = None,
    ) -> None:
        self._sock = sock
        self._idle_timeout = idle_timeout
        self._on_stream = on_stream
        self._decoder = spdy.FrameDecoder()
        self._compressor = spdy.HeaderCompressor()
        self._write_lock = threading.Lock()
        self._streams: dict[int, SpdyStream] = {}
        self._streams_lock = threading.Lock()
        self._incoming: queue.Queue[SpdyStream | None] = queue.Queue()
        self._last_stream_id = 0
        self._last_activity = time.monotonic()
        self._goaway_sent = False
        self.closed = False
        self.done = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="spdy-reader", daemon=True)

    def start(self, initial: bytes = b"") -> None:
        """Start reading; ``initial`` holds bytes already read past the HTTP upgrade."""
        if initial:
            self._handle_bytes(initial)
        self._reader.start()

    # ---- sending -----------------------------------------------------------------------

    def send(self, frame: spdy.Frame) -> None:
        """Write one frame. :raises ConnectionError: the session has ended."""
        with self._write_lock:
            if self.closed:
                raise ConnectionError("SPDY session is closed")
            data = spdy.encode_frame(frame, self._compressor)
            try:
                self._sock.sendall(data)
            except OSError as exc:
                self._end()
                raise ConnectionError(f"SPDY connection lost: {exc}") from exc
            self._last_activity = time.monotonic()

    def _consumed(self, stream_id: int, n: int) -> None:
        try:
            self.send(spdy.WindowUpdate(stream_id=stream_id, delta=n))
            self.send(spdy.WindowUpdate(stream_id=0, delta=n))
        except ConnectionError:
            pass

    # ---- receiving ---------------------------------------------------------------------

    def accept(self, timeout: float | None = None) -> SpdyStream | None:
        """The next stream the client opened; None on timeout or when the session ended."""
        try:
            stream = self._incoming.get(timeout=timeout)
        except queue.Empty:
            return None
        if stream is None:
            self._incoming.put(None)
        return stream

    def _read_loop(self) -> None:
        chunks = receive_until_idle(
            self._sock, self._idle_timeout, lambda: self._last_activity, lambda: self.closed,
            log, "SPDY session",
        )
        try:
            for data in chunks:
                if not data:
                    break
                self._handle_bytes(data)
        except OSError as exc:
            if not self.closed:
                log.debug("SPDY connection ended: %s", exc)
        except spdy.SpdyError as exc:
            log.warning("SPDY protocol error from client: %s", exc)
            self._goaway(spdy.GOAWAY_PROTOCOL_ERROR)
        finally:
            self._end()

    def _handle_bytes(self, data: bytes) -> None:
        self._last_activity = time.monotonic()
        for frame in self._decoder.feed(data):
            self._handle(frame)

    def _handle(self, frame: spdy.Frame) -> None:
        match frame:
            case spdy.SynStream():
                self._open(frame)
            case spdy.DataFrame(stream_id=sid, data=data, fin=fin):
                stream = self._streams.get(sid)
                if stream is None or stream.remote_closed:
                    status = spdy.STREAM_ALREADY_CLOSED if stream else spdy.INVALID_STREAM
                    self.send(spdy.RstStream(stream_id=sid, status=status))
                    return
                if data:
                    stream._deliver(data)
                if fin:
                    self._remote_fin(stream)
            case spdy.RstStream(stream_id=sid):
                stream = self._streams.get(sid)
                if stream is not None:
                    stream.reset = True
                    stream._end_input()
                    self._forget(sid)
            case spdy.Headers(stream_id=sid, fin=fin):
                stream = self._streams.get(sid)
                if stream is not None and fin:
                    self._remote_fin(stream)
            case spdy.Ping(ping_id=pid):
                if pid % 2 == 1:  # odd IDs are the client's; a server's own pings are even
                    self.send(spdy.Ping(ping_id=pid))
            case spdy.GoAway():
                self._incoming.put(None)
            case spdy.Settings() | spdy.WindowUpdate() | spdy.SynReply():
                pass

    def _open(self, frame: spdy.SynStream) -> None:
        sid = frame.stream_id
        if sid % 2 == 0 or sid <= self._last_stream_id:
            # Stream IDs from a client are odd and increase; anything else breaks the session.
            raise spdy.SpdyError(f"stream id {sid} out of order", spdy.PROTOCOL_ERROR, sid)
        self._last_stream_id = sid
        if self._goaway_sent:
            self.send(spdy.RstStream(stream_id=sid, status=spdy.REFUSED_STREAM))
            return
        stream = SpdyStream(self, sid, frame.headers)
        with self._streams_lock:
            self._streams[sid] = stream
        # The Kubernetes clients wait for the reply before they use a stream.
        self.send(spdy.SynReply(stream_id=sid))
        if frame.fin or frame.unidirectional:
            self._remote_fin(stream)
        if self._on_stream is not None:
            self._on_stream(stream)
        else:
            self._incoming.put(stream)

    def _remote_fin(self, stream: SpdyStream) -> None:
        stream.remote_closed = True
        stream._end_input()
        self._maybe_forget(stream)

    def _maybe_forget(self, stream: SpdyStream) -> None:
        if stream.local_closed and stream.remote_closed:
            self._forget(stream.id)

    def _forget(self, stream_id: int) -> None:
        with self._streams_lock:
            self._streams.pop(stream_id, None)

    # ---- ending ------------------------------------------------------------------------

    def _goaway(self, status: int) -> None:
        if self._goaway_sent:
            return
        self._goaway_sent = True
        with contextlib.suppress(ConnectionError):
            self.send(spdy.GoAway(last_good_stream_id=self._last_stream_id, status=status))

    def _end(self) -> None:
        self.closed = True
        with self._streams_lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for stream in streams:
            stream._end_input()
        self._incoming.put(None)
        self.done.set()

    def close(self, linger: float = 2.0) -> None:
        """GOAWAY, then half-close and wait up to ``linger`` s for the client to hang up.

        Waiting lets the client read everything sent before the socket closes: closing with
        unread input would make the kernel reset the connection and drop our last frames.
        """
        self._goaway(spdy.GOAWAY_OK)
        with self._write_lock:
            shutdown_quietly(self._sock, socket.SHUT_WR)
        if self._reader.is_alive():
            self.done.wait(linger)
        self._end()
        self._sock.close()
