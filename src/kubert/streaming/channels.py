"""The channel.k8s.io framing of WebSocket messages, and channels built on it.

Each message carries one channel's data: in the binary protocols the first byte is the
channel number; in the base64 ones (``base64.channel.k8s.io``, ``v4.base64.channel.k8s.io``)
messages are text, the first character is the channel number as an ASCII digit and the rest
is base64. ``v5.channel.k8s.io`` adds the close signal: a message on channel 255 whose one
byte names a channel the client will send no more on.
"""

from __future__ import annotations

import base64
import binascii
import queue
from collections.abc import Callable, Iterable

__all__ = ["CLOSE_SIGNAL", "Channel", "ChannelMux", "decode_message", "encode_message"]

CLOSE_SIGNAL = 255
INBOX_MESSAGES = 64


class ChannelFramingError(ValueError):
    """A message that does not follow the channel framing."""


def encode_message(channel: int, data: bytes, *, binary: bool) -> bytes | str:
    """One message carrying ``data`` on ``channel``."""
    if not 0 <= channel <= 255:
        raise ValueError(f"channel must be 0..255 (got {channel})")
    if binary:
        return bytes((channel,)) + data
    if channel > 9:
        raise ValueError(f"base64 framing has channels 0..9 only (got {channel})")
    return chr(ord("0") + channel) + base64.b64encode(data).decode("ascii")


def decode_message(message: bytes | str, *, binary: bool) -> tuple[int, bytes]:
    """The (channel, data) of one received message.

    :raises ChannelFramingError: empty message, or bad base64.
    """
    if not message:
        raise ChannelFramingError("empty message has no channel byte")
    if binary:
        raw = message.encode() if isinstance(message, str) else message
        return raw[0], raw[1:]
    text = message.decode("ascii", "replace") if isinstance(message, bytes) else message
    channel = ord(text[0]) - ord("0")
    if not 0 <= channel <= 9:
        raise ChannelFramingError(f"base64 message starts with {text[0]!r}, not a channel digit")
    try:
        return channel, base64.b64decode(text[1:], validate=True)
    except binascii.Error as exc:
        raise ChannelFramingError(f"bad base64 on channel {channel}: {exc}") from exc


class Channel:
    """One channel of a WebSocket connection: ``read`` what the client sent on it, ``write``
    to it. Same shape as a SPDY stream, so the protocol logic serves both transports."""

    def __init__(self, mux: ChannelMux, number: int) -> None:
        self._mux = mux
        self.number = number
        self._inbox: queue.Queue[bytes | None] = queue.Queue(INBOX_MESSAGES)
        self._ended = False

    def read(self) -> bytes | None:
        """The next data; None when the client closed this channel or the connection."""
        while True:
            data = self._inbox.get()
            if data is None:
                self._inbox.put(None)
                return None
            if data:
                return data

    def write(self, data: bytes) -> None:
        """:raises ConnectionError: the connection has ended."""
        self._mux.send(self.number, data)

    def close(self) -> None:
        """Nothing to send: the channel protocols have no server-side close of one channel."""

    def _put(self, data: bytes, alive: Callable[[], bool]) -> None:
        while alive():
            try:
                self._inbox.put(data, timeout=0.5)
                return
            except queue.Full:
                continue

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self._inbox.put_nowait(None)
        except queue.Full:
            # A consumer that stopped reading drains the queue first; then it sees the end.
            self._inbox.get_nowait()
            self._inbox.put_nowait(None)


class ChannelMux:
    """Routes messages of one WebSocket connection to its channels.

    :param send_message: sends one WebSocket message.
    :param binary: the binary framing (else base64).
    :param readable: channel numbers the client may send on; messages on others are dropped.
    :param close_signal: honour v5's close signal on channel 255.
    """

    def __init__(
        self,
        send_message: Callable[[bytes | str], None],
        count: int,
        *,
        binary: bool,
        readable: Iterable[int],
        close_signal: bool,
    ) -> None:
        self._send_message = send_message
        self.binary = binary
        self.close_signal = close_signal
        self.channels = [Channel(self, n) for n in range(count)]
        self._readable = set(readable)
        self._alive = True

    def send(self, number: int, data: bytes) -> None:
        self._send_message(encode_message(number, data, binary=self.binary))

    def receive(self, message: bytes | str) -> None:
        """Route one client message; bad framing is dropped (the kubelet ignores it too)."""
        try:
            number, data = decode_message(message, binary=self.binary)
        except ChannelFramingError:
            return
        if number == CLOSE_SIGNAL and self.close_signal:
            if data and data[0] < len(self.channels):
                self.channels[data[0]]._end()
            return
        if number in self._readable and number < len(self.channels):
            self.channels[number]._put(data, lambda: self._alive)

    def end(self) -> None:
        """The connection ended: every channel reads EOF."""
        self._alive = False
        for channel in self.channels:
            channel._end()
