"""Starting the Explorer (apps/explorer.py, Streamlit) so that it is safe wherever it is started.

Streamlit reads ``.streamlit/config.toml`` only from the folder it is started in: started
elsewhere it listens on every interface and sends tracebacks to the browser. ``aurora-sw explore``
therefore passes the safe settings on Streamlit's command line, and the app warns on its own page
when it finds itself bound beyond this machine (:func:`is_loopback`).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import sys
from pathlib import Path

from aurora_sw.errors import AuroraSWError

# Safe settings, passed on the command line because a config.toml is read only in its own folder.
# showErrorDetails "none": the browser gets a generic message and the console the traceback
# (the legacy value ``false`` still sends the traceback to the browser).
SAFE_OPTIONS = {
    "server.headless": "true",
    "client.showErrorDetails": "none",
    "browser.gatherUsageStats": "false",
}


def is_loopback(address: str | None) -> bool:
    """Whether a Streamlit ``server.address`` serves this machine only.

    Parameters
    ----------
    address
        The value of ``server.address``. Unset or empty means every interface (Streamlit's
        default); a host name other than ``localhost`` may resolve to any interface, so it counts
        as beyond loopback.

    Returns
    -------
    bool
        True for ``localhost``, ``127.0.0.0/8`` and ``::1``.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("")
    (True, False, False)
    """
    if not address or not address.strip():
        return False
    host = address.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def explorer_app() -> Path:
    """The Explorer's Streamlit script, ``apps/explorer.py`` beside the ``aurora_sw`` package.

    apps/ is not part of the package, so only a checkout (or an editable install) has it.
    """
    app = Path(__file__).resolve().parent.parent / "apps" / "explorer.py"
    if not app.is_file():
        raise AuroraSWError(
            f"{app}: the Explorer app is not there (aurora-sw was installed without its apps/ folder); "
            "install from a checkout with `pip install -e .`"
        )
    return app


def explorer_command(data: str | os.PathLike, *, port: int | None = None, address: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line that serves the Explorer on ``data``.

    Parameters
    ----------
    data
        The data root the Explorer reads (an ``aurora-sw demo`` output or a project folder); it
        must exist. Passed to the app as an absolute path, so the working directory does not matter.
    port
        TCP port; ``None`` lets Streamlit choose (8501, or the next free one).
    address
        Interface to listen on; the default serves this machine only.

    Returns
    -------
    list of str
        ``[python, -m, streamlit, run, APP, options..., --, --data, ROOT]``.
    """
    root = Path(data)
    if not root.is_dir():
        raise AuroraSWError(f"--data {root}: no such folder; make one with `aurora-sw demo --quick --out {root}`")
    if importlib.util.find_spec("streamlit") is None:
        raise AuroraSWError("streamlit is not installed in this environment; `pip install streamlit`")
    options = {**SAFE_OPTIONS, "server.address": address}
    if port is not None:
        options["server.port"] = str(port)
    args = [arg for key, value in options.items() for arg in (f"--{key}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(explorer_app()), *args, "--", "--data", str(root.resolve())]
