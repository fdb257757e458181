"""The json-file record to CRI line conversion (a pure function; no engine needed)."""

from __future__ import annotations

import json

from kubert_docker.jsonlog import convert

STAMP = "2026-12-02T13:12:08.571573488Z"


def record(text: str, stream: str = "stdout", stamp: str = STAMP) -> bytes:
    return json.dumps({"log": text, "stream": stream, "time": stamp}).encode()


def test_lines_and_parts_keep_their_stream_and_stamp() -> None:
    cut = "x" * 16384  # the engine cuts a line at its 16 KiB buffer
    out = convert([record("a\n"), record(cut, "stderr"), record("y\n", "stderr")], tty=False)
    assert out == (f"{STAMP} stdout F a\n{STAMP} stderr P {cut}\n{STAMP} stderr F y\n").encode()


def test_a_last_fragment_without_newline_is_a_full_line() -> None:
    """``printf 'a\\nb'``: the engine writes ``b`` as its own record when the stream closes;
    it is a whole line (as containerd writes it), not a part waiting for more."""
    out = convert([record("a\n"), record("b")], tty=False)
    assert out == f"{STAMP} stdout F a\n{STAMP} stdout F b\n".encode()
    several = "é" * 8192  # 16 KiB of UTF-8 in fewer characters: still a cut
    assert convert([record(several)], tty=False) == f"{STAMP} stdout P {several}\n".encode()


def test_escapes_and_non_ascii_round_trip() -> None:
    text = 'a<b>&\t"\\\x01é\n'
    assert convert([record(text)], tty=False) == f"{STAMP} stdout F {text}".encode()


def test_a_stamp_with_trimmed_fraction_is_padded_to_nine_digits() -> None:
    assert convert([record("a\n", stamp="2026-12-02T13:12:08.5Z")], tty=False) == (
        b"2026-12-02T13:12:08.500000000Z stdout F a\n"
    )
    assert convert([record("a\n", stamp="2026-12-02T13:12:08Z")], tty=False) == (
        b"2026-12-02T13:12:08.000000000Z stdout F a\n"
    )


def test_tty_reads_are_split_at_newlines_and_lose_their_carriage_return() -> None:
    out = convert([record("one\r\ntwo\r\nthr"), record("ee\r\n")], tty=True)
    assert out.decode().splitlines() == [
        f"{STAMP} stdout F one", f"{STAMP} stdout F two", f"{STAMP} stdout P thr",
        f"{STAMP} stdout F ee",
    ]


def test_a_malformed_record_is_skipped_and_the_others_kept() -> None:
    out = convert([record("a\n"), b'{"log":"broken', record("b\n")], tty=False)
    assert out == f"{STAMP} stdout F a\n{STAMP} stdout F b\n".encode()


def test_conversion_is_deterministic() -> None:
    batch = [record(f"{i}\n", "stderr" if i % 3 else "stdout") for i in range(100)]
    whole = convert(batch, tty=False)
    assert whole == b"".join(convert(batch[i:i + 7], tty=False) for i in range(0, 100, 7))
