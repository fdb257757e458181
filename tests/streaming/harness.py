"""Shared parts of the streaming tests: the stack the fixture builds, a hand-moved clock."""

from __future__ import annotations

import time
from typing import Any

from attrs import define

from kubert.cri.client import CriClient
from kubert.model import ExecRequest
from kubert.streaming.server import StreamingServer
from kubert.streaming.settings import StreamingConfig
from tests.fixtures.server import RunningServer

ECHO_PORT = 7000
#: A server in the pod that never closes a connection itself.
HOLD_PORT = 7001


class FakeClock:
    """Monotonic seconds the test moves by hand, to expire tokens without waiting."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@define
class Stack:
    cri: RunningServer
    client: CriClient
    streaming: StreamingServer
    clock: FakeClock
    sandbox_id: str
    main: str
    echo: str
    console: str
    hold: str
    engine: Any

    def exec_url(self, *cmd: str, container: str | None = None, **flags: bool) -> str:
        flags.setdefault("stdout", True)
        return self.client.exec(ExecRequest(container_id=container or self.main, cmd=cmd, **flags))

    def extra_server(self, **config: Any) -> StreamingServer:
        """Another streaming server on the same runtime, with other settings."""
        server = StreamingServer(self.cri.runtime, StreamingConfig(**config))
        server.start()
        return server


