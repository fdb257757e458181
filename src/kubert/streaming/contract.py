"""What a runtime backend hands the streaming server: a process's stdio (exec, attach).

Port forwarding needs no class of its own: the backend returns a connected ``socket.socket``
(see :meth:`kubert.RuntimeBackend.port_forward_stream`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

__all__ = ["STDERR", "STDOUT", "OutputChunk", "ProcessStream"]

STDOUT = 1
STDERR = 2

#: One piece of a process's output: (STDOUT or STDERR, bytes).
OutputChunk = tuple[int, bytes]


class ProcessStream(ABC):
    """The standard streams of a process running in a container, for one client session.

    The streaming server calls :meth:`read` from one thread, :meth:`write_stdin` and
    :meth:`close_stdin` from another and :meth:`resize` from a third, so an implementation
    must allow those to run concurrently. Every method is REQUIRED.
    """

    @abstractmethod
    def read(self) -> OutputChunk | None:
        """REQUIRED. Block for the next output; None once the output has ended for good.

        With a TTY every chunk is STDOUT (a terminal has one output).
        """

    @abstractmethod
    def write_stdin(self, data: bytes) -> None:
        """REQUIRED. Send ``data`` to the process's stdin; dropped when it has none.

        :raises OSError: stdin is gone (the process exited or closed it).
        """

    @abstractmethod
    def close_stdin(self) -> None:
        """REQUIRED. Signal end of input; the process reads EOF (with a TTY: nothing happens
        but the end of input from this client)."""

    @abstractmethod
    def resize(self, width: int, height: int) -> None:
        """REQUIRED. Set the TTY's size in columns and rows; ignored without a TTY."""

    @abstractmethod
    def wait(self) -> int | None:
        """REQUIRED. Called after :meth:`read` returned None.

        :returns: the exec'd process's exit code, or None when there is none to report
            (attach: the client's view of the container ended, not necessarily the container).
        """

    @abstractmethod
    def close(self) -> None:
        """REQUIRED. Release the connection to the engine; called exactly once, last, also
        when the client went away early. Need not stop the process (the kubelet does not)."""
