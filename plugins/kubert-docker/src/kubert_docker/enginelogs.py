"""The engine's json-file log of one container, read from disk across the engine's rotation.

The engine writes ``<id>-json.log`` and rotates it by renaming it to ``<id>-json.log.1`` (the
older ones shift to ``.2``…, the oldest is deleted) and creating a new one. Files are known by
inode, never by name: a file being read is held open, so it stays readable after its rename
or deletion and its inode cannot be reused while kubert knows it. A file kubert has read to
the end stays open until no name in the directory carries its inode any more, so a newly
created file can never be taken for it.
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path
from typing import BinaryIO

from attrs import define, frozen

log = logging.getLogger(__name__)

#: Bytes of a file's beginning that identify it besides its inode (the first record's stamp).
HEAD_BYTES = 128


@frozen
class FilePosition:
    """Where reading stands in one engine log file.

    :ivar ino: the file's inode.
    :ivar head: CRC-32 of its first ``head_len`` bytes (the inode alone could be reused).
    :ivar offset: the first byte not yet converted.
    """

    ino: int
    head_len: int
    head: int
    offset: int


@define
class _Source:
    fh: BinaryIO
    ino: int
    offset: int = 0
    head_len: int = 0
    head: int = 0

    def identify(self) -> None:
        """Fix the head checksum once the file holds enough bytes (or is finished)."""
        if self.head_len >= HEAD_BYTES:
            return
        data = os.pread(self.fh.fileno(), HEAD_BYTES, 0)
        self.head_len, self.head = len(data), zlib.crc32(data)


def _head_matches(fh: BinaryIO, head_len: int, head: int) -> bool:
    data = os.pread(fh.fileno(), head_len, 0)
    return len(data) == head_len and zlib.crc32(data) == head


class EngineLogFiles:
    """The chain of one container's json-file logs, oldest first, read as one byte stream.

    :param path: the current file, ``<data-root>/containers/<id>/<id>-json.log``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.directory = path.parent
        self._sources: list[_Source] = []
        self._finished: dict[int, BinaryIO] = {}
        self._newest_ino = 0

    @property
    def position(self) -> FilePosition | None:
        """The position of the file being read, None before any file exists."""
        if not self._sources:
            return None
        source = self._sources[0]
        source.identify()
        return FilePosition(source.ino, source.head_len, source.head, source.offset)

    def _names(self) -> list[tuple[int, str, int]]:
        """(rotation index, name, inode) of the files present: 0 is the current one."""
        base = self.path.name
        found = []
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if entry.name == base:
                        found.append((0, entry.name, entry.inode()))
                    elif entry.name.startswith(base + ".") and entry.name[len(base) + 1:].isdigit():
                        found.append((int(entry.name[len(base) + 1:]), entry.name, entry.inode()))
        except FileNotFoundError:
            pass
        return sorted(found)

    def open_from(self, position: FilePosition | None) -> bool:
        """Start reading at ``position`` (or at the oldest file's start when None).

        :returns: False when the file of ``position`` is gone (the engine rotated it away);
            reading then starts at the oldest file there is.
        """
        self.scan()
        if position is None:
            return True
        for index, source in enumerate(self._sources):
            if source.ino == position.ino and _head_matches(
                source.fh, position.head_len, position.head
            ):
                for older in self._sources[:index]:
                    self._retire(older)
                del self._sources[:index]
                source.offset = position.offset
                return True
        return False

    def changed(self) -> bool:
        """Whether the current name now holds a file kubert has not opened (a rotation)."""
        try:
            return os.stat(self.path).st_ino != self._newest_ino
        except FileNotFoundError:
            return False

    def scan(self) -> None:
        """Open every file of the chain not yet known, oldest first, after the known ones.

        A rotation only ever adds files newer than all that existed before it, so files
        unknown at a scan are newer than the known ones, and older the higher their index.
        """
        present = self._names()
        known = {s.ino for s in self._sources} | set(self._finished)
        for _, name, ino in reversed(present):
            if ino in known:
                continue
            try:
                fh = (self.directory / name).open("rb", buffering=0)
            except FileNotFoundError:
                continue  # rotated away between the listing and the open
            real = os.fstat(fh.fileno()).st_ino
            if real in known:
                fh.close()
                continue
            known.add(real)
            self._sources.append(_Source(fh, real))
            self._newest_ino = real
        inodes = {ino for _, _, ino in present}
        for ino in [i for i in self._finished if i not in inodes]:
            self._finished.pop(ino).close()

    def read(self, size: int) -> tuple[bytes, bool]:
        """Up to ``size`` bytes from the file being read.

        :returns: (data, switched): ``switched`` is True when the file being read was
            complete and reading moved on to its successor (its data then starts a new file).
        """
        if not self._sources:
            return b"", False
        source = self._sources[0]
        data = os.pread(source.fh.fileno(), size, source.offset)
        if data:
            source.offset += len(data)
            return data, False
        # The successor was opened by an earlier scan, so the engine had closed this file
        # before this read found its end: nothing more can arrive in it.
        if len(self._sources) > 1:
            self._retire(self._sources.pop(0))
            return b"", True
        return b"", False

    def _retire(self, source: _Source) -> None:
        self._finished[source.ino] = source.fh

    def close(self) -> None:
        for source in self._sources:
            source.fh.close()
        for fh in self._finished.values():
            fh.close()
        self._sources.clear()
        self._finished.clear()
