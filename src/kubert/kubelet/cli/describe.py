"""``kubert describe pod NAME``: everything the kubelet side knows about one pod (``describe
configmap|secret NAME``: the stored object)."""

from __future__ import annotations

import datetime
from typing import Any

import click
import pluggy

from kubert.kubelet.cli.objectctl import KIND_CHOICES, POD_NAMES, describe_object, object_store
from kubert.kubelet.cli.podctl import plugin_status, runtime_options, session
from kubert.kubelet.podstatus import ContainerView


def _time(ns: int) -> str:
    if not ns:
        return "<none>"
    stamp = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _container(view: ContainerView) -> list[str]:
    state = view.state.capitalize()
    lines = [f"  {view.name}:"]
    lines.append(f"    Container ID:   {view.container_id or '<none>'}")
    lines.append(f"    Type:           {view.kind}")
    lines.append(f"    Image:          {view.image}")
    lines.append(f"    Image ID:       {view.image_ref or '<none>'}")
    lines.append(f"    State:          {state}")
    if view.reason:
        lines.append(f"      Reason:       {view.reason}")
    if view.message:
        lines.append(f"      Message:      {view.message}")
    if view.state == "running":
        lines.append(f"      Started:      {_time(view.started_at)}")
    if view.state == "terminated":
        lines.append(f"      Exit Code:    {view.exit_code}")
        lines.append(f"      Started:      {_time(view.started_at)}")
        lines.append(f"      Finished:     {_time(view.finished_at)}")
    if view.last_state:
        lines.append(f"    Last State:     Terminated: {view.last_state}")
    lines.append(f"    Ready:          {view.ready}")
    lines.append(f"    Restart Count:  {view.restart_count}")
    if view.log_path:
        lines.append(f"    Log:            {view.log_path}")
    return lines


def make_command(pm: pluggy.PluginManager) -> click.Command:
    @click.command("describe")
    @click.argument("kind", type=click.Choice(KIND_CHOICES))
    @click.argument("name")
    @click.option("-n", "--namespace", default="default", show_default=True)
    @runtime_options
    def describe(kind: str, name: str, namespace: str, **options: Any) -> None:
        """Show a pod's phase, IPs, sandbox and every container's state."""
        if kind not in POD_NAMES:
            describe_object(object_store(options), kind, name, namespace)
            return
        with session(pm, **options) as s:
            uid, pod = s.find(name, namespace)
            view = s.view(uid, pod)
            stored = s.store.load(uid)
            status = s.manager.observe(uid)
            extras = plugin_status(pm, s, uid, pod, detail=True)
        lines = [
            f"Name:           {view.name}",
            f"Namespace:      {view.namespace}",
            f"UID:            {uid}",
            f"Source:         {stored.source if stored else '<not applied here>'}",
            f"Created:        {_time(view.created_at)}",
            f"Status:         {view.status}",
            f"Phase:          {view.phase}",
            f"IP:             {view.ips[0] if view.ips else '<none>'}",
        ]
        lines += [f"IPs:            {ip}" for ip in view.ips[1:]]
        lines.append(f"Sandbox:        {view.sandbox_id or '<none>'} "
                     f"({'ready' if view.sandbox_ready else 'not ready'})")
        lines.append(f"Sandboxes:      {len(status.sandboxes)}")
        if view.conditions:
            lines.append("Conditions:")
            lines.append(f"  {'Type':<27}{'Status':<8}{'LastTransitionTime':<22}Reason")
            for c in view.conditions:
                lines.append(
                    f"  {c.type:<27}{c.status:<8}{_time(int(c.last_transition_time * 1e9)):<22}"
                    f"{c.reason}".rstrip()
                )
        for key, value in extras.items():  # from plugins (kubert_pod_status_extra)
            first, *rest = value.splitlines() or [""]
            lines.append(f"{key + ':':<16}{first}")
            lines += [f"  {line}" for line in rest]
        if pod is not None:
            lines.append(f"Restart Policy: {pod.spec.restart_policy}")
            if pod.metadata.labels:
                labels = ", ".join(f"{k}={v}" for k, v in sorted(pod.metadata.labels.items()))
                lines.append(f"Labels:         {labels}")
        for title, views in (("Init Containers", view.init_containers),
                             ("Containers", view.containers),
                             ("Ephemeral Containers", view.ephemeral_containers)):
            if views:
                lines.append(f"{title}:")
                for container in views:
                    lines += _container(container)
        click.echo("\n".join(lines))

    return describe
