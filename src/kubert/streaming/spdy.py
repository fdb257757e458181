"""SPDY/3.1 framing: frame types, their wire encoding, and zlib header-block compression.

Pure bytes in, frames out (and back); no sockets. Written from the SPDY/3 and SPDY/3.1 drafts,
which the Kubernetes SPDY clients (crictl, kubectl, older kubelets) speak. The session logic
(streams, replies, pings) lives in :mod:`kubert.streaming.spdy_session`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence

from attrs import field, frozen

__all__ = [
    "DICTIONARY",
    "DataFrame",
    "Frame",
    "FrameDecoder",
    "GoAway",
    "HeaderCompressor",
    "HeaderDecompressor",
    "Headers",
    "Ping",
    "RstStream",
    "Settings",
    "SpdyError",
    "SynReply",
    "SynStream",
    "WindowUpdate",
    "encode_frame",
]

VERSION = 3

# Control frame types.
TYPE_SYN_STREAM = 1
TYPE_SYN_REPLY = 2
TYPE_RST_STREAM = 3
TYPE_SETTINGS = 4
TYPE_PING = 6
TYPE_GOAWAY = 7
TYPE_HEADERS = 8
TYPE_WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01

# RST_STREAM status codes.
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
UNSUPPORTED_VERSION = 4
CANCEL = 5
INTERNAL_ERROR = 6
FLOW_CONTROL_ERROR = 7
STREAM_IN_USE = 8
STREAM_ALREADY_CLOSED = 9
FRAME_TOO_LARGE = 11

# GOAWAY status codes.
GOAWAY_OK = 0
GOAWAY_PROTOCOL_ERROR = 1
GOAWAY_INTERNAL_ERROR = 2

# SETTINGS IDs.
SETTINGS_MAX_CONCURRENT_STREAMS = 4
SETTINGS_INITIAL_WINDOW_SIZE = 7

DEFAULT_WINDOW = 64 * 1024
MAX_LENGTH = 0xFFFFFF
MAX_STREAM_ID = 0x7FFFFFFF
# A decompressed header block larger than this is refused: a few headers are all the
# Kubernetes streaming protocols ever send, and zlib makes a small frame expand a lot.
MAX_HEADER_BLOCK = 256 * 1024


def _dictionary() -> bytes:
    """The SPDY/3 header-compression dictionary (SPDY/3 draft, section 2.6.10.1).

    Its first part is header names and values, each preceded by its 32-bit length; the rest
    is one run of common status lines, dates and media types.
    """
    words = (
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
        "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
        "cache-control", "connection", "content-base", "content-encoding", "content-language",
        "content-length", "content-location", "content-md5", "content-range", "content-type",
        "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
        "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
        "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
        "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
        "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
        "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"
    )
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
        "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
        "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
        "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
        "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
        "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    head = b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)
    return head + tail.encode()


DICTIONARY = _dictionary()


class SpdyError(Exception):
    """A peer broke the protocol.

    :ivar status: the RST_STREAM status (when ``stream_id``) or GOAWAY status to answer with.
    :ivar stream_id: the stream at fault, 0 when the whole session is.
    """

    def __init__(self, message: str, status: int = PROTOCOL_ERROR, stream_id: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.stream_id = stream_id


HeaderList = tuple[tuple[str, str], ...]


def _headers(value: Iterable[tuple[str, str]]) -> HeaderList:
    return tuple((name.lower(), v) for name, v in value)


@frozen(kw_only=True)
class DataFrame:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@frozen(kw_only=True)
class SynStream:
    stream_id: int
    associated_to: int = 0
    priority: int = 0
    slot: int = 0
    headers: HeaderList = field(default=(), converter=_headers)
    fin: bool = False
    unidirectional: bool = False


@frozen(kw_only=True)
class SynReply:
    stream_id: int
    headers: HeaderList = field(default=(), converter=_headers)
    fin: bool = False


@frozen(kw_only=True)
class RstStream:
    stream_id: int
    status: int


@frozen(kw_only=True)
class Settings:
    """SETTINGS: ``entries`` are (id, flags, value) triples."""

    entries: tuple[tuple[int, int, int], ...] = ()
    clear: bool = False


@frozen(kw_only=True)
class Ping:
    ping_id: int


@frozen(kw_only=True)
class GoAway:
    last_good_stream_id: int
    status: int = GOAWAY_OK


@frozen(kw_only=True)
class Headers:
    stream_id: int
    headers: HeaderList = field(default=(), converter=_headers)
    fin: bool = False


@frozen(kw_only=True)
class WindowUpdate:
    """WINDOW_UPDATE; stream 0 is the session window (SPDY/3.1)."""

    stream_id: int
    delta: int


Frame = (
    DataFrame | SynStream | SynReply | RstStream | Settings | Ping | GoAway | Headers | WindowUpdate
)


class HeaderCompressor:
    """One direction's header-block compressor; a session keeps one for all frames it sends,
    so blocks must be compressed in the order their frames go on the wire."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 9, zdict=DICTIONARY)

    def compress(self, headers: Sequence[tuple[str, str]]) -> bytes:
        parts = [struct.pack(">I", len(headers))]
        for name, value in headers:
            n, v = name.lower().encode(), value.encode()
            parts.append(struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v)
        block = b"".join(parts)
        return self._z.compress(block) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """One direction's header-block decompressor, fed blocks in wire order."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=DICTIONARY)

    def decompress(self, data: bytes, stream_id: int) -> HeaderList:
        try:
            block = self._z.decompress(data, MAX_HEADER_BLOCK + 1)
        except zlib.error as exc:
            raise SpdyError(f"header block does not decompress: {exc}") from exc
        if len(block) > MAX_HEADER_BLOCK or self._z.unconsumed_tail:
            raise SpdyError(f"header block larger than {MAX_HEADER_BLOCK} bytes")
        return _parse_header_block(block, stream_id)


def _parse_header_block(block: bytes, stream_id: int) -> HeaderList:
    def bad(why: str) -> SpdyError:
        return SpdyError(f"bad header block: {why}", PROTOCOL_ERROR, stream_id)

    if len(block) < 4:
        raise bad("shorter than its pair count")
    (count,) = struct.unpack_from(">I", block)
    pos, out = 4, []
    for _ in range(count):
        strings = []
        for _what in ("name", "value"):
            if pos + 4 > len(block):
                raise bad("truncated")
            (n,) = struct.unpack_from(">I", block, pos)
            pos += 4
            if pos + n > len(block):
                raise bad("truncated")
            strings.append(block[pos : pos + n].decode("utf-8", "replace"))
            pos += n
        if not strings[0]:
            raise bad("empty header name")
        out.append((strings[0].lower(), strings[1]))
    if pos != len(block):
        raise bad("trailing bytes")
    return tuple(out)


def _control(ftype: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"control frame payload of {len(payload)} bytes is too large")
    return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload


def _check_id(value: int, what: str) -> int:
    if not 0 <= value <= MAX_STREAM_ID:
        raise ValueError(f"{what} must be 0..{MAX_STREAM_ID} (got {value})")
    return value


def encode_frame(frame: Frame, compressor: HeaderCompressor) -> bytes:
    """The wire bytes of ``frame``; header blocks go through ``compressor``."""
    fin = FLAG_FIN if getattr(frame, "fin", False) else 0
    match frame:
        case DataFrame(stream_id=sid, data=data):
            if len(data) > MAX_LENGTH:
                raise ValueError(f"data frame of {len(data)} bytes is too large")
            return struct.pack(">II", _check_id(sid, "stream_id"), (fin << 24) | len(data)) + data
        case SynStream():
            flags = fin | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            fixed = struct.pack(
                ">IIBB",
                _check_id(frame.stream_id, "stream_id"),
                _check_id(frame.associated_to, "associated_to"),
                (frame.priority & 0x7) << 5,
                frame.slot,
            )
            return _control(TYPE_SYN_STREAM, flags, fixed + compressor.compress(frame.headers))
        case SynReply(stream_id=sid, headers=headers):
            block = compressor.compress(headers)
            return _control(TYPE_SYN_REPLY, fin, struct.pack(">I", _check_id(sid, "id")) + block)
        case RstStream(stream_id=sid, status=status):
            return _control(TYPE_RST_STREAM, 0, struct.pack(">II", _check_id(sid, "id"), status))
        case Settings(entries=entries, clear=clear):
            body = struct.pack(">I", len(entries)) + b"".join(
                struct.pack(">II", (flags << 24) | sid, value) for sid, flags, value in entries
            )
            return _control(TYPE_SETTINGS, FLAG_SETTINGS_CLEAR if clear else 0, body)
        case Ping(ping_id=pid):
            return _control(TYPE_PING, 0, struct.pack(">I", pid))
        case GoAway(last_good_stream_id=last, status=status):
            return _control(TYPE_GOAWAY, 0, struct.pack(">II", _check_id(last, "id"), status))
        case Headers(stream_id=sid, headers=headers):
            block = compressor.compress(headers)
            return _control(TYPE_HEADERS, fin, struct.pack(">I", _check_id(sid, "id")) + block)
        case WindowUpdate(stream_id=sid, delta=delta):
            if not 1 <= delta <= MAX_STREAM_ID:
                raise ValueError(f"WINDOW_UPDATE delta must be 1..{MAX_STREAM_ID} (got {delta})")
            return _control(TYPE_WINDOW_UPDATE, 0, struct.pack(">II", _check_id(sid, "id"), delta))
    raise TypeError(f"not a SPDY frame: {frame!r}")


class FrameDecoder:
    """Turns received bytes into frames; keeps the partial frame and the header context."""

    def __init__(self, max_data: int = MAX_LENGTH) -> None:
        self._buf = bytearray()
        self._headers = HeaderDecompressor()
        self._max_data = max_data

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data``; return every frame now complete. Unknown control types are skipped.

        :raises SpdyError: a malformed frame; the session should answer with GOAWAY or
            RST_STREAM as ``status`` and ``stream_id`` say.
        """
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word, length_word = struct.unpack_from(">II", self._buf)
            flags, length = length_word >> 24, length_word & MAX_LENGTH
            if not word & 0x80000000 and length > self._max_data:
                raise SpdyError(f"data frame of {length} bytes exceeds {self._max_data}",
                                FRAME_TOO_LARGE, word)
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            if word & 0x80000000:
                frame = self._control(word, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(DataFrame(stream_id=word, data=payload, fin=bool(flags & FLAG_FIN)))
        return frames

    def _control(self, word: int, flags: int, payload: bytes) -> Frame | None:
        version, ftype = (word >> 16) & 0x7FFF, word & 0xFFFF
        if version != VERSION:
            raise SpdyError(f"SPDY version {version} is not supported", UNSUPPORTED_VERSION)
        fin = bool(flags & FLAG_FIN)

        def need(n: int, name: str) -> None:
            if len(payload) < n:
                raise SpdyError(f"{name} frame of {len(payload)} bytes is too short")

        def exact(n: int, name: str) -> None:
            if len(payload) != n:
                raise SpdyError(f"{name} frame must be {n} bytes (got {len(payload)})")

        def stream_at(pos: int) -> int:
            return int(struct.unpack_from(">I", payload, pos)[0]) & MAX_STREAM_ID

        if ftype == TYPE_SYN_STREAM:
            need(10, "SYN_STREAM")
            sid, assoc = stream_at(0), stream_at(4)
            pri, slot = payload[8] >> 5, payload[9]
            headers = self._headers.decompress(payload[10:], sid)
            return SynStream(stream_id=sid, associated_to=assoc, priority=pri, slot=slot,
                             headers=headers, fin=fin,
                             unidirectional=bool(flags & FLAG_UNIDIRECTIONAL))
        if ftype in (TYPE_SYN_REPLY, TYPE_HEADERS):
            name = "SYN_REPLY" if ftype == TYPE_SYN_REPLY else "HEADERS"
            need(4, name)
            sid = stream_at(0)
            headers = self._headers.decompress(payload[4:], sid)
            cls = SynReply if ftype == TYPE_SYN_REPLY else Headers
            return cls(stream_id=sid, headers=headers, fin=fin)
        if ftype == TYPE_RST_STREAM:
            exact(8, "RST_STREAM")
            return RstStream(stream_id=stream_at(0), status=struct.unpack_from(">I", payload, 4)[0])
        if ftype == TYPE_SETTINGS:
            need(4, "SETTINGS")
            (count,) = struct.unpack_from(">I", payload)
            exact(4 + 8 * count, "SETTINGS")
            entries = []
            for i in range(count):
                idflags, value = struct.unpack_from(">II", payload, 4 + 8 * i)
                entries.append((idflags & 0xFFFFFF, idflags >> 24, value))
            return Settings(entries=tuple(entries), clear=bool(flags & FLAG_SETTINGS_CLEAR))
        if ftype == TYPE_PING:
            exact(4, "PING")
            return Ping(ping_id=struct.unpack_from(">I", payload)[0])
        if ftype == TYPE_GOAWAY:
            # SPDY/2 peers send a 4-byte GOAWAY without status; accept it as OK.
            need(4, "GOAWAY")
            status = struct.unpack_from(">I", payload, 4)[0] if len(payload) >= 8 else GOAWAY_OK
            return GoAway(last_good_stream_id=stream_at(0), status=status)
        if ftype == TYPE_WINDOW_UPDATE:
            exact(8, "WINDOW_UPDATE")
            delta = struct.unpack_from(">I", payload, 4)[0] & MAX_STREAM_ID
            if delta == 0:
                raise SpdyError("WINDOW_UPDATE with a zero delta", FLOW_CONTROL_ERROR, stream_at(0))
            return WindowUpdate(stream_id=stream_at(0), delta=delta)
        # The spec tells receivers to ignore control frames of types they do not know
        # (SPDY/3's CREDENTIAL among them: nothing here uses client certificates per stream).
        return None
