"""The engine connection: a lazily built, version-negotiated API client and error mapping.

The calls of a pod's life go through kubert's own small client
(:class:`~kubert_docker.engineapi.EngineAPI`, :meth:`Engine.api`); the docker SDK serves the
rest (exec and attach streams, logs, pulls, updates: :meth:`Engine.sdk`,
:meth:`Engine.new_client`) and is imported on its first use, never at plugin import or at an
idle server's start. Every engine call goes through :func:`translate`, which turns either
client's exceptions into kubert's typed errors: an unreachable engine is
:class:`~kubert.UnavailableError`, a missing object NotFound, and so on.
"""

from __future__ import annotations

import contextlib
import logging
import sys
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
from kubert_docker.engineapi import EngineAPI, EngineHTTPError, EngineUnreachable

log = logging.getLogger(__name__)

BACKEND = "docker"
#: The oldest engine API kubert speaks (Docker 20.10).
MIN_API_VERSION = "1.41"
#: The newest: that of the docker SDK 7, whose request and answer shapes kubert's calls follow.
MAX_API_VERSION = "1.44"
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
    """One engine endpoint and the clients negotiated against it, rebuilt when the engine
    returns.

    :param endpoint: ``unix:///…``, ``tcp://…`` (``DOCKER_HOST`` syntax).
    :param timeout: seconds an ordinary API call may take.
    """

    def __init__(self, endpoint: str, timeout: float = 120) -> None:
        self.endpoint = endpoint or DEFAULT_ENDPOINT
        self.timeout = timeout
        self._client: EngineAPI | None = None
        self._sdk: Any = None
        self._lock = threading.Lock()
        self.facts = endpoint_facts(self.endpoint)
        self.api_version = ""

    def api(self) -> EngineAPI:
        """kubert's client for the lifecycle's calls; negotiates the API version on first use."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                self._client = self._connect(self.timeout)
            return self._client

    def sdk(self) -> Any:
        """The docker SDK's ``APIClient`` at the negotiated version, for the calls
        :meth:`api` does not make; imports the SDK on first use."""
        self.api()
        with self._lock:
            if self._sdk is None:
                self._sdk = self.new_client(self.timeout)
            return self._sdk

    def new_client(self, timeout: float | None = None) -> Any:
        """A separate SDK client (for long streams such as exec, logs, pulls) at the same
        version."""
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

    def _connect(self, timeout: float) -> EngineAPI:
        server = self._known_version()
        server_api = str(server.get("ApiVersion", MIN_API_VERSION))
        # Speak the engine's own version up to kubert's newest, so newer fields work.
        chosen = min(server_api, MAX_API_VERSION, key=_version_tuple)
        self.api_version = chosen
        # Many pods are created concurrently: keep up to 64 connections for reuse.
        return EngineAPI(self.endpoint, chosen, timeout=timeout, pool_size=64)

    def _probe(self) -> dict[str, Any]:
        """GET /version without a version prefix: the one request that tells which API to
        speak (made once per endpoint and process, shared by the runtime and image backends)."""
        try:
            probe = EngineAPI(self.endpoint, "", timeout=5, pool_size=0)
        except ValueError as exc:
            raise UnavailableError(BACKEND, str(exc)) from None
        try:
            server = probe.version()
        except (OSError, EngineHTTPError) as exc:
            raise UnavailableError(
                BACKEND, f"cannot reach the engine at {self.endpoint}: {exc}"
            ) from None
        finally:
            probe.close()
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
            client, self._client = self._client, None
            sdk, self._sdk = self._sdk, None
        if client is not None:
            client.close()
        if sdk is not None:
            sdk.close()


def _status_code(exc: Any) -> int:
    response = getattr(exc, "response", None)
    return int(getattr(response, "status_code", 0) or 0)


def _explanation(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc)


#: What the engine's 500 answers say when it lost its own containerd (it is shutting down or
#: containerd restarts): the call may succeed later, so it is UNAVAILABLE, not an error.
_ENGINE_BACKEND_GONE = (
    "connection is closing",
    "transport is closing",
    "error reading from server: EOF",
    "containerd.sock: connect: connection refused",
)


def _refusal(kind: str, ident: str, code: int, text: str) -> KubertError:
    """kubert's error for the engine's answer ``code`` with message ``text``."""
    if code == 503 or (code == 500 and any(m in text for m in _ENGINE_BACKEND_GONE)):
        return UnavailableError(BACKEND, f"the engine cannot serve {kind} {ident!r} now: {text}")
    if code == 404:
        return NotFoundError(kind, ident, text)
    if code == 409:
        if "already in use" in text:
            return AlreadyExistsError(kind, ident, text)
        return FailedPreconditionError(f"{kind} {ident!r}: {text}")
    if code == 400:
        return InvalidArgumentError(kind, ident, f"the engine refused it: {text}")
    return KubertError(f"docker engine error on {kind} {ident!r}: {text}")


@contextlib.contextmanager
def translate(kind: str, ident: str) -> Iterator[None]:
    """Map the engine clients' exceptions raised inside the block to kubert's errors about
    ``kind ident``."""
    try:
        yield
    except KubertError:
        raise
    except EngineHTTPError as exc:
        raise _refusal(kind, ident, exc.status, exc.explanation) from None
    except TimeoutError as exc:
        raise UnavailableError(BACKEND, f"the engine did not answer in time: {exc}") from None
    except EngineUnreachable as exc:
        raise UnavailableError(BACKEND, str(exc)) from None
    except ConnectionError as exc:
        raise UnavailableError(BACKEND, f"lost the engine: {exc}") from None
    except Exception as exc:
        # The SDK's errors can only come from the SDK, and only once something imported it.
        if "docker" not in sys.modules:
            raise
        _translate_sdk(kind, ident, exc)
        raise


def _translate_sdk(kind: str, ident: str, exc: Exception) -> None:
    """Raise kubert's error for the SDK's exception ``exc``; return for anything else."""
    import requests

    import docker

    if isinstance(exc, docker.errors.APIError):
        code = 404 if isinstance(exc, docker.errors.NotFound) else _status_code(exc)
        raise _refusal(kind, ident, code, _explanation(exc)) from None
    if isinstance(exc, requests.exceptions.ConnectionError):
        raise UnavailableError(BACKEND, f"lost the engine: {exc}") from None
    if isinstance(exc, requests.exceptions.Timeout):
        raise UnavailableError(BACKEND, f"the engine did not answer in time: {exc}") from None
    if isinstance(exc, docker.errors.DockerException):
        raise UnavailableError(BACKEND, str(exc)) from None
