"""A listening streaming server holds none of the protocol code until its first connection."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter: this test process has imported the protocol code already.
PROBE = textwrap.dedent("""
    import json, socket, sys, tempfile
    from pathlib import Path
    from kubert import BackendContext
    from kubert.streaming.server import StreamingServer
    from kubert.streaming.settings import StreamingConfig
    from kubert.testing.memory import MemoryBackend

    PROTOCOL = ("kubert.streaming.upgrade", "websockets", "h11", "kubert.streaming.spdy")
    with tempfile.TemporaryDirectory() as root:
        runtime = MemoryBackend(BackendContext(root_dir=Path(root)))
        server = StreamingServer(runtime, StreamingConfig())
        server.start()
        before = [name for name in PROTOCOL if name in sys.modules]
        host, port = server.base_url.rsplit("//", 1)[1].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            conn.sendall(b"GET /exec/nope HTTP/1.1\\r\\nHost: x\\r\\n"
                         b"Upgrade: websocket\\r\\n\\r\\n")
            answer = conn.recv(100).decode()
        server.stop()
    after = [name for name in PROTOCOL if name in sys.modules]
    print(json.dumps({"before": before, "after": after, "answer": answer.split("\\r\\n")[0]}))
""")



def test_the_protocol_code_loads_with_the_first_connection() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True, cwd=ROOT, timeout=120)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["before"] == []
    assert got["answer"] == "HTTP/1.1 404 Not Found"  # answered as ever, once loaded
    assert set(got["after"]) == {"kubert.streaming.upgrade", "websockets", "h11",
                                 "kubert.streaming.spdy"}
