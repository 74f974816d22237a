"""What every platform command needs: settings, a built platform, the CLI's audit actor."""

from __future__ import annotations

import getpass

from yitu.audit.chain import Actor
from yitu.core.settings import Settings
from yitu.runtime import Platform


def platform(settings: Settings | None = None) -> Platform:
    return Platform.build(settings or Settings())


def cli_actor() -> Actor:
    """Changes made from the command line are audited under the operating-system user."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(username=f"cli:{who}"[:64], role="cli", client_ip="local")
