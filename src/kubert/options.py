"""ServeOption: a ``kubert serve`` flag that a plugin contributes for one of its backends."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen


@frozen(kw_only=True)
class ServeOption:
    """A flag of ``kubert serve`` and key of the config file's ``[backend.<name>]`` table.

    :ivar flag: the long flag, e.g. ``"--cni-conf-dir"`` (cri-dockerd's name where one exists).
    :ivar backend: the backend name whose options receive the value.
    :ivar key: the option key inside that backend's options.
    :ivar help: one line for ``--help``.
    :ivar type: ``str``, ``int``, ``float``, ``bool`` or ``list`` (repeatable / comma list).
    :ivar default: used when neither the flag nor the config file sets it.
    :ivar envvar: an environment variable that sets it (e.g. ``DOCKER_HOST``).
    """

    flag: str
    backend: str
    key: str
    help: str = ""
    type: str = field(default="str")
    default: Any = None
    envvar: str | None = None

    @type.validator
    def _check_type(self, attribute: Any, value: str) -> None:
        if value not in {"str", "int", "float", "bool", "list"}:
            raise ValueError(
                f"ServeOption.type: must be str, int, float, bool or list (got {value!r})"
            )
