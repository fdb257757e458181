"""The upgrade record as ``kubert get pods`` (one cell) and ``kubert describe pod`` show it."""

from __future__ import annotations

import datetime

from kubert_inplace.record import UpgradeRecord

KEY = "Upgrade"


def _time(stamp: float) -> str:
    if not stamp:
        return "<none>"
    when = datetime.datetime.fromtimestamp(stamp, tz=datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def short(record: UpgradeRecord) -> str:
    """``Succeeded #2 1/1``: the result, which upgrade, containers done of those touched."""
    done = sum(1 for c in record.containers.values() if c.phase == "Upgraded")
    return f"{record.result} #{record.sequence} {done}/{len(record.containers)}"


def detail(record: UpgradeRecord) -> str:
    """Every field of the record, one per line (the first line stays on the key's line)."""
    lines = [
        f"{record.result} (#{record.sequence}, revision {record.revision})",
        f"Sandbox:    {record.sandbox_id[:13]}",
        f"Started:    {_time(record.started_at)}",
        f"Finished:   {_time(record.finished_at)}",
    ]
    if record.message:
        lines.append(f"Message:    {record.message}")
    for entry in record.containers.values():
        change = (
            f"{entry.old_image} -> {entry.new_image}"
            if entry.reason == "image" else f"{entry.new_image} (fieldRef values changed)"
        )
        downtime = f", downtime {entry.downtime:.3f}s" if entry.downtime is not None else ""
        lines.append(f"{entry.name} ({entry.kind}): {entry.phase}: {change}{downtime}")
        if entry.new_image_ref:
            old_ref = entry.old_image_ref or "<unknown>"
            lines.append(f"  image ID {old_ref} -> {entry.new_image_ref}")
        if entry.message:
            lines.append(f"  {entry.message}")
    return "\n".join(lines)
