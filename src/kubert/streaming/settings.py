"""Settings of the streaming server, with the kubelet's defaults where it has them."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from kubert.errors import InvalidArgumentError

__all__ = ["StreamingConfig"]


def _positive(instance: Any, attribute: Any, value: float) -> None:
    if not value > 0:
        raise InvalidArgumentError(f"streaming.{attribute.name}", value, "must be positive")


def _port(instance: Any, attribute: Any, value: int) -> None:
    if not 0 <= value <= 65535:
        raise InvalidArgumentError("streaming.port", value, "must be 0..65535 (0 picks a free one)")


@frozen(kw_only=True)
class StreamingConfig:
    """Where and how the streaming server listens.

    :ivar address: bind address; loopback by default, since the kubelet (or crictl) that
        uses the URLs runs on the same node.
    :ivar port: bind port; 0 takes a free one.
    :ivar tls_cert_file: PEM certificate chain; with ``tls_key_file`` the server speaks TLS
        and hands out https:// URLs.
    :ivar tls_key_file: PEM private key of that certificate.
    :ivar base_url: URL prefix handed out (e.g. ``https://node1:10010``); default: built
        from the bound address, 127.0.0.1 when bound to all addresses.
    :ivar token_ttl: seconds a URL stays usable (the kubelet's request cache keeps 1 min).
    :ivar max_pending: URLs handed out and not yet used, at most (the kubelet: 1000).
    :ivar max_sessions: streaming connections at once; more are answered 429.
    :ivar idle_timeout: seconds without traffic before a session is closed (the kubelet's
        --streaming-connection-idle-timeout, 4 h).
    :ivar stream_creation_timeout: seconds a SPDY client has to open its streams (30 s).
    """

    address: str = "127.0.0.1"
    port: int = field(default=0, validator=_port)
    tls_cert_file: str = ""
    tls_key_file: str = ""
    base_url: str = ""
    token_ttl: float = field(default=60.0, validator=_positive)
    max_pending: int = field(default=1000, validator=_positive)
    max_sessions: int = field(default=256, validator=_positive)
    idle_timeout: float = field(default=4 * 3600.0, validator=_positive)
    stream_creation_timeout: float = field(default=30.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise InvalidArgumentError(
                "streaming.tls_key_file" if self.tls_cert_file else "streaming.tls_cert_file",
                "",
                "TLS needs both a certificate file and a key file",
            )

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file)
