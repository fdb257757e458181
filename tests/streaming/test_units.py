"""The pieces below the server, each on its own: channel framing, tokens, status, resize
events, configuration, and the SPDY session over a real socket pair."""

from __future__ import annotations

import base64
import json
import socket
import threading

import pytest

from kubert.errors import InvalidArgumentError, ResourceExhaustedError
from kubert.streaming import spdy
from kubert.streaming.channels import (
    ChannelFramingError,
    ChannelMux,
    decode_message,
    encode_message,
)
from kubert.streaming.client import StreamingError, exit_code_of
from kubert.streaming.remotecommand import ResizeDecoder
from kubert.streaming.settings import StreamingConfig
from kubert.streaming.spdy_session import SpdySession
from kubert.streaming.status import encode_status, exit_status, internal_error_status
from kubert.streaming.tokens import TokenCache
from tests.streaming.harness import FakeClock

# ---- channel framing ---------------------------------------------------------------------


def test_binary_channel_framing() -> None:
    assert encode_message(0, b"foo\n", binary=True) == b"\x00foo\n"
    assert decode_message(b"\x01\n", binary=True) == (1, b"\n")


def test_base64_channel_framing() -> None:
    # The framing doc's example: "foo\n" on stdin.
    assert encode_message(0, b"foo\n", binary=False) == "0Zm9vCg=="
    assert decode_message("0Zm9vCg==", binary=False) == (0, b"foo\n")
    with pytest.raises(ChannelFramingError, match="channel digit"):
        decode_message("xAAAA", binary=False)
    with pytest.raises(ChannelFramingError, match="bad base64"):
        decode_message("1!!", binary=False)
    with pytest.raises(ValueError, match=r"0\.\.9"):
        encode_message(12, b"", binary=False)


def test_mux_routes_readable_channels_and_the_v5_close_signal() -> None:
    sent: list[bytes | str] = []
    mux = ChannelMux(sent.append, 5, binary=True, readable=[0, 4], close_signal=True)
    mux.receive(b"\x00abc")
    mux.receive(b"\x01dropped: the client may not write stdout")
    mux.receive(b"")  # no channel byte: dropped
    mux.receive(b"\xff\x00")  # close stdin
    assert mux.channels[0].read() == b"abc"
    assert mux.channels[0].read() is None
    assert mux.channels[0].read() is None
    mux.channels[3].write(b"status")
    assert sent == [b"\x03status"]
    mux.end()
    assert mux.channels[4].read() is None


def test_mux_without_close_signal_treats_255_as_data_of_no_channel() -> None:
    mux = ChannelMux(lambda m: None, 5, binary=True, readable=[0], close_signal=False)
    mux.receive(b"\xff\x00")
    mux.receive(b"\x00x")
    assert mux.channels[0].read() == b"x"


# ---- tokens --------------------------------------------------------------------------------


def test_tokens_are_single_use_and_expire() -> None:
    clock = FakeClock()
    cache: TokenCache[str] = TokenCache(ttl=60, max_pending=10, clock=clock)
    first, second = cache.insert("a"), cache.insert("b")
    assert first != second and len(first) >= 16
    assert cache.consume(first) == "a"
    assert cache.consume(first) is None
    clock.now += 61
    assert cache.consume(second) is None
    assert len(cache) == 0


def test_token_cap_counts_only_live_tokens() -> None:
    clock = FakeClock()
    cache: TokenCache[int] = TokenCache(ttl=10, max_pending=2, clock=clock)
    cache.insert(1)
    cache.insert(2)
    with pytest.raises(ResourceExhaustedError, match="2 tokens outstanding"):
        cache.insert(3)
    clock.now += 11
    cache.insert(4)


# ---- status and resize -----------------------------------------------------------------------


