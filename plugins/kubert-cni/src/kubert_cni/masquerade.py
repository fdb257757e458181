"""kubenet's masquerade rule: SNAT pod traffic leaving the node unless it goes to a CIDR
that must see pod addresses (``--non-masquerade-cidr``, the cluster's own range)."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess

from kubert import UnavailableError

COMMENT = "kubert kubenet: SNAT for outbound traffic from pods"


def rule(pod_cidr: str, non_masquerade_cidr: str) -> list[str]:
    """The POSTROUTING rule's match and target, without the -A/-C/-D verb."""
    return [
        "POSTROUTING", "-s", pod_cidr, "!", "-d", non_masquerade_cidr,
        "-m", "addrtype", "!", "--dst-type", "LOCAL",
        "-m", "comment", "--comment", COMMENT, "-j", "MASQUERADE",
    ]


def _tool_name(cidr: str) -> str:
    return "ip6tables" if ipaddress.ip_network(cidr).version == 6 else "iptables"


def ensure(pod_cidr: str, non_masquerade_cidr: str) -> None:
    """Add the rule unless it is there. :raises UnavailableError: iptables is missing or failed."""
    tool = shutil.which(_tool_name(pod_cidr))
    if tool is None:
        raise UnavailableError(
            "kubenet", f"{_tool_name(pod_cidr)} is needed for --non-masquerade-cidr"
        )
    spec = rule(pod_cidr, non_masquerade_cidr)
    if subprocess.run([tool, "-w", "-t", "nat", "-C", *spec], capture_output=True,
                      check=False).returncode == 0:
        return
    done = subprocess.run([tool, "-w", "-t", "nat", "-A", *spec], capture_output=True, check=False)
    if done.returncode != 0:
        raise UnavailableError(
            "kubenet", f"cannot add the masquerade rule: {done.stderr.decode().strip()}"
        )


def remove(pod_cidr: str, non_masquerade_cidr: str) -> None:
    """Delete the rule if it is there (used when the backend closes)."""
    tool = shutil.which(_tool_name(pod_cidr))
    if tool is not None:
        subprocess.run([tool, "-w", "-t", "nat", "-D", *rule(pod_cidr, non_masquerade_cidr)],
                       capture_output=True, check=False)
