"""What a remote-command session reports on its error channel when it ends.

From v4 on it is a metav1.Status as JSON: ``Success``, or ``Failure`` with reason
``NonZeroExitCode`` and the code as the message of a cause of type ``ExitCode`` (which
metav1.StatusCause serializes under the key ``reason``), or an internal error. Before v4
the channel carries the error text alone, and nothing on success.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["encode_status", "exit_status", "internal_error_status"]

NON_ZERO_EXIT_CODE = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"


def exit_status(exit_code: int | None, cmd: tuple[str, ...] = ()) -> dict[str, Any]:
    """The status of a finished command (None: nothing to report, which counts as success)."""
    if not exit_code:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: "
        f"error executing command {list(cmd)}, exit code {exit_code}",
        "reason": NON_ZERO_EXIT_CODE,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(exit_code)}]},
    }


def internal_error_status(message: str) -> dict[str, Any]:
    """The status of a session that could not run its command (like apierrors.NewInternalError)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def encode_status(status: dict[str, Any], version: int) -> bytes:
    """The bytes to write on the error channel for protocol ``version`` ("" means nothing)."""
    if version >= 4:
        return json.dumps(status, separators=(",", ":")).encode()
    if status["status"] == "Success":
        return b""
    return str(status.get("message", "")).encode()
