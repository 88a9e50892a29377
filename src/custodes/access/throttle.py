"""Sign-in throttling: a stepped delay per username, per source address and per both together.

Each key gets a few free failures, then has to wait before its next attempt, the wait doubling with
each further failure up to a cap. The caps differ on purpose:
- username + address: long (an hour) - one client guessing one account;
- address alone: long - one client trying one password against many usernames;
- username alone: short (a minute) - many clients guessing one account. This is the only key an
  attacker elsewhere can push for a known officer, so it can delay their sign-in by at most the
  cap and never lock them out; an administrator can also clear it at once (`unlock`).
Counts older than a day are forgotten. The decisions are pure functions over plain values.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Step:
    free: int  # failures allowed before any delay
    first_s: int  # the first delay
    cap_s: int  # the longest delay

    def delay(self, failures: int) -> int:
        over = failures - self.free
        if over < 0:
            return 0
        return min(self.first_s * 2 ** min(over, 30), self.cap_s)


@dataclass(frozen=True)
class Policy:
    pair: Step
    address: Step
    user: Step

    @classmethod
    def from_settings(cls, settings) -> Policy:
        return cls(pair=Step(settings.sign_in_max_failures, settings.sign_in_lockout_seconds, 3600),
                   address=Step(4 * settings.sign_in_max_failures, 60, settings.sign_in_address_delay_cap_s),
                   user=Step(2 * settings.sign_in_max_failures, 5, settings.sign_in_user_delay_cap_s))

    def keys(self, username: str, address: str | None) -> dict[str, Step]:
        where = network_of(address)
        username = username[:64]  # longer ones are no officer's (usernames are at most 64)
        return {f"pair:{username}|{where}": self.pair, f"addr:{where}": self.address, f"user:{username}": self.user}


def network_of(address: str | None) -> str:
    """IPv4 addresses as they are; IPv6 by /64, since one host is handed a whole /64."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def current(failures: int, last_failure_at: datetime | None, now: datetime) -> int:
    """Failures still counted at `now`."""
    if last_failure_at is None or now - last_failure_at > FORGET_AFTER:
        return 0
    return failures


def user_keys(username: str) -> tuple[str, str]:
    """Prefixes of the keys an unlock clears: the username alone, and with every address."""
    return f"user:{username}", f"pair:{username}|"
