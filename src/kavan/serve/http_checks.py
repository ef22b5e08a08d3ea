"""What `kavan serve` and `kavan label` check before they answer a request: is it meant for this server?

A page from another site can reach a server on this machine in two ways: through DNS rebinding (its own host
name, pointed at 127.0.0.1, ends up in the Host header) and with a cross-site POST (the browser sends the
other site's origin in the Origin header). ``misdirected`` refuses both: a Host header that names neither the
bound address nor an allowed name is answered 421, a POST whose Origin is another origin 403. Both servers use
it unchanged, so they refuse the same requests with the same statuses.

Standard library only: importing it costs no torch.
"""

from __future__ import annotations

import ipaddress
import socket
from http import HTTPStatus
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether a host name or address only reaches this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """Whether a bind address means every interface of the machine."""
    return host.strip("[]") in ("", "0.0.0.0", "::")


def host_names(bound_host: str, allowed_hosts: tuple[str, ...], local_address: str) -> set[str]:
    """The host names a client may put in its Host header: the bound address (for a wildcard bind, the address
    the connection arrived on, ``local_address``, and the machine's name), the loopback names when that address
    is loopback, and ``allowed_hosts``."""
    bound = bound_host.strip("[]").lower()
    names = {name.lower() for name in allowed_hosts}
    if is_wildcard(bound):
        bound = local_address.lower()
        names.add(socket.gethostname().lower())
    names.add(bound)
    if is_loopback(bound):
        names |= LOOPBACK_NAMES
    return names


def misdirected(headers, command: str, port: int, names: set[str], url: str, program: str = "kavan serve",
                what: str = "upload") -> tuple[HTTPStatus, str] | None:
    """(status, message) when the request is not for this server, else None.

    ``headers``: the request's headers; ``command``: its method; ``port``: the port the server listens on;
    ``names``: ``host_names``; ``url``, ``program``, ``what``: for the messages (the server's address, the command
    that has --allow-host, what a refused POST is called). A rebinding page's requests carry its own name in Host;
    a browser sends Origin with every POST, and its own origin for the server's page.
    """
    host = headers.get("Host")
    if host is None:
        return HTTPStatus.BAD_REQUEST, "the request has no Host header"
    try:
        parts = urlsplit("//" + host.strip())
        name, host_port = parts.hostname, parts.port or 80
    except ValueError:
        name = None
    if name is None or parts.path or parts.username is not None or not host.strip():
        return HTTPStatus.BAD_REQUEST, f"bad Host header {host!r}"
    if name not in names or host_port != port:
        return (HTTPStatus.MISDIRECTED_REQUEST,
                f"Host {host!r} is not this server's address ({url}): open the page at that address, or start "
                f"{program} with --allow-host NAME")
    origin = headers.get("Origin")
    if command == "POST" and origin is not None:
        try:
            other = urlsplit(origin.strip())
            same = (other.scheme, other.hostname, other.port or 80) == ("http", name, host_port)
        except ValueError:
            same = False
        if not same:
            return (HTTPStatus.FORBIDDEN, f"cross-origin {what} refused: Origin {origin!r} is not this server's "
                                          f"origin (http://{host.strip()})")
    return None
