"""Validators for CRI fields; a failure raises InvalidArgumentError naming field and value."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kubert.errors import InvalidArgumentError

# Names and namespaces become parts of engine object names joined by "_", so "_" is refused.
_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_UID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_LABEL_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")

MAX_STRING = 64 * 1024
MAX_MAP_BYTES = 256 * 1024  # the API server's cap on all annotations of an object
MAX_LIST = 4096
#: Largest timeout (seconds) a request may carry; beyond it the value is surely a mistake.
MAX_TIMEOUT = 2**31 - 1

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def field_path(attribute: attrs.Attribute[Any]) -> str:
    return attribute.name


def check_name(field: str, value: str) -> None:
    if not value:
        raise InvalidArgumentError(field, value, "must not be empty")
    if not _NAME_RE.match(value):
        raise InvalidArgumentError(
            field, value,
            "must be 1-253 letters, digits, '-' or '.', starting and ending with a letter or digit",
        )


def check_id(field: str, value: str) -> None:
    """An object ID or unambiguous ID prefix as clients send them."""
    if not value:
        raise InvalidArgumentError(field, value, "must not be empty")
    if not _ID_RE.match(value):
        raise InvalidArgumentError(
            field, value, "must be 1-128 letters, digits, '_', '-' or '.'"
        )


def check_label_key(field: str, key: str) -> None:
    prefix, sep, name = key.rpartition("/")
    if not key or not _LABEL_NAME_RE.match(name):
        raise InvalidArgumentError(
            f"{field}[{key!r}]" if key else field,
            key,
            "key must be a qualified name: an optional DNS prefix and '/', then 1-63 "
            "letters, digits, '-', '_' or '.'",
        )
    if sep and not _DNS_SUBDOMAIN_RE.match(prefix):
        raise InvalidArgumentError(
            f"{field}[{key!r}]", key, "key prefix must be a lower-case DNS subdomain"
        )


def name(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    check_name(attribute.name, value)


def uid(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value:
        raise InvalidArgumentError(attribute.name, value, "must not be empty")
    if not _UID_RE.match(value):
        raise InvalidArgumentError(
            attribute.name, value, "must be 1-128 letters, digits, '-' or '.'"
        )


def optional_id(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value:
        check_id(attribute.name, value)


def object_id(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    check_id(attribute.name, value)


def attempt(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 0 <= value < 2**32:
        raise InvalidArgumentError(attribute.name, value, "must be between 0 and 4294967295")


def port(allow_zero: bool) -> Validator:
    low = 0 if allow_zero else 1

    def check(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if not low <= value <= 65535:
            raise InvalidArgumentError(
                attribute.name, value, f"must be a port number between {low} and 65535"
            )

    return check


def bounded_string(limit: int = MAX_STRING) -> Validator:
    def check(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
        if len(value) > limit:
            raise InvalidArgumentError(
                attribute.name, value[:40], f"is {len(value)} characters; the limit is {limit}"
            )
        if "\x00" in value:
            raise InvalidArgumentError(attribute.name, value, "must not contain NUL characters")

    return check


def _check_strings(
    field: str, values: tuple[str, ...], too_many: str, bad_item: str
) -> None:
    """At most MAX_LIST items of at most MAX_STRING characters without NUL."""
    if len(values) > MAX_LIST:
        raise InvalidArgumentError(field, len(values), too_many)
    for index, item in enumerate(values):
        if len(item) > MAX_STRING or "\x00" in item:
            raise InvalidArgumentError(f"{field}[{index}]", item[:40], bad_item)


def string_list(_: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    _check_strings(
        attribute.name, value, f"has {len(value)} items; the limit is {MAX_LIST}",
        f"must be at most {MAX_STRING} characters without NUL",
    )


def command(_: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    """ExecSync's command: size-capped like any string list, and not empty."""
    _check_strings(
        attribute.name, value, f"has more than {MAX_LIST} items",
        f"must be at most {MAX_STRING} characters, no NUL",
    )
    if not value:
        raise InvalidArgumentError(attribute.name, value, "must name a command to run")


