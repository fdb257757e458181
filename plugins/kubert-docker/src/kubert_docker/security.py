"""Security settings to docker's form: seccomp, AppArmor, capabilities, users and groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubert import (
    Capability,
    ContainerUser,
    InvalidArgumentError,
    LinuxContainerUser,
    ProfileType,
    SecurityProfile,
    SupplementalGroupsPolicy,
)


def seccomp_options(profile: SecurityProfile | None, field: str) -> list[str]:
    """``SecurityOpt`` entries for a seccomp profile; the engine's default needs none.

    No profile at all means unconfined, as the CRI says (the kubelet sends RuntimeDefault when
    a pod asks for the default). A localhost profile is read here and sent as JSON, which is
    what the engine API takes.
    """
    if profile is not None and profile.profile_type == ProfileType.RuntimeDefault:
        return []
    if profile is None or profile.profile_type == ProfileType.Unconfined:
        return ["seccomp=unconfined"]
    ref = profile.localhost_ref.removeprefix("localhost/")
    if not ref.startswith("/"):
        raise InvalidArgumentError(
            f"{field}.localhost_ref", profile.localhost_ref,
            "must be the absolute path of a seccomp profile on the node",
        )
    try:
        text = Path(ref).read_text()
        json.loads(text)
    except OSError as exc:
        raise InvalidArgumentError(
            f"{field}.localhost_ref", ref, f"cannot read the profile: {exc.strerror}"
        ) from None
    except ValueError as exc:
        raise InvalidArgumentError(
            f"{field}.localhost_ref", ref, f"is not a JSON seccomp profile: {exc}"
        ) from None
    return [f"seccomp={text}"]


def apparmor_options(
    profile: SecurityProfile | None, field: str, host_has_apparmor: bool
) -> list[str]:
    """``SecurityOpt`` entries for an AppArmor profile.

    Without AppArmor on the host, the default and unconfined ask for nothing; a named profile
    cannot be honoured and is refused rather than silently dropped.
    """
    if profile is None or profile.profile_type == ProfileType.RuntimeDefault:
        return []
    if profile.profile_type == ProfileType.Unconfined:
        return ["apparmor=unconfined"] if host_has_apparmor else []
    name = profile.localhost_ref.removeprefix("localhost/")
    if not host_has_apparmor:
        raise InvalidArgumentError(
            f"{field}.localhost_ref", name, "AppArmor is not enabled on this node"
        )
    if not name:
        raise InvalidArgumentError(f"{field}.localhost_ref", name, "must name a loaded profile")
    return [f"apparmor={name}"]


def _cap(name: str, field: str) -> str:
    upper = name.strip().upper()
    if not upper:
        raise InvalidArgumentError(field, name, "must be a capability name such as NET_ADMIN")
    if upper == "ALL":
        return upper
    return upper if upper.startswith("CAP_") else f"CAP_{upper}"


def capabilities(caps: Capability | None, missing: tuple[str, ...] = ()) -> dict[str, Any]:
    """``CapAdd``/``CapDrop`` for the request's capabilities.

    :param missing: capabilities the host's bounding set lacks (``CAP_…``); ``ALL`` then means
        all the others, as under containerd, instead of failing in runc.
    """
    if caps is None:
        return {}
    body: dict[str, Any] = {}
    added = [
        _cap(c, "linux.security_context.capabilities.add_capabilities")
        for c in caps.add_capabilities
    ]
    dropped = [
        _cap(c, "linux.security_context.capabilities.drop_capabilities")
        for c in caps.drop_capabilities
    ]
    if "ALL" in added and "ALL" not in dropped:
        dropped += [name for name in missing if name and name not in added + dropped]
    if added:
        body["CapAdd"] = added
    if dropped:
        body["CapDrop"] = dropped
    if caps.add_ambient_capabilities:
        raise InvalidArgumentError(
            "linux.security_context.capabilities.add_ambient_capabilities",
            list(caps.add_ambient_capabilities),
            "the docker engine cannot set ambient capabilities",
        )
    return body


def user_string(
    run_as_user: int | None, run_as_group: int | None, run_as_username: str, image_user: str
) -> str:
    """docker's ``User``: ``uid``, ``name`` or either with ``:gid``; "" keeps the image's.

    A group without a user applies to the image's user (root when the image names none).
    """
    if run_as_user is not None:
        user = str(run_as_user)
    elif run_as_username:
        user = run_as_username
    elif run_as_group is not None:
        user = image_user.split(":", 1)[0] or "0"
    else:
        return ""
    return f"{user}:{run_as_group}" if run_as_group is not None else user


def check_groups_policy(policy: SupplementalGroupsPolicy) -> None:
    """Refuse ``Strict``: runc always adds the groups the image's /etc/group gives the user,
    and the engine has no setting to stop it (so Status does not advertise the feature)."""
    if policy == SupplementalGroupsPolicy.Strict:
        raise InvalidArgumentError(
            "linux.security_context.supplemental_groups_policy", "Strict",
            "the docker engine always merges the groups of the image's /etc/group (runc); "
            "only Merge is supported",
        )


def process_user(pid: int, proc: Path = Path("/proc")) -> ContainerUser | None:
    """The effective uid, gid and supplementary groups of process ``pid`` (None when gone)."""
    if pid <= 0:
        return None
    try:
        status = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    try:
        uid = int(fields["Uid"].split()[1])
        gid = int(fields["Gid"].split()[1])
        groups = tuple(int(g) for g in fields.get("Groups", "").split())
    except (KeyError, IndexError, ValueError):
        return None
    return ContainerUser(linux=LinuxContainerUser(uid=uid, gid=gid, supplemental_groups=groups))
