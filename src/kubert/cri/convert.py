"""Generic conversion between kubert's attrs models and CRI protobuf messages.

The models use the CRI's own field names, so one walk over the attrs fields and the message
descriptor converts any pair: nested messages, repeated fields (tuples), maps (dicts), enums
(IntEnums), the ``Int64Value``/``UInt64Value`` wrappers (``int | None``) and the
``*StateValue`` wrappers of filters (``State | None``). Every refusal is an
:class:`~kubert.errors.InvalidArgumentError` naming the full field path, such as
``config.port_mappings[0].protocol``. Protobuf fields without a model counterpart (Windows
settings, newer additions) are ignored on the way in and left unset on the way out.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from kubert.errors import InvalidArgumentError

__all__ = ["fill_proto", "to_model", "to_proto"]

T = TypeVar("T")
M = TypeVar("M", bound=Message)

_INT_WRAPPERS = frozenset({"runtime.v1.Int64Value", "runtime.v1.UInt64Value"})
_STATE_WRAPPERS = frozenset({"runtime.v1.PodSandboxStateValue", "runtime.v1.ContainerStateValue"})


@attrs.frozen
class _FieldPlan:
    """How one model attribute maps onto one protobuf field."""

    name: str
    proto: FieldDescriptor
    kind: str  # scalar | enum | message | repeated | map | int_wrapper | state_wrapper
    target: Any  # the model class, enum class or None
    required: bool  # the model has no default and the field is a message
    attribute: attrs.Attribute[Any]  # the model's attribute (its validator, for in_order)


def join(path: str, name: str) -> str:
    """``path.name``, or just ``name`` at the top level."""
    return f"{path}.{name}" if path else name


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _is_map(message: Message, field: FieldDescriptor) -> bool:
    # The container tells, not the entry type's options: reading options imports
    # descriptor_pb2 (0.75 MB of a serving process's RSS, for the first map field it converts).
    return (
        field.is_repeated and field.message_type is not None
        and isinstance(getattr(message, field.name), Mapping)
    )


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


_PLANS: dict[tuple[type[Any], str], tuple[_FieldPlan, ...]] = {}


def _plan(cls: type[Any], message: Message) -> tuple[_FieldPlan, ...]:
    """How the model ``cls`` maps onto messages of ``message``'s type (made once per pair)."""
    key = (cls, message.DESCRIPTOR.full_name)
    plans = _PLANS.get(key)
    if plans is None:
        plans = _PLANS[key] = _make_plan(cls, message)
    return plans


def _make_plan(cls: type[Any], message: Message) -> tuple[_FieldPlan, ...]:
    hints = typing.get_type_hints(cls)
    plans: list[_FieldPlan] = []
    for attribute in attrs.fields(cls):
        proto = message.DESCRIPTOR.fields_by_name.get(attribute.name)
        if proto is None:
            continue
        hint, _ = _unwrap_optional(hints[attribute.name])
        target: Any = None
        if _is_map(message, proto):
            kind = "map"
        elif _is_repeated(proto):
            kind = "repeated"
            item = typing.get_args(hint)[0] if typing.get_args(hint) else Any
            target = item
        elif proto.message_type is not None and proto.message_type.full_name in _INT_WRAPPERS:
            kind = "int_wrapper"
        elif proto.message_type is not None and proto.message_type.full_name in _STATE_WRAPPERS:
            kind, target = "state_wrapper", hint
        elif proto.message_type is not None:
            kind, target = "message", hint
        elif proto.enum_type is not None:
            kind, target = "enum", hint
        else:
            kind = "scalar"
        required = kind == "message" and attribute.default is attrs.NOTHING
        plans.append(_FieldPlan(attribute.name, proto, kind, target, required, attribute))
    return tuple(plans)


def _enum(enum_cls: type[enum.IntEnum], number: int, path: str) -> enum.IntEnum:
    try:
        return enum_cls(number)
    except ValueError:
        names = ", ".join(f"{m.name}={m.value}" for m in enum_cls)
        raise InvalidArgumentError(
            path, number, f"is not a known {enum_cls.__name__} value; expected one of {names}"
        ) from None


