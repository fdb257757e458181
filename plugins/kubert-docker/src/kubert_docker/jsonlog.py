"""The engine's json-file records turned into CRI log lines, as a pure function of the records.

A json-file record is ``{"log":"…","stream":"stdout|stderr","time":"<RFC3339Nano>"}``, one per
line of the file. The engine writes a line of the container's output as one record whose text
ends with a newline, and a line longer than its 16 KiB buffer as several records of which only
the last ends with one: those map to CRI ``P`` (partial) and ``F`` (full) lines. A TTY has no
line boundaries (a record is whatever one read returned), so its records are split at newlines.

Because the output depends on nothing but the records, converting the same records again
yields the same bytes, which is what lets a restarted kubert skip exactly what it had written.
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger(__name__)

#: ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``: the engine writes nine fraction digits; anything else is
#: padded to that so readers that expect the fixed width see it.
_STAMP_LEN = 30
_STREAMS = frozenset(("stdout", "stderr"))
# The engine's log copier cuts a line at its 16 KiB buffer: such a cut record holds exactly
# this many bytes (more only where invalid UTF-8 became U+FFFD). A shorter record without a
# newline is the stream's last fragment, written when the container closed it: a full line,
# as containerd writes it, or a reader that joins P parts would never show it.
_PARTIAL_RECORD_BYTES = 16 * 1024


def _fixed(stamp: str) -> str:
    body = stamp[:-1] if stamp.endswith("Z") else stamp
    head, dot, fraction = body.partition(".")
    return f"{head}.{(fraction if dot else '').ljust(9, '0')[:9]}Z"


def _decode(lines: list[bytes]) -> list[dict[str, str]]:
    """Decode records; one C-level parse for the whole batch, record by record only when a
    record in it is malformed (then that record is skipped)."""
    try:
        batch = json.loads(b"[" + b",".join(lines) + b"]")
        if isinstance(batch, list) and all(isinstance(r, dict) for r in batch):
            return batch
    except ValueError:
        pass
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            log.warning("skipping a malformed engine log record: %.200r", line)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def convert(lines: list[bytes], tty: bool) -> bytes:
    """CRI log lines for json-file records.

    :param lines: complete records, without their trailing newline.
    :param tty: whether the container has a TTY (its records are not lines).
    :returns: the CRI lines, each ``<stamp> <stream> <P|F> <text>\\n``.
    """
    parts: list[str] = []
    add = parts.append
    for record in _decode(lines):
        text = record.get("log")
        stream = record.get("stream")
        stamp = record.get("time")
        if not isinstance(text, str) or stream not in _STREAMS or not isinstance(stamp, str):
            continue
        if len(stamp) != _STAMP_LEN:
            stamp = _fixed(stamp)
        if not tty:
            if text.endswith("\n"):
                add(f"{stamp} {stream} F {text}")
            elif len(text.encode("utf-8", "surrogatepass")) >= _PARTIAL_RECORD_BYTES:
                add(f"{stamp} {stream} P {text}\n")
            else:
                add(f"{stamp} {stream} F {text}\n")
            continue
        *complete, rest = text.split("\n")
        for line in complete:
            add(f"{stamp} {stream} F {line.removesuffix(chr(13))}\n")
        if rest:
            add(f"{stamp} {stream} P {rest}\n")
    # The engine replaced invalid UTF-8 already; surrogates cannot occur, but never fail here.
    return "".join(parts).encode("utf-8", "surrogateescape")
