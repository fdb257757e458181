"""The kubelet-compatible streaming server behind Exec, Attach and PortForward.

Only the backend contract is imported here (the core's backend ABCs need it); the server is
:mod:`kubert.streaming.server`, imported when ``kubert serve`` starts it.
"""

from kubert.streaming.contract import STDERR, STDOUT, OutputChunk, ProcessStream

__all__ = ["STDERR", "STDOUT", "OutputChunk", "ProcessStream"]