def _item_to_model(item: Any, target: Any, path: str) -> Any:
    if isinstance(item, Message):
        return to_model(item, target, path)
    if isinstance(target, type) and issubclass(target, enum.IntEnum):
        return _enum(target, item, path)
    return item


def _rebase(path: str, error: InvalidArgumentError) -> InvalidArgumentError:
    """Re-issue a model validation error with the full field path in front of its field."""
    leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
    field_name = error.field
    # Some validators already name their parent (``envs.key``); do not say it twice.
    if leaf and field_name.startswith(leaf + "."):
        field_name = field_name[len(leaf) + 1 :]
    rebased = InvalidArgumentError(join(path, field_name), error.value, error.reason)
    return rebased


def to_model(message: Message, cls: type[T], path: str = "", *, in_order: bool = False) -> T:
    """Build the attrs model ``cls`` from ``message``; ``path`` names it in errors.

    :param in_order: check each field completely (convert it, then run its validator) before
        converting the next, in the model's field order, so that of several bad fields the
        first one is named. The CRI server converts requests this way: a request's own fields
        (IDs first) are checked before its nested messages, as they always were. Otherwise
        every field is converted first and the validators run when the model is built.
    :raises InvalidArgumentError: an unknown enum number, a missing required message or a
        value the model refuses, with the full field path.
    """
    kwargs: dict[str, Any] = {}
    for plan in _plan(cls, message):
        here = join(path, plan.name)
        value = getattr(message, plan.name)
        if plan.kind == "scalar":
            kwargs[plan.name] = value
        elif plan.kind == "enum":
            kwargs[plan.name] = _enum(plan.target, value, here)
        elif plan.kind == "map":
            kwargs[plan.name] = dict(value)
        elif plan.kind == "repeated":
            kwargs[plan.name] = tuple(
                _item_to_model(item, plan.target, f"{here}[{index}]")
                for index, item in enumerate(value)
            )
        elif not message.HasField(plan.name):
            if plan.required:
                raise InvalidArgumentError(here, None, "is required")
            # Unset optional messages keep the model's default (None or an empty model).
        elif plan.kind == "int_wrapper":
            kwargs[plan.name] = value.value
        elif plan.kind == "state_wrapper":
            kwargs[plan.name] = _enum(plan.target, value.state, join(here, "state"))
        else:
            kwargs[plan.name] = to_model(value, plan.target, here)
        validator = plan.attribute.validator
        if in_order and validator is not None and plan.name in kwargs:
            try:
                validator(None, plan.attribute, kwargs[plan.name])
            except InvalidArgumentError as error:
                raise _rebase(path, error) from None
    try:
        return cls(**kwargs)
    except InvalidArgumentError as error:
        raise _rebase(path, error) from None


def fill_proto(model: Any, message: Message) -> Message:
    """Copy the attrs ``model`` into ``message`` (which is returned)."""
    for plan in _plan(type(model), message):
        value = getattr(model, plan.name)
        if value is None:
            continue
        target: Any = getattr(message, plan.name) if plan.kind != "scalar" else None
        if plan.kind == "scalar":
            setattr(message, plan.name, value)
        elif plan.kind == "enum":
            setattr(message, plan.name, int(value))
        elif plan.kind == "map":
            target.update(value)
        elif plan.kind == "repeated":
            if plan.proto.message_type is not None:
                for item in value:
                    fill_proto(item, target.add())
            else:
                target.extend(int(v) if isinstance(v, enum.IntEnum) else v for v in value)
        elif plan.kind == "int_wrapper":
            target.value = value
        elif plan.kind == "state_wrapper":
            target.state = int(value)
        else:
            target.SetInParent()
            fill_proto(value, target)
    return message


def to_proto(model: Any, message_cls: Callable[[], M]) -> M:
    """A new ``message_cls`` holding the attrs ``model``."""
    message = message_cls()
    fill_proto(model, message)
    return message
