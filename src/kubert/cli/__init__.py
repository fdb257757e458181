"""The ``kubert`` command line: a click group; sub-commands live in sibling modules.

Each module named in :data:`COMMAND_MODULES` provides either ``command`` (a click command) or
``make_command(host)`` (built with the loaded :class:`~kubert.plugins.PluginHost`, e.g. to add
plugin flags). Plugins and layers add theirs through the ``kubert_add_commands`` hook: the
kubelet layer's pod commands (``apply``, ``get``, ``describe``, ``logs``, ``delete``,
``kubelet``) come that way. A plugin that cannot load is reported by ``kubert plugins`` with its
fix, never as a traceback here.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from kubert.plugins import PluginHost

log = logging.getLogger(__name__)

#: Built-in sub-command modules; add yours with a one-line edit.
COMMAND_MODULES: tuple[str, ...] = (
    "kubert.cli.serve",
    "kubert.cli.plugins",
    "kubert.cli.version",
    "kubert.cli.units",
    "kubert.cli.exec",
    "kubert.cli.portforward",
)


@click.group()
def cli() -> None:
    """kubert: a CRI runtime layer built from plugins."""


def _wanted_modules(argv: list[str]) -> tuple[str, ...]:
    """The built-in command modules this invocation needs: only the named command's when
    the first argument names one (``kubert serve`` then does not import the client commands,
    the kubelet layer and the streaming client: megabytes of a long-running server's RSS),
    every module otherwise (help, a plugin's command, a typo)."""
    first = argv[0] if argv else ""
    named = f"kubert.cli.{first}"
    return (named,) if first and named in COMMAND_MODULES else COMMAND_MODULES


def build_cli(host: PluginHost, argv: list[str] | None = None) -> click.Group:
    """Add the built-in commands (those ``argv`` needs, all when it is None) and the plugins'
    commands to :data:`cli`; the plugins' only when ``argv`` does not name a built-in command
    (``kubert serve`` then imports none of the plugins' command modules)."""
    modules = COMMAND_MODULES if argv is None else _wanted_modules(argv)
    for module_name in modules:
        module = importlib.import_module(module_name)
        if hasattr(module, "make_command"):
            cli.add_command(module.make_command(host))
        else:
            cli.add_command(module.command)
    if modules != COMMAND_MODULES:
        return cli  # a built-in command is invoked: no plugin's command can be
    arguments = {"cli": cli, "pm": host.pm}
    # Each implementation on its own (in registration order), so that one broken plugin is
    # reported by name and the others still add theirs; each gets the arguments it names.
    for impl in host.pm.hook.kubert_add_commands.get_hookimpls():
        try:
            impl.function(*(arguments[name] for name in impl.argnames))
        except Exception as error:  # one broken plugin must not take the command line down
            click.echo(
                f"kubert: plugin {impl.plugin_name!r} could not add its commands "
                f"({type(error).__name__}: {error}); run 'kubert plugins'",
                err=True,
            )
    return cli


def main() -> None:
    # Load failures are shown, with their fix, by 'kubert plugins' and by 'kubert serve' when
    # the failed plugin is the one selected; other commands stay quiet about them.
    logging.getLogger("kubert.plugins").setLevel(logging.ERROR)
    try:
        # Serving needs no kubelet-side plugin: their imports stay out of the server's RSS.
        argv = sys.argv[1:]
        host = PluginHost(serving=bool(argv) and argv[0] == "serve").load()
    except (TypeError, ValueError) as error:  # e.g. two plugins register one backend name
        raise SystemExit(f"kubert: cannot load plugins: {error}") from None
    build_cli(host, argv)()
