"""`chatdb` command lines as `chatdb up` prints them: each works as printed from a fresh
shell in the working directory, with the settings it needs from the running mesh in
front (the TLS directory when mTLS is on, the port of the service it talks to when not
the default, the home when not the default)."""

from __future__ import annotations

import shlex

from servers.runtime.cli_support import chatdb_command
from servers.runtime.settings import DEFAULT_PORTS, Settings, default_home


def cli_line(*args: str, service: str = "gateway", home: bool = False, settings: Settings | None = None) -> str:
    settings = settings or Settings()
    env = {}
    if home and settings.home != default_home():
        env["CHATDB_HOME"] = str(settings.home)
    if settings.tls_dir is not None:
        env["CHATDB_TLS_DIR"] = str(settings.tls_dir)  # absolute: a relative one is read under the home
    if settings.port_of(service) != DEFAULT_PORTS[service]:
        env[f"CHATDB_{service.upper()}_PORT"] = str(settings.port_of(service))
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), chatdb_command(), *map(shlex.quote, args)])
