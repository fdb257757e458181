"""A stand-in for the API server's side of ``kubectl exec/attach/port-forward``, so that the
real kubectl (a Go client of both protocols) can be pointed at kubert's streaming server.

It answers the pod GET with a minimal running pod, turns the exec/attach/portforward request
into a CRI-style request for the streaming server, and relays the upgraded connection to
the URL the server hands out (as the API server proxies to the kubelet).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from kubert.model import AttachRequest, ExecRequest, PortForwardRequest
from tests.streaming.spdyclient import read_head

Resolve = Callable[[str, dict[str, list[str]]], str]


def _subresource(name: str, kind: str) -> dict[str, object]:
    return {"name": name, "singularName": "", "namespaced": True, "kind": kind,
            "verbs": ["create", "get"]}


# Just enough discovery for kubectl to find pods and their streaming subresources.
_DISCOVERY: dict[str, object] = {
    "/version": {"major": "1", "minor": "32", "gitVersion": "v1.32.0"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
         "verbs": ["get", "list"], "shortNames": ["po"]},
        _subresource("pods/exec", "PodExecOptions"),
        _subresource("pods/attach", "PodAttachOptions"),
        _subresource("pods/portforward", "PodPortForwardOptions"),
    ]},
}


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[-1].lower() in ("1", "true")


def requests_for(
    containers: dict[str, str], sandbox_id: str
) -> Callable[[str, dict[str, list[str]]], object]:
    """Map a kubectl request (kind, query) to the CRI request the kubelet would make;
    ``containers`` maps the pod's container names to their IDs."""

    def build(kind: str, query: dict[str, list[str]]) -> object:
        container_id = containers[query.get("container", [next(iter(containers))])[-1]]
        if kind == "exec":
            return ExecRequest(container_id=container_id, cmd=tuple(query.get("command", [])),
                               stdin=_flag(query, "stdin"), stdout=_flag(query, "stdout"),
                               stderr=_flag(query, "stderr"), tty=_flag(query, "tty"))
        if kind == "attach":
            return AttachRequest(container_id=container_id, stdin=_flag(query, "stdin"),
                                 stdout=_flag(query, "stdout"), stderr=_flag(query, "stderr"),
                                 tty=_flag(query, "tty"))
        return PortForwardRequest(pod_sandbox_id=sandbox_id,
                                  port=tuple(int(p) for p in query.get("ports", [])))

    return build


class ApiProxy:
    """Listens on 127.0.0.1; ``url(kind, query) -> streaming URL`` does the CRI part."""

    def __init__(self, url_for: Resolve, containers: tuple[str, ...] = ("c",)) -> None:
        self._url_for = url_for
        self._containers = containers
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self.requests: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def kubeconfig(self) -> str:
        return json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "t",
            "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
            "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
            "users": [{"name": "t", "user": {}}],
        })

    def close(self) -> None:
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head, rest = read_head(conn)
            if not head.endswith(b"\r\n\r\n"):
                return
            line = head.split(b"\r\n", 1)[0].decode()
            method, target, _ = line.split(" ", 2)
            self.requests.append(f"{method} {target}")
            url = urlsplit(target)
            parts = url.path.strip("/").split("/")
            if method == "GET" and url.path in _DISCOVERY:
                self._json(conn, _DISCOVERY[url.path])
                return
            if method == "GET" and len(parts) == 6 and parts[4] == "pods":
                self._json(conn, {
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": parts[5], "namespace": parts[3]},
                    "spec": {"containers": [{"name": name, "image": "busybox"}
                                            for name in self._containers]},
                    "status": {"phase": "Running"},
                })
                return
            if len(parts) == 7 and parts[6] in ("exec", "attach", "portforward"):
                self._relay(conn, head, rest, parts[6], parse_qs(url.query))
                return
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 2\r\n\r\n{}")

    @staticmethod
    def _json(conn: socket.socket, obj: object) -> None:
        body = json.dumps(obj).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _relay(self, conn: socket.socket, head: bytes, rest: bytes, kind: str,
               query: dict[str, list[str]]) -> None:
        stream_url = urlsplit(self._url_for(kind, query))
        first, fields = head.split(b"\r\n", 1)
        method = first.split(b" ", 1)[0]
        fields = b"\r\n".join(
            f for f in fields.split(b"\r\n") if not f.lower().startswith(b"host:")
        )
        new_head = (method + b" " + stream_url.path.encode() + b" HTTP/1.1\r\nHost: " +
                    stream_url.netloc.encode() + b"\r\n" + fields)
        upstream = socket.create_connection((stream_url.hostname, stream_url.port))
        upstream.sendall(new_head + rest)

        def pump(src: socket.socket, dst: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := src.recv(65536):
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
        back.start()
        pump(conn, upstream)
        back.join(30)
        upstream.close()
