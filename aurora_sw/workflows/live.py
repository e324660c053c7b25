"""Live mode: each minute, the camera's latest still scored, the real-time solar wind forecast, alerts.

``aurora-sw live`` calls :func:`live_cycle` once (``--once``) or every minute. One cycle:

1. the real-time solar wind at L1 (NOAA SWPC), moved to the bow shock
   (:func:`aurora_sw.solarwind.realtime.realtime_solar_wind`);
2. the camera's latest still (the catalog's ``auroramax_recent`` URL), read strictly, cropped to the
   sky circle of the camera epoch and scored by the classifier (a bad frame is stored as such,
   never scored);
3. P(aurora) at each lead of the forecast, from the solar wind and what the camera saw over the
   last 30 stored minutes;
4. the minute appended to ``STORE/live.csv`` (one writer at a time; a minute run twice is replaced,
   not duplicated), the still kept under ``STORE/frames/``;
5. alerts, on the edge only (not again every minute while it lasts): aurora starts over the camera
   (p now crosses the classifier's threshold), or a lead's forecast crosses ``alert_p``. Each is a
   log line, and a JSON POST to ``webhook`` when one is given (a failed POST is logged, the minute
   is kept).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.errors import AuroraSWError

if TYPE_CHECKING:
    from aurora_sw.catalog import Catalog
    from aurora_sw.forecast.model import ForecastModel
    from aurora_sw.model.checkpoint import Checkpoint

__all__ = ["LIVE_TABLE", "LiveMinute", "check_webhook", "live_cycle", "read_live"]

log = logging.getLogger(__name__)

LIVE_TABLE = "live.csv"
DEFAULT_ALERT_P = 0.5
#: Frame size the still is cropped to before it is stored and scored (the archive's).
STILL_SIZE = 720


@dataclass
class LiveMinute:
    """What one cycle found and did."""

    time_utc: pd.Timestamp
    p_now: float
    frame_problem: str
    forecast: pd.Series
    alerts: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        """One line: p now (or why there is none) and the forecast per lead."""
        now = f"p now {self.p_now:.2f}" if np.isfinite(self.p_now) else f"no frame scored ({self.frame_problem})"
        leads = ", ".join(f"t+{lead} {p:.2f}" for lead, p in self.forecast.items())
        return f"{self.time_utc:%Y-%m-%d %H:%M} UTC  {now}  forecast {leads}  alerts {len(self.alerts)}"


def read_live(store: str | os.PathLike) -> pd.DataFrame:
    """The live store's minutes (``time_utc`` naive UTC), empty when there are none yet."""
    path = Path(store) / LIVE_TABLE
    if not path.exists():
        return pd.DataFrame({"time_utc": pd.Series(dtype="datetime64[ns]"), "p_now": pd.Series(dtype=float)})
    try:
        df = pd.read_csv(path, parse_dates=["time_utc"])
    except (ValueError, pd.errors.ParserError) as exc:
        raise AuroraSWError(f"{path}: not a live table ({type(exc).__name__}); move it away or give another --store") from None
    if "time_utc" not in df or "p_now" not in df:
        raise AuroraSWError(f"{path}: not a live table (no time_utc/p_now columns); move it away or give another --store")
    return df


def _fetch_still(url: str, timeout_s: float) -> tuple[np.ndarray | None, str]:
    """Download the latest still and decode it strictly: (BGR frame, "") or (None, why not)."""
    import cv2

    from aurora_sw.camera import frame_problem
    from aurora_sw.network import host_reachable

    if not host_reachable(url, timeout_s=min(timeout_s, 3.0)):
        return None, f"camera unreachable: {url}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            data = resp.read()
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"camera: {getattr(exc, 'reason', exc) or type(exc).__name__}"
    problem = frame_problem(data)
    if problem:
        return None, f"still {problem[0]}: {problem[1]}"
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        return None, "still unreadable"
    return frame, ""


