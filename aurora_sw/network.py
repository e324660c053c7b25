"""Is a remote host reachable? Checked before any download so that offline work never hangs."""

from __future__ import annotations

import socket
from urllib.parse import urlparse


def host_reachable(url: str, timeout_s: float = 3.0) -> bool:
    """True if a TCP connection to the URL's host (port 443/80) opens within ``timeout_s``."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout_s):
            return True
    except OSError:
        return False
