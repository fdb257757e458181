"""SPDY/3.1 framing against the byte layouts of the SPDY/3 and 3.1 drafts (section 2.2 control
and data frames, 2.6 frame types, 2.6.10 header blocks)."""

from __future__ import annotations

import struct
import zlib

import pytest

from kubert.streaming import spdy


def enc(frame: spdy.Frame) -> bytes:
    return spdy.encode_frame(frame, spdy.HeaderCompressor())


def dec(data: bytes) -> list[spdy.Frame]:
    return spdy.FrameDecoder().feed(data)


# Each layout: control bit + version 3, type, flags, 24-bit length, then the fields.
LAYOUTS = [
    (spdy.Ping(ping_id=1), "80030006 00000004 00000001"),
    (spdy.RstStream(stream_id=3, status=spdy.CANCEL), "80030003 00000008 00000003 00000005"),
    (spdy.GoAway(last_good_stream_id=7, status=spdy.GOAWAY_OK),
     "80030007 00000008 00000007 00000000"),
    (spdy.WindowUpdate(stream_id=1, delta=65536), "80030009 00000008 00000001 00010000"),
    (spdy.WindowUpdate(stream_id=0, delta=1), "80030009 00000008 00000000 00000001"),
    (spdy.Settings(entries=((spdy.SETTINGS_INITIAL_WINDOW_SIZE, 0, 65536),)),
     "80030004 0000000c 00000001 00000007 00010000"),
    (spdy.Settings(entries=((spdy.SETTINGS_MAX_CONCURRENT_STREAMS, 1, 100),), clear=True),
     "80030004 0100000c 00000001 01000004 00000064"),
    (spdy.DataFrame(stream_id=5, data=b"hi", fin=True), "00000005 01000002 6869"),
    (spdy.DataFrame(stream_id=0x7FFFFFFF, data=b""), "7fffffff 00000000"),
]


@pytest.mark.parametrize(("frame", "layout"), LAYOUTS)
def test_fixed_layouts(frame: spdy.Frame, layout: str) -> None:
    wire = bytes.fromhex(layout.replace(" ", ""))
    assert enc(frame) == wire
    assert dec(wire) == [frame]


def test_dictionary_is_the_spdy3_one() -> None:
    # Its length is fixed by the draft; it starts with the length-prefixed "options" and ends
    # with the tail of the media-type run. Interop with a Go peer is in test_kubectl.py.
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")
    assert b"\x00\x00\x00\x08HTTP/1.1\x00\x00\x00\x03url" in spdy.DICTIONARY


def test_syn_stream_layout_and_header_block() -> None:
    frame = spdy.SynStream(stream_id=1, associated_to=0, priority=3, slot=0,
                           headers=(("streamType", "error"),), fin=False)
    wire = enc(frame)
    word, flags_length, sid, assoc, pri, slot = struct.unpack(">IIIIBB", wire[:18])
    assert word == 0x80030001
    assert flags_length >> 24 == 0
    assert flags_length & 0xFFFFFF == len(wire) - 8
    assert (sid, assoc, pri >> 5, slot) == (1, 0, 3, 0)
    block = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(wire[18:])
    # Pair count, then length-prefixed name and value; names go out lowercased.
    assert block == b"\x00\x00\x00\x01\x00\x00\x00\x0astreamtype\x00\x00\x00\x05error"
    assert dec(wire) == [frame]


def test_syn_reply_and_headers_carry_fin_and_share_the_compression_context() -> None:
    compressor = spdy.HeaderCompressor()
    frames = [
        spdy.SynReply(stream_id=1),
        spdy.SynReply(stream_id=3, headers=(("a", "b"),), fin=True),
        spdy.Headers(stream_id=3, headers=(("a", "b"), ("c", "d\0e")), fin=True),
    ]
    wire = b"".join(spdy.encode_frame(f, compressor) for f in frames)
    assert wire[4] == 0  # no flags on the first reply
    decoder = spdy.FrameDecoder()
    # Byte by byte: partial frames wait for the rest.
    got = [f for i in range(len(wire)) for f in decoder.feed(wire[i : i + 1])]
    assert got == frames


