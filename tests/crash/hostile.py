"""Hypothesis strategies for hostile CRI requests: any request message of CRI v1, its every
field filled from random and extreme values, derived from the protobuf descriptors so that a
field added to the API is fuzzed without a change here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from kubert.cri.api import pb

#: Strings that have broken parsers, paths and engines before.
NASTY_STRINGS = (
    "", " ", ".", "..", "/", "//", "../../../../etc/passwd", "/etc/shadow", "a/../../b",
    "./../x", "/var/log/../../etc", "\x00", "a\x00b", "\n", "-", "--privileged", "$(id)",
    "`id`", "%s%n", "{}", "null", "\u202e", "\ud7ff", "é", "a" * 254, "x" * 129,
    "sha256:" + "0" * 64, "0" * 64, "k8s_POD_x_y_z_0", "unix:///run/x.sock", "C:\\windows",
    "*", "?", "[", "\\", "'", '"', ";", "|", "&", "\t", "\r\n", "ß" * 40,
)
INT_LIMITS = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def hostile_text(huge: bool = True) -> st.SearchStrategy[str]:
    parts: list[st.SearchStrategy[str]] = [
        st.sampled_from(NASTY_STRINGS),
        st.text(max_size=40),
        st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True),
    ]
    if huge:
        # Past every limit kubert sets (64 KiB strings, 256 KiB maps), under gRPC's 16 MiB.
        parts.append(st.sampled_from((65 * 1024, 300 * 1024, 2 * 1024 * 1024)).map(
            lambda n: "x" * n))
    return st.one_of(*parts)


def _integer(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = sorted({v for v in (lo, hi, 0, 1, -1, lo + 1, hi - 1, 65535, 65536, 2**31 - 1)
                    if lo <= v <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


def _scalar(field: FieldDescriptor, ids: st.SearchStrategy[str] | None) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        text = hostile_text()
        if ids is not None and (field.name.endswith("_id") or field.name == "id"):
            return st.one_of(ids, text)
        return text
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return st.floats(allow_nan=True, allow_infinity=True)
    if kind == FieldDescriptor.TYPE_FLOAT:
        return st.floats(width=32, allow_nan=True, allow_infinity=True)
    if kind == FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        # proto3 enums are open: unknown numbers reach the server as they are.
        return st.one_of(st.sampled_from(known), _integer(-(2**31), 2**31 - 1))
    lo, hi = INT_LIMITS[kind]
    return _integer(lo, hi)


def _map_entries(
    field: FieldDescriptor, depth: int, ids: st.SearchStrategy[str] | None
) -> st.SearchStrategy[dict[Any, Any]]:
    entry = field.message_type
    key = _scalar(entry.fields_by_name["key"], None)
    value_field = entry.fields_by_name["value"]
    if value_field.message_type is not None:
        value: st.SearchStrategy[Any] = message_of(value_field.message_type, depth - 1, ids)
    else:
        value = _scalar(value_field, ids)
    small = st.dictionaries(key, value, max_size=4)
    if value_field.message_type is not None:
        return small
    # A map of many entries, together past the 256 KiB annotation cap.
    many = st.integers(1, 3000).map(lambda n: {f"k{i}": "v" * 100 for i in range(n)})
    return st.one_of(small, many)


def message_of(
    descriptor: Descriptor, depth: int = 4, ids: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[Message]:
    """Messages of ``descriptor``'s type with any subset of fields set to hostile values.

    :param ids: strategy for ``*_id`` fields, mixed in so that some requests reach real objects.
    """
    cls = _message_class(descriptor)
    setters: dict[str, st.SearchStrategy[Callable[[Message], None]]] = {}
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if depth <= 0:
                continue
            setters[field.name] = _map_entries(field, depth, ids).map(_map_setter(field.name))
        elif field.message_type is not None:
            if depth <= 0:
                continue
            sub = message_of(field.message_type, depth - 1, ids)
            if field.is_repeated:
                setters[field.name] = st.lists(sub, max_size=3).map(_extend(field.name))
            else:
                setters[field.name] = sub.map(_copy_setter(field.name))
        elif field.is_repeated:
            setters[field.name] = st.lists(_scalar(field, ids), max_size=4).map(
                _extend(field.name))
        else:
            setters[field.name] = _scalar(field, ids).map(_assign(field.name))
    if not setters:
        return st.builds(cls)
    chosen = st.fixed_dictionaries({}, optional=setters)

    def build(actions: dict[str, Callable[[Message], None]]) -> Message:
        message = cls()
        for action in actions.values():
            action(message)
        return message

    return chosen.map(build)


def _message_class(descriptor: Descriptor) -> type[Message]:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


def _assign(name: str) -> Callable[[Any], Callable[[Message], None]]:
    return lambda value: lambda message: setattr(message, name, value)


def _extend(name: str) -> Callable[[list[Any]], Callable[[Message], None]]:
    return lambda values: lambda message: getattr(message, name).extend(values)


def _copy_setter(name: str) -> Callable[[Message], Callable[[Message], None]]:
    return lambda value: lambda message: getattr(message, name).CopyFrom(value)


def _map_setter(name: str) -> Callable[[dict[Any, Any]], Callable[[Message], None]]:
    def setter(values: dict[Any, Any]) -> Callable[[Message], None]:
        def apply(message: Message) -> None:
            target = getattr(message, name)
            for key, value in values.items():
                if isinstance(value, Message):
                    target[key].CopyFrom(value)
                else:
                    target[key] = value

        return apply

    return setter


def unary_methods() -> list[tuple[str, MethodDescriptor]]:
    """(service name, method) of every unary CRI RPC (GetContainerEvents streams)."""
    found = []
    for service_name in ("RuntimeService", "ImageService"):
        service = pb.DESCRIPTOR.services_by_name[service_name]
        for method in service.methods:
            if not method.server_streaming:
                found.append((service_name, method))
    return found


def _paths(descriptor: Descriptor, depth: int, prefix: tuple[str, ...] = ()) -> list[
    tuple[tuple[str, ...], FieldDescriptor]
]:
    """Every field reachable through singular sub-messages, up to ``depth`` levels."""
    found = []
    for field in descriptor.fields:
        path = (*prefix, field.name)
        found.append((path, field))
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        if field.message_type is not None and not field.is_repeated and not is_map and depth > 0:
            found += _paths(field.message_type, depth - 1, path)
    return found


def mutated(base: Message, ids: st.SearchStrategy[str] | None = None,
            most: int = 3) -> st.SearchStrategy[Message]:
    """``base`` (a valid request) with one to ``most`` fields replaced by hostile values, so
    that requests get past the first check and reach the backend."""
    paths = _paths(base.DESCRIPTOR, 3)

    def value_for(field: FieldDescriptor) -> st.SearchStrategy[Any]:
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        if is_map:
            return _map_entries(field, 2, ids)
        if field.message_type is not None:
            sub = message_of(field.message_type, 2, ids)
            return st.lists(sub, max_size=3) if field.is_repeated else sub
        if field.is_repeated:
            return st.lists(_scalar(field, ids), max_size=4)
        return _scalar(field, ids)

    change = st.sampled_from(paths).flatmap(
        lambda pf: value_for(pf[1]).map(lambda value: (pf[0], pf[1], value))
    )

    def apply(changes: list[tuple[tuple[str, ...], FieldDescriptor, Any]]) -> Message:
        message = type(base)()
        message.CopyFrom(base)
        for path, field, value in changes:
            target = message
            for name in path[:-1]:
                target = getattr(target, name)
            name = path[-1]
            is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
            if is_map:
                _map_setter(name)(value)(target)
            elif field.is_repeated:
                target.ClearField(name)
                getattr(target, name).extend(value)
            elif field.message_type is not None:
                getattr(target, name).CopyFrom(value)
            else:
                setattr(target, name, value)
        return message

    return st.lists(change, min_size=1, max_size=most).map(apply)
