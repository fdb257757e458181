"""The engine connection: a lazily built, version-negotiated docker API client and error mapping.

The docker SDK is imported here, on first use, never at plugin import. Every engine call goes
through :func:`translate`, which turns the SDK's exceptions into kubert's typed errors: an
unreachable engine is :class:`~kubert.UnavailableError`, a missing object NotFound, and so on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from kubert import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    KubertError,
    NotFoundError,
    UnavailableError,
)

log = logging.getLogger(__name__)

BACKEND = "docker"
#: The oldest engine API kubert speaks (Docker 20.10).
MIN_API_VERSION = "1.41"
DEFAULT_ENDPOINT = "unix:///var/run/docker.sock"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class EndpointFacts:
    """What every :class:`Engine` of one endpoint in this process shares: the engine's
    ``/version`` answer (asked once, not once per backend and per Version call) and the image
    inspects that an event stream keeps current.

    An image inspect is served from :meth:`cached_image` only while some
    :class:`~kubert_docker.state.StateView` follows this endpoint's events
    (:meth:`following`), and only if no image event (pull, tag, untag, delete, load …) and no
    reconnection came between the inspect and the read: the generation counts those.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version: dict[str, Any] | None = None
        self.api_version = ""
        self._followers = 0
        self._generation = 0
        self._images: dict[str, dict[str, Any]] = {}

    # ---- image inspects ----------------------------------------------------------------

    def generation(self) -> int:
        return self._generation

    def images_changed(self) -> None:
        """An image event or a (re)connection: forget every cached inspect."""
        with self.lock:
            self._generation += 1
            self._images.clear()

    def following(self, healthy: bool) -> None:
        """A state view started (``True``) or stopped (``False``) following the events."""
        with self.lock:
            self._followers = max(0, self._followers + (1 if healthy else -1))
            self._generation += 1
            self._images.clear()

    def cached_image(self, ref: str) -> dict[str, Any] | None:
        with self.lock:
            return self._images.get(ref) if self._followers else None

    def store_image(self, ref: str, inspect: dict[str, Any], generation: int) -> None:
        """Remember ``inspect`` under ``ref`` and its ID, if nothing changed since
        ``generation`` (read before the inspect was sent)."""
        with self.lock:
            if self._followers and generation == self._generation:
                self._images[ref] = inspect
                self._images[str(inspect.get("Id", ""))] = inspect


_FACTS: dict[str, EndpointFacts] = {}
_FACTS_LOCK = threading.Lock()


def endpoint_facts(endpoint: str) -> EndpointFacts:
    """The :class:`EndpointFacts` of ``endpoint`` (one per endpoint in this process)."""
    with _FACTS_LOCK:
        return _FACTS.setdefault(endpoint, EndpointFacts())


class Engine:
    """One engine endpoint and a client negotiated against it, rebuilt when the engine returns.

    :param endpoint: ``unix:///…``, ``tcp://…`` (``DOCKER_HOST`` syntax).
    :param timeout: seconds an ordinary API call may take.
    """

    def __init__(self, endpoint: str, timeout: float = 120) -> None:
        self.endpoint = endpoint or DEFAULT_ENDPOINT
        self.timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()
        self.facts = endpoint_facts(self.endpoint)
        self.api_version = ""

    def api(self) -> Any:
        """The low-level ``docker.APIClient``; negotiates the API version on first use."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                self._client = self._connect(self.timeout)
            return self._client

    def new_client(self, timeout: float | None = None) -> Any:
        """A separate client (for long streams such as events and logs) at the same version."""
        self.api()
        import docker

        return docker.APIClient(
            base_url=self.endpoint, version=self.api_version, timeout=timeout, max_pool_size=4
        )

    def server_version(self) -> dict[str, Any]:
        """The engine's ``/version`` answer, asked once per endpoint (and again after
        :meth:`forget_version`, when the engine came back and may be another one)."""
        self.api()
        return self._known_version()

    def _known_version(self) -> dict[str, Any]:
        """The endpoint's shared ``/version`` answer, probed when nobody has it yet."""
        facts = self.facts
        with facts.lock:
            version = facts.version
        if version is None:
            version = self._probe()
            with facts.lock:
                facts.version = version
        return version

    def forget_version(self) -> None:
        """The engine went away: ask ``/version`` again on the next connection."""
        with self.facts.lock:
            self.facts.version = None

    def _connect(self, timeout: float) -> Any:
        import docker

        server = self._known_version()
        server_api = str(server.get("ApiVersion", MIN_API_VERSION))
        # Speak the engine's own version up to what the SDK knows, so newer fields work.
        sdk_max = docker.constants.DEFAULT_DOCKER_API_VERSION
        chosen = min(server_api, sdk_max, key=_version_tuple)
        self.api_version = chosen
        # Many pods are created concurrently; the default pool of 10 would churn connections.
        return docker.APIClient(
            base_url=self.endpoint, version=chosen, timeout=timeout, max_pool_size=64
        )

    def _probe(self) -> dict[str, Any]:
        """GET /version with the oldest API: the one request that tells which API to speak
        (made once per endpoint and process, shared by the runtime and image backends)."""
        import requests

        import docker

        try:
            probe = docker.APIClient(base_url=self.endpoint, version=MIN_API_VERSION, timeout=5)
            try:
                server = probe.version(api_version=False)
            finally:
                probe.close()
        except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
            raise UnavailableError(
                BACKEND, f"cannot reach the engine at {self.endpoint}: {exc}"
            ) from None
        server_api = str(server.get("ApiVersion", MIN_API_VERSION))
        if _version_tuple(server_api) < _version_tuple(MIN_API_VERSION):
            raise UnavailableError(
                BACKEND,
                f"the engine at {self.endpoint} speaks API {server_api}; kubert needs "
                f"{MIN_API_VERSION} (Docker 20.10) or newer",
            )
        log.info("docker engine %s at %s, API %s", server.get("Version"), self.endpoint,
                 server_api)
        return dict(server)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _status_code(exc: Any) -> int:
    response = getattr(exc, "response", None)
    return int(getattr(response, "status_code", 0) or 0)


def _explanation(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc)


@contextlib.contextmanager
def translate(kind: str, ident: str) -> Iterator[None]:
    """Map the SDK's exceptions raised inside the block to kubert's errors about ``kind ident``."""
    import requests

    import docker

    try:
        yield
    except KubertError:
        raise
    except docker.errors.NotFound as exc:
        raise NotFoundError(kind, ident, _explanation(exc)) from None
    except docker.errors.APIError as exc:
        code = _status_code(exc)
        text = _explanation(exc)
        if code == 409:
            if "already in use" in text:
                raise AlreadyExistsError(kind, ident, text) from None
            raise FailedPreconditionError(f"{kind} {ident!r}: {text}") from None
        if code == 400:
            raise InvalidArgumentError(kind, ident, f"the engine refused it: {text}") from None
        raise KubertError(f"docker engine error on {kind} {ident!r}: {text}") from None
    except (requests.exceptions.ConnectionError, ConnectionError) as exc:
        raise UnavailableError(BACKEND, f"lost the engine: {exc}") from None
    except requests.exceptions.Timeout as exc:
        raise UnavailableError(BACKEND, f"the engine did not answer in time: {exc}") from None
    except docker.errors.DockerException as exc:
        raise UnavailableError(BACKEND, str(exc)) from None
