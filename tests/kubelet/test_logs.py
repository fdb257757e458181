"""Reading CRI log files: ``<time> <stream> <P|F> <text>``, partial lines joined."""

from __future__ import annotations

from pathlib import Path

from kubert.kubelet.cli.logs import _entries, parse_line


def test_parse_line() -> None:
    assert parse_line("2026-01-01T00:00:00.1Z stderr F oops: x y\n") == (
        "2026-01-01T00:00:00.1Z",
        "stderr",
        False,
        "oops: x y",
    )
    assert parse_line("2026-01-01T00:00:00.1Z stdout F \n")[3] == ""


def test_partial_lines_are_joined_and_an_unfinished_line_waits(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_text("t1 stdout P hel\nt2 stdout F lo\nt3 stderr F bad\nt4 stdout P unfini")
    with path.open() as handle:
        assert list(_entries(handle)) == [("t2", "stdout", "hello"), ("t3", "stderr", "bad")]
        with path.open("a") as writer:
            writer.write("shed \n")
        assert list(_entries(handle)) == []  # a partial entry waits for its final piece
        with path.open("a") as writer:
            writer.write("t5 stdout F now\n")
        assert list(_entries(handle)) == [("t5", "stdout", "unfinished now")]