def test_exit_status_follows_metav1_status() -> None:
    assert exit_status(0) == {"metadata": {}, "status": "Success"}
    failure = exit_status(3, ("sh", "-c", "exit 3"))
    assert failure["reason"] == "NonZeroExitCode"
    assert failure["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
    assert exit_code_of(encode_status(failure, 4), 4) == 3
    assert exit_code_of(encode_status(exit_status(None), 5), 5) == 0


def test_old_protocols_get_text_and_nothing_on_success() -> None:
    assert encode_status(exit_status(0), 3) == b""
    assert encode_status(exit_status(2), 2).startswith(b"command terminated")
    internal = internal_error_status("no such container")
    assert internal["code"] == 500
    with pytest.raises(StreamingError, match="no such container"):
        exit_code_of(encode_status(internal, 4), 4)


def test_resize_decoder_handles_split_and_joined_events() -> None:
    decoder = ResizeDecoder()
    events = json.dumps({"Width": 80, "Height": 24}) + "\n" + json.dumps(
        {"Width": 100, "Height": 30})
    assert decoder.feed(events[:10].encode()) == []
    assert decoder.feed(events[10:].encode()) == [(80, 24), (100, 30)]
    assert decoder.feed(b'{"Width": 0, "Height": 5}') == []  # a zero size is no size
    with pytest.raises(ValueError, match="non-integer"):
        decoder.feed(b'{"Width": "wide", "Height": 1}')
    with pytest.raises(ValueError, match="no JSON object"):
        ResizeDecoder().feed(b"x" * 5000)


# ---- configuration -------------------------------------------------------------------------


def test_config_errors_name_the_setting() -> None:
    with pytest.raises(InvalidArgumentError, match=r"streaming\.tls_key_file"):
        StreamingConfig(tls_cert_file="/x.pem")
    with pytest.raises(InvalidArgumentError, match=r"streaming\.port"):
        StreamingConfig(port=70000)
    with pytest.raises(InvalidArgumentError, match=r"streaming\.token_ttl"):
        StreamingConfig(token_ttl=0)


# ---- the SPDY session on a socket pair -------------------------------------------------------


class Peer:
    """The client end, driven frame by frame."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.compressor = spdy.HeaderCompressor()
        self.decoder = spdy.FrameDecoder()
        self.pending: list[spdy.Frame] = []
        sock.settimeout(10)

    def send(self, frame: spdy.Frame) -> None:
        self.sock.sendall(spdy.encode_frame(frame, self.compressor))

    def next(self, skip_window_updates: bool = True) -> spdy.Frame | None:
        while True:
            while self.pending:
                frame = self.pending.pop(0)
                if not (skip_window_updates and isinstance(frame, spdy.WindowUpdate)):
                    return frame
            data = self.sock.recv(65536)
            if not data:
                return None
            self.pending.extend(self.decoder.feed(data))


@pytest.fixture
def session_pair() -> tuple[SpdySession, Peer]:
    ours, theirs = socket.socketpair()
    session = SpdySession(ours, idle_timeout=30)
    session.start()
    yield session, Peer(theirs)
    session.close(linger=0.1)
    theirs.close()


def test_session_replies_delivers_and_half_closes(session_pair: tuple[SpdySession, Peer]) -> None:
    session, peer = session_pair
    peer.send(spdy.SynStream(stream_id=1, headers=(("streamType", "stdin"),)))
    assert peer.next() == spdy.SynReply(stream_id=1)
    stream = session.accept(timeout=5)
    assert stream is not None and stream.header("streamtype") == "stdin"
    peer.send(spdy.DataFrame(stream_id=1, data=b"abc"))
    peer.send(spdy.DataFrame(stream_id=1, fin=True))
    assert stream.read() == b"abc"
    assert stream.read() is None
    # Consumed data is acknowledged, per stream and for the session (SPDY/3.1).
    updates = []
    while len(updates) < 2:
        frame = peer.next(skip_window_updates=False)
        assert isinstance(frame, spdy.WindowUpdate)
        updates.append(frame)
    assert {(u.stream_id, u.delta) for u in updates} == {(1, 3), (0, 3)}
    stream.write(b"out")
    stream.close()
    assert peer.next() == spdy.DataFrame(stream_id=1, data=b"out")
    assert peer.next() == spdy.DataFrame(stream_id=1, fin=True)


def test_session_pings_and_resets(session_pair: tuple[SpdySession, Peer]) -> None:
    session, peer = session_pair
    peer.send(spdy.Ping(ping_id=2))  # a server-side ID: not echoed
    peer.send(spdy.Ping(ping_id=5))
    assert peer.next() == spdy.Ping(ping_id=5)
    peer.send(spdy.DataFrame(stream_id=9, data=b"x"))
    assert peer.next() == spdy.RstStream(stream_id=9, status=spdy.INVALID_STREAM)
    peer.send(spdy.SynStream(stream_id=3))
    assert peer.next() == spdy.SynReply(stream_id=3)
    stream = session.accept(timeout=5)
    assert stream is not None
    peer.send(spdy.RstStream(stream_id=3, status=spdy.CANCEL))
    assert stream.read() is None
    with pytest.raises(ConnectionError):
        stream.write(b"late")


def test_session_goes_away_on_a_protocol_error(session_pair: tuple[SpdySession, Peer]) -> None:
    session, peer = session_pair
    peer.send(spdy.SynStream(stream_id=2))  # even IDs belong to the server
    assert peer.next() == spdy.GoAway(last_good_stream_id=0, status=spdy.GOAWAY_PROTOCOL_ERROR)
    assert session.done.wait(5)
    assert session.accept(timeout=1) is None


def test_session_close_says_goaway_with_the_last_stream() -> None:
    ours, theirs = socket.socketpair()
    session = SpdySession(ours, idle_timeout=30)
    session.start()
    peer = Peer(theirs)
    peer.send(spdy.SynStream(stream_id=7))
    assert peer.next() == spdy.SynReply(stream_id=7)
    closer = threading.Thread(target=session.close)
    closer.start()
    assert peer.next() == spdy.GoAway(last_good_stream_id=7)
    assert peer.next() is None  # then the server half-closes
    theirs.close()
    closer.join(5)
    assert not closer.is_alive()


def test_idle_session_ends() -> None:
    ours, theirs = socket.socketpair()
    session = SpdySession(ours, idle_timeout=0.2)
    session.start()
    assert session.done.wait(10)
    session.close(linger=0)
    theirs.close()


def test_base64_roundtrip_matches_stdlib() -> None:
    data = bytes(range(256))
    message = encode_message(3, data, binary=False)
    assert isinstance(message, str)
    assert base64.b64decode(message[1:]) == data
