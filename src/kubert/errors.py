"""Typed errors raised behind the CRI boundary; `kubert.cri` maps each to one gRPC status code.

Every error subclasses both :class:`KubertError` and the builtin that matches it (as attrs
does), carries its data as attributes, and builds its message before it is raised.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "KubertError",
    "NotFoundError",
    "PluginLoadError",
    "ResourceExhaustedError",
    "UnavailableError",
    "UnimplementedError",
]


class KubertError(Exception):
    """Base of every error kubert raises on purpose.

    ``message`` is the whole human-readable text; subclasses build it from their attributes.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(KubertError, ValueError):
    """A request field holds a value kubert refuses; names the field and the value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        shown = repr(value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        super().__init__(f"{field}: {reason} (got {shown})")
        self.field = field
        self.value = value
        self.reason = reason


class NotFoundError(KubertError, LookupError):
    """The named object (sandbox, container, image, checkpoint ...) does not exist."""

    def __init__(self, kind: str, ident: str, detail: str = "") -> None:
        text = f"{kind} {ident!r} not found"
        super().__init__(f"{text}: {detail}" if detail else text)
        self.kind = kind
        self.ident = ident


class AlreadyExistsError(KubertError, FileExistsError):
    """An object with the same identity (name, attempt) already exists."""

    def __init__(self, kind: str, ident: str, detail: str = "") -> None:
        text = f"{kind} {ident!r} already exists"
        super().__init__(f"{text}: {detail}" if detail else text)
        self.kind = kind
        self.ident = ident


class FailedPreconditionError(KubertError, RuntimeError):
    """The object is in a state that forbids the call (e.g. removing a running sandbox's image)."""


class UnavailableError(KubertError, ConnectionError):
    """A backend's engine cannot be reached right now; retrying later may succeed."""

    def __init__(self, backend: str, detail: str) -> None:
        super().__init__(f"{backend} is unavailable: {detail}")
        self.backend = backend
        self.detail = detail


class DeadlineExceededError(KubertError, TimeoutError):
    """An operation ran out of its time budget; what it started has been stopped."""

    def __init__(self, operation: str, timeout: float) -> None:
        super().__init__(f"{operation} did not finish within {timeout:g}s")
        self.operation = operation
        self.timeout = timeout


class UnimplementedError(KubertError, NotImplementedError):
    """The active backend does not provide this operation."""

    def __init__(self, operation: str, backend: str) -> None:
        super().__init__(f"{operation} is not implemented by the {backend!r} backend")
        self.operation = operation
        self.backend = backend


class ResourceExhaustedError(KubertError, OSError):
    """A limit was reached (too many streams in flight, output too large)."""


class PluginLoadError(KubertError, ImportError):
    """A plugin could not be loaded; ``fix`` says what the user should do."""

    def __init__(self, plugin: str, reason: str, fix: str) -> None:
        super().__init__(f"plugin {plugin!r} cannot load: {reason}; fix: {fix}")
        self.plugin = plugin
        self.reason = reason
        self.fix = fix
