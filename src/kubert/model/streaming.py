"""Requests for the streaming RPCs (Exec, Attach, PortForward) as the backends receive them."""

from __future__ import annotations

from attrs import field, frozen

from kubert.model import validate
from kubert.model.common import strings_field, tuple_field


@frozen(kw_only=True)
class ExecRequest:
    container_id: str = field(validator=validate.object_id)
    cmd: tuple[str, ...] = strings_field()
    tty: bool = False
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False


@frozen(kw_only=True)
class AttachRequest:
    container_id: str = field(validator=validate.object_id)
    stdin: bool = False
    tty: bool = False
    stdout: bool = False
    stderr: bool = False


@frozen(kw_only=True)
class PortForwardRequest:
    pod_sandbox_id: str = field(validator=validate.object_id)
    port: tuple[int, ...] = tuple_field()