def test_unidirectional_syn_stream_flag() -> None:
    wire = enc(spdy.SynStream(stream_id=3, unidirectional=True, fin=True))
    assert wire[4] == spdy.FLAG_FIN | spdy.FLAG_UNIDIRECTIONAL
    (frame,) = dec(wire)
    assert isinstance(frame, spdy.SynStream) and frame.unidirectional and frame.fin


def test_unknown_control_types_are_ignored() -> None:
    credential = bytes.fromhex("8003000a 00000004 00000000".replace(" ", ""))
    ping = enc(spdy.Ping(ping_id=9))
    assert dec(credential + ping) == [spdy.Ping(ping_id=9)]


@pytest.mark.parametrize(
    ("wire", "status", "words"),
    [
        ("80020006 00000004 00000001", spdy.UNSUPPORTED_VERSION, "version 2"),
        ("80030006 00000003 000000", spdy.PROTOCOL_ERROR, "PING frame must be 4"),
        ("80030003 00000004 00000001", spdy.PROTOCOL_ERROR, "RST_STREAM"),
        ("80030009 00000008 00000001 00000000", spdy.FLOW_CONTROL_ERROR, "zero delta"),
        ("80030004 00000008 00000002 00000000", spdy.PROTOCOL_ERROR, "SETTINGS frame must be"),
        ("80030001 00000004 00000001", spdy.PROTOCOL_ERROR, "SYN_STREAM frame of 4 bytes"),
    ],
)
def test_malformed_frames_raise_with_the_status_to_answer(
    wire: str, status: int, words: str
) -> None:
    with pytest.raises(spdy.SpdyError, match=words) as error:
        dec(bytes.fromhex(wire.replace(" ", "")))
    assert error.value.status == status


def test_garbage_header_block_is_a_protocol_error() -> None:
    fixed = struct.pack(">IIBB", 1, 0, 0, 0)
    body = fixed + b"not zlib at all"
    wire = struct.pack(">II", 0x80030001, len(body)) + body
    with pytest.raises(spdy.SpdyError, match="does not decompress"):
        dec(wire)


def test_header_block_bomb_is_refused() -> None:
    z = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zdict=spdy.DICTIONARY)
    value = b"x" * (spdy.MAX_HEADER_BLOCK + 10)
    block = struct.pack(">II", 1, 1) + b"a" + struct.pack(">I", len(value)) + value
    body = struct.pack(">I", 1) + z.compress(block) + z.flush(zlib.Z_SYNC_FLUSH)
    wire = struct.pack(">II", 0x80030002, len(body)) + body
    with pytest.raises(spdy.SpdyError, match="larger than"):
        dec(wire)


def test_truncated_header_block_names_the_stream() -> None:
    z = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zdict=spdy.DICTIONARY)
    body = struct.pack(">I", 5) + z.compress(b"\x00\x00\x00\x02\x00\x00") + z.flush(
        zlib.Z_SYNC_FLUSH)
    wire = struct.pack(">II", 0x80030002, len(body)) + body
    with pytest.raises(spdy.SpdyError, match="truncated") as error:
        dec(wire)
    assert error.value.stream_id == 5


def test_data_frame_over_the_limit() -> None:
    decoder = spdy.FrameDecoder(max_data=10)
    with pytest.raises(spdy.SpdyError) as error:
        decoder.feed(struct.pack(">II", 1, 11))
    assert error.value.status == spdy.FRAME_TOO_LARGE


def test_encoder_refuses_out_of_range_values() -> None:
    with pytest.raises(ValueError, match="stream_id"):
        enc(spdy.DataFrame(stream_id=1 << 31))
    with pytest.raises(ValueError, match="delta"):
        enc(spdy.WindowUpdate(stream_id=1, delta=0))