def _sky_crop(frame: np.ndarray, catalog: "Catalog", site_key: str, time: pd.Timestamp) -> np.ndarray:
    """The sky circle of the camera epoch at ``time``; the epoch's geometry is of the 1280x720 frame,
    so a still of another size (1080p) is scaled to it first."""
    import cv2

    from aurora_sw.camera import crop_sky
    from aurora_sw.times import aware_utc

    epoch = catalog.site(site_key).camera_epoch(aware_utc(time).to_pydatetime())
    if frame.shape[:2] != (720, 1280):
        frame = cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_AREA)
    return crop_sky(frame, epoch, out_size=STILL_SIZE)


def check_webhook(url: str | None) -> None:
    """Refuse a webhook URL that could never be posted to (no http(s) scheme or no host), at start."""
    from urllib.parse import urlparse

    if url is None:
        return
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise AuroraSWError(f"--webhook {url!r}: give an http:// or https:// URL with a host")


def _post(webhook: str, payload: dict, timeout_s: float) -> str:
    req = urllib.request.Request(webhook, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return f"posted ({resp.status})"
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
        return f"webhook failed: {getattr(exc, 'reason', exc) or type(exc).__name__}"


def _alerts(time: pd.Timestamp, p_now: float, forecast: pd.Series, previous: pd.DataFrame | None, *, threshold: float, alert_p: float) -> list[dict]:
    """Edge-triggered alerts: what is true now and was not at the previous stored minute (for aurora now:
    the last stored minute with a scored frame). ``previous``: the stored minutes before this one."""
    out = []
    was = previous if previous is not None else pd.DataFrame()
    seen = was["p_now"].dropna() if "p_now" in was else pd.Series(dtype=float)  # a minute without a frame does not reset the alert
    if np.isfinite(p_now) and p_now >= threshold and not (len(seen) and seen.iloc[-1] >= threshold):
        out.append({"kind": "aurora_now", "message": f"aurora over the camera: p = {p_now:.2f} >= {threshold:.2f}"})
    for lead, p in forecast.items():
        before = was[f"p_{lead}"].iloc[-1] if f"p_{lead}" in was and len(was) else np.nan
        if p >= alert_p and not (before >= alert_p):
            out.append({"kind": "forecast", "lead_min": int(lead), "message": f"aurora forecast at t+{lead} min: p = {p:.2f} >= {alert_p:.2f}"})
    for a in out:
        a.update({"time_utc": f"{time:%Y-%m-%dT%H:%M}Z", "p_now": None if not np.isfinite(p_now) else round(float(p_now), 4),
                  "forecast": {str(k): round(float(v), 4) for k, v in forecast.items()}})
    return out


def live_cycle(
    *,
    checkpoint: "Checkpoint",
    forecast: "ForecastModel",
    store: str | os.PathLike,
    catalog: "Catalog",
    at: pd.Timestamp | None = None,
    webhook: str | None = None,
    alert_p: float = DEFAULT_ALERT_P,
    timeout_s: float = 10.0,
) -> LiveMinute:
    """Run one live minute (see the module text) and return what it found.

    Parameters
    ----------
    checkpoint
        The classifier that scores the still.
    forecast
        The forecast model (:func:`aurora_sw.forecast.load_forecast_model`).
    store
        Folder of ``live.csv`` and the stills (created).
    at
        Run as if it were this minute (naive UTC): replays and tests. Default: now.
    webhook
        URL to POST each alert to as JSON.
    alert_p
        Forecast probability that raises an alert.

    Raises
    ------
    NetworkUnavailableError
        The real-time solar wind cannot be fetched (one line, within a few seconds).
    """
    from aurora_sw.index.score import score_frames
    from aurora_sw.locking import writer_lock
    from aurora_sw.solarwind.realtime import realtime_solar_wind
    from aurora_sw.times import utc_now
    from aurora_sw.workflows.forecast import predict_forecast

    if not 0 < alert_p <= 1:
        raise AuroraSWError(f"--alert-p {alert_p}: a probability in (0, 1]")
    check_webhook(webhook)
    t = (utc_now() if at is None else pd.Timestamp(at)).floor("1min")
    store = Path(store)
    if store.exists() and not store.is_dir():
        raise AuroraSWError(f"--store {store}: a file, not a folder; give the folder live.csv and the stills go in")
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuroraSWError(f"--store {store}: cannot make the folder ({exc.strerror})") from None
    history = read_live(store)  # a foreign live.csv is refused before anything is fetched
    sw = realtime_solar_wind(catalog, timeout_s=timeout_s)
    if sw.sizes.get("time", 0) == 0 or pd.Timestamp(sw["time"].values.max()) < t - pd.Timedelta(minutes=120):
        raise AuroraSWError(f"the real-time solar wind ends before {t - pd.Timedelta(minutes=120):%Y-%m-%d %H:%M} UTC: nothing to forecast {t:%H:%M} from")
    missing = [v for v in forecast.variables if v not in sw]
    for name in missing:  # e.g. a model trained with AE: not in SWPC's products
        sw[name] = ("time", np.full(sw.sizes["time"], np.nan))
    if missing:
        log.warning("live: no real-time %s; the forecast treats them as missing", ", ".join(missing))

    source = catalog.sources.get("auroramax_recent")
    frame, problem = (None, "no auroramax_recent source in the catalog") if source is None or not source.url else _fetch_still(source.url, timeout_s)
    p_now = float("nan")
    if frame is not None:
        import cv2

        still = store / "frames" / f"{t:%Y%m%dT%H%M}00Z.jpg"
        still.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(still), _sky_crop(frame, catalog, forecast.site, t))
        scored = score_frames([str(still)], checkpoint, progress=False)
        p_now = float(scored["p_aurora"].iloc[0])
        problem = "" if np.isfinite(p_now) else str(scored["frame_problem"].iloc[0])

    recent = history[(history["time_utc"] < t) & (history["time_utc"] >= t - pd.Timedelta(minutes=30))]
    camera = pd.concat([recent.set_index("time_utc")["p_now"], pd.Series([p_now], index=[t])])
    index = xr.Dataset({"p_aurora": ("time", camera.to_numpy(float))}, coords={"time": pd.DatetimeIndex(camera.index).to_numpy()})
    p = predict_forecast(forecast, sw, t, site=catalog.site(forecast.site), index=index)

    with writer_lock(store / LIVE_TABLE, advice="another `aurora-sw live` writes this store; give each its own --store"):
        table = read_live(store)
        before = table[table["time_utc"] < t].sort_values("time_utc")
        alerts = _alerts(t, p_now, p, before.tail(30), threshold=checkpoint.threshold, alert_p=alert_p)
        same = table.loc[table["time_utc"] == t, "alerts"] if "alerts" in table else pd.Series(dtype=object)
        sent = {k for k in ";".join(same.dropna().astype(str)).split(";") if k}  # this minute, run before: not again
        alerts = [a for a in alerts if a["kind"] not in sent]
        row = {"time_utc": t, "p_now": p_now, "frame_problem": problem, **{f"p_{lead}": float(v) for lead, v in p.items()},
               "alerts": ";".join(sorted(sent | {a["kind"] for a in alerts}))}
        table = pd.concat([table[table["time_utc"] != t], pd.DataFrame([row])], ignore_index=True).sort_values("time_utc")
        tmp = store / f".{LIVE_TABLE}.tmp"
        table.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S")
        os.replace(tmp, store / LIVE_TABLE)
    for a in alerts:  # after the minute is stored: an alert is never sent for a minute that was not kept
        a["site"] = forecast.site
        outcome = _post(webhook, a, timeout_s) if webhook else "no webhook"
        log.warning("ALERT %s %s (%s)", a["time_utc"], a["message"], outcome)
    return LiveMinute(t, p_now, problem, p, alerts)