def text(limit: int, reason: str, *, required: bool = False) -> Validator:
    """A short free-form string (a handler name, a CIDR list, a path): at most ``limit``
    characters, no NUL and, when ``required``, not empty; ``reason`` says what it must be."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
        if (required and not value) or len(value) > limit or "\x00" in value:
            raise InvalidArgumentError(attribute.name, value[:40], reason)

    return check


def timeout(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    """A request's timeout in seconds: 0 (none) up to MAX_TIMEOUT."""
    if not 0 <= value <= MAX_TIMEOUT:
        raise InvalidArgumentError(
            attribute.name, value, f"must be between 0 and {MAX_TIMEOUT} seconds"
        )


def named_image(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An ImageSpec that names an image (PullImage, RemoveImage); filters may leave it empty."""
    if not value.image:
        raise InvalidArgumentError(f"{attribute.name}.image", value.image, "must name an image")


def string_map(_: Any, attribute: attrs.Attribute[Any], value: Mapping[str, str]) -> None:
    total = 0
    for key, item in value.items():
        check_label_key(attribute.name, key)
        if "\x00" in item:
            raise InvalidArgumentError(
                f"{attribute.name}[{key!r}]", item[:40], "must not contain NUL characters"
            )
        total += len(key) + len(item)
    if total > MAX_MAP_BYTES:
        raise InvalidArgumentError(
            attribute.name, f"{len(value)} entries",
            f"holds {total} bytes; the limit is {MAX_MAP_BYTES}",
        )


# Characters no image reference has; engines put references into URL paths, where these (and
# "." or ".." segments) would reach other endpoints: "a/.." is GET /images/json, a list.
_IMAGE_FORBIDDEN_RE = re.compile(r"[\s?#%\\\x00-\x1f\x7f]")


def image_reference(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """A name[:tag][@digest] or image ID; empty is allowed (filters, unset specs)."""
    if not value:
        return
    segments = value.split("/")
    if _IMAGE_FORBIDDEN_RE.search(value) or any(s in ("", ".", "..") for s in segments):
        raise InvalidArgumentError(
            attribute.name, value[:80],
            "is not an image reference (name[:tag][@digest] or an image ID; no empty, '.' or "
            "'..' path segments, whitespace, '?', '#', '%' or '\\')",
        )


def check_absolute_path(field: str, value: str) -> None:
    if not value.startswith("/"):
        raise InvalidArgumentError(field, value, "must be an absolute path")
    if "\x00" in value or len(value) > 4096:
        raise InvalidArgumentError(field, value[:40], "must be at most 4096 characters without NUL")
    if ".." in value.split("/"):
        raise InvalidArgumentError(field, value, "must not contain '..' components")


def absolute_path(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    check_absolute_path(attribute.name, value)


def optional_absolute_path(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value:
        check_absolute_path(attribute.name, value)


def relative_path(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """A path that must stay inside a base directory (log_path under log_directory)."""
    if not value:
        return
    if "\x00" in value or len(value) > 4096:
        raise InvalidArgumentError(attribute.name, value[:40], "must be at most 4096 characters")
    normal = posixpath.normpath(value)
    if value.startswith("/") or normal == ".." or normal.startswith("../"):
        raise InvalidArgumentError(
            attribute.name, value, "must be a relative path that stays inside its directory"
        )


def non_negative(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 0:
        raise InvalidArgumentError(attribute.name, value, "must not be negative")


def zero_or_range(low: int, high: int) -> Validator:
    """0 (unset), or between ``low`` and ``high``."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if value != 0 and not low <= value <= high:
            raise InvalidArgumentError(
                attribute.name, value, f"must be 0 (unset) or between {low} and {high}"
            )

    return check


def int_range(low: int, high: int) -> Validator:
    def check(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if not low <= value <= high:
            raise InvalidArgumentError(attribute.name, value, f"must be between {low} and {high}")

    return check


def run_as_group(instance: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    """A group applies to a user the request names: RunAsGroup alone is refused (the CRI's
    rule, which containerd enforces; the image's user is not the request's)."""
    if value is not None and instance.run_as_user is None and not instance.run_as_username:
        raise InvalidArgumentError(
            "linux.security_context.run_as_group", value,
            "needs run_as_user or run_as_username",
        )
