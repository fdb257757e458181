"""A small SPDY/3.1 client for the tests, built on kubert's framing module: it upgrades like
the Kubernetes Go clients do (POST, ``X-Stream-Protocol-Version``), opens streams with a
``streamType`` header, waits for each reply, and collects what comes back."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit

from kubert.streaming import spdy

TIMEOUT = 30.0


class UpgradeRefused(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def open_socket(url: str, tls: ssl.SSLContext | None = None) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT)
    if parts.scheme == "https":
        assert tls is not None
        sock = tls.wrap_socket(sock, server_hostname=parts.hostname)
    return sock


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """An HTTP message head through its blank line, and the bytes read past it; what arrived
    (no blank line at its end) when the peer hung up first."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            return buf, b""
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    return buf[:end], buf[end:]


def http_request(sock: socket.socket, url: str, method: str, headers: list[tuple[str, str]]
                 ) -> tuple[int, dict[str, list[str]], bytes, bytes]:
    """Send a request head; return (status, headers, body-so-far, bytes after the head)."""
    parts = urlsplit(url)
    lines = [f"{method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
             f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers)]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head, rest = read_head(sock)
    status_line, *fields = head.removesuffix(b"\r\n\r\n").decode("latin-1").split("\r\n")
    found: dict[str, list[str]] = {}
    for field in fields:
        name, _, value = field.partition(":")
        found.setdefault(name.strip().lower(), []).append(value.strip())
    return int(status_line.split()[1]), found, rest, rest


def status_of(url: str, headers: list[tuple[str, str]], method: str = "POST",
              tls: ssl.SSLContext | None = None) -> tuple[int, str]:
    """The HTTP status and body the server answers to a request that it refuses."""
    with open_socket(url, tls) as sock:
        status, _, rest, _ = http_request(sock, url, method, headers)
        body = rest
        while chunk := sock.recv(4096):
            body += chunk
    return status, body.decode("utf-8", "replace")


class ClientStream:
    def __init__(self, conn: SpdyClient, stream_id: int) -> None:
        self.conn = conn
        self.id = stream_id
        self.inbox: queue.Queue[bytes | None] = queue.Queue()
        self.replied = threading.Event()
        self.reset_status: int | None = None

    def write(self, data: bytes) -> None:
        self.conn.send(spdy.DataFrame(stream_id=self.id, data=data))

    def close(self) -> None:
        self.conn.send(spdy.DataFrame(stream_id=self.id, fin=True))

    def read_all(self, timeout: float = TIMEOUT) -> bytes:
        """Everything until the server's FIN (or reset, or the connection's end)."""
        parts = []
        while (data := self.inbox.get(timeout=timeout)) is not None:
            parts.append(data)
        return b"".join(parts)

    def read(self, timeout: float = TIMEOUT) -> bytes | None:
        data = self.inbox.get(timeout=timeout)
        if data is None:
            self.inbox.put(None)
        return data


class SpdyClient:
    """One upgraded connection. :raises UpgradeRefused: the server did not answer 101."""

    def __init__(self, url: str, protocols: list[str], tls: ssl.SSLContext | None = None) -> None:
        self.sock = open_socket(url, tls)
        headers = [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")]
        headers += [("X-Stream-Protocol-Version", p) for p in protocols]
        status, found, rest, _ = http_request(self.sock, url, "POST", headers)
        if status != 101:
            body = rest
            while chunk := self.sock.recv(4096):
                body += chunk
            self.sock.close()
            raise UpgradeRefused(status, body.decode("utf-8", "replace"))
        self.protocol = found.get("x-stream-protocol-version", [""])[0]
        self.sock.settimeout(None)
        self._compressor = spdy.HeaderCompressor()
        self._decoder = spdy.FrameDecoder()
        self._lock = threading.Lock()
        self._next_id = 1
        self.streams: dict[int, ClientStream] = {}
        self.goaway: spdy.GoAway | None = None
        self.pongs: queue.Queue[int] = queue.Queue()
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, args=(rest,), daemon=True)
        self._reader.start()

    def send(self, frame: spdy.Frame) -> None:
        with self._lock:
            self.sock.sendall(spdy.encode_frame(frame, self._compressor))

    def open(self, **headers: str) -> ClientStream:
        """Open a stream with these headers and wait for the server's SYN_REPLY."""
        with self._lock:
            stream = ClientStream(self, self._next_id)
            self._next_id += 2
            self.streams[stream.id] = stream
            frame = spdy.SynStream(stream_id=stream.id, headers=tuple(headers.items()))
            self.sock.sendall(spdy.encode_frame(frame, self._compressor))
        if not stream.replied.wait(TIMEOUT):
            raise TimeoutError(f"no SYN_REPLY for stream {stream.id}")
        return stream

    def _read(self, initial: bytes) -> None:
        data = initial
        try:
            while True:
                for frame in self._decoder.feed(data):
                    self._handle(frame)
                data = self.sock.recv(65536)
                if not data:
                    break
        except OSError:
            pass
        finally:
            for stream in self.streams.values():
                stream.replied.set()
                stream.inbox.put(None)
            self.closed.set()

    def _handle(self, frame: Any) -> None:
        if isinstance(frame, spdy.SynReply):
            self.streams[frame.stream_id].replied.set()
        elif isinstance(frame, spdy.DataFrame):
            stream = self.streams[frame.stream_id]
            if frame.data:
                stream.inbox.put(frame.data)
            if frame.fin:
                stream.inbox.put(None)
        elif isinstance(frame, spdy.RstStream):
            stream = self.streams[frame.stream_id]
            stream.reset_status = frame.status
            stream.replied.set()
            stream.inbox.put(None)
        elif isinstance(frame, spdy.Ping):
            self.pongs.put(frame.ping_id)
        elif isinstance(frame, spdy.GoAway):
            self.goaway = frame

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._reader.join(5)


def run_exec(
    url: str,
    *,
    stdin: bytes | None = None,
    stderr: bool = True,
    tty: bool = False,
    resize: tuple[int, int] | None = None,
    protocol: str = "v4.channel.k8s.io",
) -> tuple[bytes, bytes, bytes]:
    """A whole remote-command session as kubectl runs it: streams in its order (error first),
    stdin written then half-closed. :returns: stdout, stderr, the error stream's bytes."""
    client = SpdyClient(url, [protocol])
    try:
        error = client.open(streamtype="error")
        sin = client.open(streamtype="stdin") if stdin is not None else None
        sout = client.open(streamtype="stdout")
        serr = client.open(streamtype="stderr") if stderr and not tty else None
        sres = client.open(streamtype="resize") if tty and protocol != "v2.channel.k8s.io" else None
        if sres is not None and resize is not None:
            sres.write(json.dumps({"Width": resize[0], "Height": resize[1]}).encode())
        if sin is not None:
            sin.write(stdin or b"")
            sin.close()
        results: dict[str, bytes] = {}
        threads = [
            threading.Thread(target=lambda n=n, s=s: results.__setitem__(n, s.read_all()))
            for n, s in (("stdout", sout), ("stderr", serr), ("error", error)) if s is not None
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        return results["stdout"], results.get("stderr", b""), results["error"]
    finally:
        client.close()
