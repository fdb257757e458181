"""Run one probe once: exec through ExecSync, httpGet, tcpSocket and grpc against the pod IP.

Each returns ``(succeeded, message)``; nothing raises. As the kubelet's prober: an HTTP status
from 200 to 399 succeeds (redirects are not followed, certificates not verified), a TCP connect
succeeds, a gRPC health check succeeds when it answers SERVING, and an exec probe succeeds when
the command exits 0 within ``timeoutSeconds``.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
from collections.abc import Sequence

import grpc

from kubert.errors import KubertError
from kubert.kubelet.probespec import HTTPGetAction, Probe, resolve_port
from kubert.kubelet.runtime import RuntimeClient

log = logging.getLogger(__name__)

#: The User-Agent the kubelet's HTTP prober sends (its version part is kubert's choice).
USER_AGENT = "kube-probe/1.35"
_HEALTH_CHECK = "/grpc.health.v1.Health/Check"
_SERVING = 1


def run_probe(
    runtime: RuntimeClient,
    container_id: str,
    probe: Probe,
    pod_ip: str,
    named_ports: Sequence[tuple[str, int]] = (),
) -> tuple[bool, str]:
    """Probe ``container_id`` once with ``probe``; ``pod_ip`` is where network probes go."""
    host = pod_ip or "127.0.0.1"  # hostNetwork pods: the node itself
    try:
        if probe.exec is not None:
            result = runtime.exec_sync(
                container_id, list(probe.exec.command), probe.timeout_seconds
            )
            output = (result.stdout + result.stderr).decode(errors="replace").strip()
            return result.exit_code == 0, output or f"exit code {result.exit_code}"
        if probe.http_get is not None:
            action = probe.http_get
            port = resolve_port(action.port, named_ports) or 0
            return _http(action.host or host, port, action, probe.timeout_seconds)
        if probe.tcp_socket is not None:
            port = resolve_port(probe.tcp_socket.port, named_ports) or 0
            target = probe.tcp_socket.host or host
            with socket.create_connection((target, port), timeout=probe.timeout_seconds):
                return True, f"connected to {target}:{port}"
        if probe.grpc is not None:
            return _grpc(host, probe.grpc.port, probe.grpc.service, probe.timeout_seconds)
    except (KubertError, OSError, http.client.HTTPException, grpc.RpcError) as exc:
        log.info("probe of %s failed: %s", container_id[:12], exc)
        return False, str(exc) or type(exc).__name__
    return False, "the probe has no handler"


def _http(host: str, port: int, action: HTTPGetAction, timeout: float) -> tuple[bool, str]:
    connection: http.client.HTTPConnection
    if action.scheme == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    headers.update({h.name: h.value for h in action.http_headers})
    try:
        connection.request("GET", action.path, headers=headers)
        response = connection.getresponse()
        response.read(10 * 1024)
    finally:
        connection.close()
    ok = 200 <= response.status < 400
    return ok, f"HTTP probe {'succeeded' if ok else 'failed'} with statuscode: {response.status}"


def _encode_request(service: str) -> bytes:
    """grpc.health.v1.HealthCheckRequest: field 1, the service name (length-delimited)."""
    data = service.encode()
    if not data:
        return b""
    return b"\x0a" + _varint(len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _decode_status(data: bytes) -> int:
    """grpc.health.v1.HealthCheckResponse: field 1, the status enum (varint); 0 if absent."""
    index = 0
    while index < len(data):
        key = data[index]
        index += 1
        if key == 0x08:
            value = shift = 0
            while index < len(data):
                byte = data[index]
                index += 1
                value |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            return value
        return 0  # an unknown field first: not a health answer kubert can read
    return 0


def _grpc(host: str, port: int, service: str, timeout: float) -> tuple[bool, str]:
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    with grpc.insecure_channel(target) as channel:
        check = channel.unary_unary(
            _HEALTH_CHECK,
            request_serializer=_encode_request,
            response_deserializer=_decode_status,
        )
        status = check(service, timeout=timeout)
    ok = status == _SERVING
    return ok, "service is SERVING" if ok else f"service unhealthy (status {status})"
