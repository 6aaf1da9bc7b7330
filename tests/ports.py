"""Free TCP ports for the local servers the tests start."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_CANDIDATES = range(10000, 65536)


def _ephemeral_range() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return range(low, high + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def free_port() -> int:
    """A port free now and outside the kernel's ephemeral range.

    A port from bind(("127.0.0.1", 0)) is ephemeral: between closing the probe and the server's own
    bind, any outbound connection on the machine may be given it (CI once lost a simulator port that
    way). Ports below the ephemeral range are only taken by servers that ask for them.
    """
    ephemeral = _ephemeral_range()
    candidates = [p for p in _CANDIDATES if p not in ephemeral]
    rng = random.SystemRandom()  # not the seeded global generator: parallel workers must differ
    for port in rng.sample(candidates, min(200, len(candidates))):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    # A silent fallback to an ephemeral port would bring the race back.
    raise RuntimeError(f"no free port in {_CANDIDATES.start}-{_CANDIDATES.stop - 1} outside the ephemeral range "
                       f"{ephemeral.start}-{ephemeral.stop - 1} (net.ipv4.ip_local_port_range)")
