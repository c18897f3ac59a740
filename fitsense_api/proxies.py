"""Which proxies may say who the client is: the client address the login throttle counts
is the TCP peer unless that peer is a trusted proxy, whose ``X-Forwarded-For`` then names
the client. Nothing is trusted by default (uvicorn's own default trusts 127.0.0.1, so any
local process or a same-host proxy that passes the header through could forge addresses).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from fitsense_core.errors import ConfigurationError

if TYPE_CHECKING:
    from fitsense_api.settings import ApiSettings

SETTING = "FITSENSE_API_TRUSTED_PROXIES"


def parse_trusted_proxies(value: str) -> tuple[str, ...]:
    """Comma-separated addresses or networks (CIDR). ``*`` is refused: uvicorn then takes
    the leftmost X-Forwarded-For entry, which the client writes itself."""
    proxies = tuple(p.strip() for p in value.split(",") if p.strip())
    for proxy in proxies:
        if proxy == "*":
            raise ConfigurationError(
                f"{SETTING}=* would let every client choose its own address; name the "
                "proxies' addresses or networks"
            )
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise ConfigurationError(
                f"{SETTING}: {proxy!r} is not an IP address or network"
            ) from exc
    return proxies


def uvicorn_proxy_options(settings: ApiSettings) -> dict[str, object]:
    """uvicorn's proxy options for ``settings.trusted_proxies``: forwarding headers are
    ignored when no proxy is trusted."""
    proxies = settings.trusted_proxies
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(proxies)}
