"""Live mode against a local HTTP server: SWPC's JSON in both its forms, the camera's still, a webhook;
and the one line a user gets with no network."""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from aurora_sw.errors import AuroraSWError
from aurora_sw.solarwind.realtime import MAG_COLUMNS, parse_swpc_json, propagate_to_bow_shock

AT = pd.Timestamp("2024-02-07 06:00")


def swpc_products(at: pd.Timestamp) -> dict[str, object]:
    """A day of L1 data before ``at`` as SWPC writes it: header row, strings, nulls; Kp as a list of objects."""
    t = pd.date_range(at - pd.Timedelta(days=1), at, freq="1min")
    rng = np.random.default_rng(0)
    bz = -4 + 3 * np.sin(np.arange(len(t)) / 90) + rng.normal(0, 1, len(t))
    mag = [["time_tag", "bx_gsm", "by_gsm", "bz_gsm", "lon_gsm", "lat_gsm", "bt"]]
    plasma = [["time_tag", "density", "speed", "temperature"]]
    for i, x in enumerate(t):
        tag = f"{x:%Y-%m-%d %H:%M:%S}.000"
        mag.append([tag, "1.20", f"{2.0:.2f}", None if i % 97 == 5 else f"{bz[i]:.2f}", "200.0", "-10.0", "6.0"])
        plasma.append([tag, "5.0", "450.0", "100000"])
    kp = [{"time_tag": f"{x:%Y-%m-%dT%H:%M:%S}", "kp": 3.33, "a_running": 18, "station_count": 8} for x in pd.date_range(at - pd.Timedelta(days=1), at, freq="3h")]
    return {"/mag.json": mag, "/plasma.json": plasma, "/kp.json": kp}


def still_jpeg(sky_frame) -> bytes:
    """The camera's 1080p still: a sky frame in the 720p geometry's circle, scaled to 1920x1080."""
    canvas = np.zeros((720, 1280, 3), np.uint8)
    canvas[:, 280:1000] = cv2.resize(cv2.imread(str(sky_frame)), (720, 720))
    return cv2.imencode(".jpg", cv2.resize(canvas, (1920, 1080)))[1].tobytes()


class Server:
    """127.0.0.1 HTTP: GET serves ``files``, POST records the JSON body."""

    def __init__(self, files: dict[str, bytes]):
        posts = self.posts = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def do_POST(self):
                posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def catalog_with(tmp_path, base: str, *, kp: bool = True):
    from aurora_sw.catalog import load_catalog

    raw = yaml.safe_load(load_catalog().path.read_text())
    raw["solarwind"]["realtime"] = {"mag_url": f"{base}/mag.json", "plasma_url": f"{base}/plasma.json", "kp_url": f"{base}/kp.json" if kp else None,
                                    "l1_distance_km": 1.5e6, "bow_shock_km": 9.0e4}
    raw["sources"]["auroramax_recent"]["url"] = f"{base}/recent_1080p.jpg"
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_swpc_json_is_read_by_header_names_in_both_forms():
    arrays = [["time_tag", "bz_gsm", "by_gsm", "bx_gsm"], ["2026-05-09 00:39:00.000", "0.34", "-2.93", "-3.87"], ["2026-05-09 00:40:00.000", None, "-2.9", "-3.8"]]
    objects = [{"bx_gsm": -3.87, "time_tag": "2026-05-09T00:39:00", "by_gsm": -2.93, "bz_gsm": 0.34}]
    a = parse_swpc_json(arrays, MAG_COLUMNS, source="mag")
    b = parse_swpc_json(objects, MAG_COLUMNS, source="mag")
    assert a.loc["2026-05-09 00:39", "bz_gsm"].item() == b.loc["2026-05-09 00:39", "bz_gsm"].item() == 0.34
    assert np.isnan(a.loc["2026-05-09 00:40", "bz_gsm"].item()) and list(a.columns) == ["bx_gse", "by_gsm", "bz_gsm"]
    with pytest.raises(AuroraSWError, match="mag: no column 'bz_gsm'"):
        parse_swpc_json([["time_tag", "bx_gsm", "by_gsm"], ["2026-05-09 00:39:00.000", "1", "2"]], MAG_COLUMNS, source="mag")
    with pytest.raises(AuroraSWError, match="rows of another length"):
        parse_swpc_json([["time_tag", "bx_gsm", "by_gsm", "bz_gsm"], ["2026-05-09 00:39:00.000", "1", "2"]], MAG_COLUMNS, source="mag")
    with pytest.raises(AuroraSWError, match="not ISO times"):
        parse_swpc_json([{"time_tag": 1778287140000, "bx_gsm": 1, "by_gsm": 2, "bz_gsm": 3}], MAG_COLUMNS, source="mag")
    with pytest.raises(AuroraSWError, match="neither an array of arrays"):
        parse_swpc_json({"data": []}, MAG_COLUMNS, source="mag")


def test_l1_data_reaches_the_bow_shock_distance_over_speed_later():
    t = pd.date_range("2024-02-07 00:00", periods=10, freq="1min")
    l1 = pd.DataFrame({"bz_gsm": np.arange(10.0)}, index=t)
    moved = propagate_to_bow_shock(l1, pd.Series(500.0, index=t), distance_km=1.41e6)  # 2820 s = 47 min
    assert moved.index[0] == t[0] + pd.Timedelta(minutes=47) and moved["bz_gsm"].iloc[0] == 0.0


@pytest.mark.slow
def test_live_once_scores_forecasts_stores_and_alerts(demo_run, tmp_path):
    out, s = demo_run
    sky_frame = sorted((out / "synthetic" / "frames" / s["nights"][2]).iterdir())[300]
    files = {k: json.dumps(v).encode() for k, v in swpc_products(AT).items()}
    files["/recent_1080p.jpg"] = still_jpeg(sky_frame)
    server = Server(files)
    try:
        cat = catalog_with(tmp_path, server.url)
        cmd = [sys.executable, "-m", "aurora_sw", "live", "--model", str(out / "model" / "best.pt"), "--forecast", str(out / "forecast"),
               "--store", str(tmp_path / "live"), "--webhook", f"{server.url}/hook", "--alert-p", "0.01", "--catalog", str(cat)]
        res = subprocess.run([*cmd, "--at", f"{AT:%Y-%m-%dT%H:%M}"], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        table = pd.read_csv(tmp_path / "live" / "live.csv")
        assert len(table) == 1 and np.isfinite(table["p_now"].iloc[0]) and 0 <= table["p_60"].iloc[0] <= 1
        assert any(p["kind"] == "forecast" and p["lead_min"] == 60 for p in server.posts)  # p >= 0.01: one alert, posted
        assert "ALERT" in res.stderr and (tmp_path / "live" / "frames").is_dir()
        n_posts = len(server.posts)
        # The next minutes in-process (the same cycle the command runs): no second alert while it lasts,
        # and a truncated still stored as such, never scored.
        from aurora_sw.catalog import load_catalog
        from aurora_sw.forecast import load_forecast_model
        from aurora_sw.model.checkpoint import load_checkpoint
        from aurora_sw.workflows.live import live_cycle

        kw = dict(checkpoint=load_checkpoint(out / "model" / "best.pt"), forecast=load_forecast_model(out / "forecast"), store=tmp_path / "live",
                  catalog=load_catalog(cat), webhook=f"{server.url}/hook", alert_p=0.01)
        again = live_cycle(at=AT, **kw)  # the first minute run a second time: replaced, not alerted again
        assert len(pd.read_csv(tmp_path / "live" / "live.csv")) == 1 and not again.alerts and len(server.posts) == n_posts
        later = live_cycle(at=AT + pd.Timedelta(minutes=1), **kw)
        assert len(pd.read_csv(tmp_path / "live" / "live.csv")) == 2
        assert not any(a["kind"] == "forecast" for a in later.alerts) and len(server.posts) == n_posts + len(later.alerts)
        files["/recent_1080p.jpg"] = files["/recent_1080p.jpg"][: len(files["/recent_1080p.jpg"]) // 3]  # a truncated still
        bad = live_cycle(at=AT + pd.Timedelta(minutes=2), **kw)
        row = pd.read_csv(tmp_path / "live" / "live.csv").iloc[-1]
        assert np.isnan(bad.p_now) and np.isnan(row["p_now"]) and "truncated" in row["frame_problem"]
        files["/recent_1080p.jpg"] = still_jpeg(sky_frame)
        back = live_cycle(at=AT + pd.Timedelta(minutes=3), **kw)  # the camera is back: the minute without a frame started nothing
        first = pd.read_csv(tmp_path / "live" / "live.csv")["p_now"].iloc[0]
        if first >= kw["checkpoint"].threshold and back.p_now >= kw["checkpoint"].threshold:
            assert not any(a["kind"] == "aurora_now" for a in back.alerts)
    finally:
        server.close()

    res = subprocess.run([*cmd[:-1], str(cat), "--webhook", "notaurl", "--once"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and res.stderr.strip().splitlines() == ["aurora-sw: error: --webhook 'notaurl': give an http:// or https:// URL with a host"]

    # No network: the catalog's URLs point at a port nobody listens on.
    t0 = time.time()
    res = subprocess.run([*cmd[:-1], str(catalog_with(tmp_path, "http://127.0.0.1:9")), "--once"], capture_output=True, text=True, timeout=120)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1 and "no network" in lines[0] and "mag.json" in lines[0]
    assert time.time() - t0 < 60


def test_realtime_solar_wind_carries_the_catalog_variables(tmp_path):
    """Propagated fields and plasma, OMNI's pressure, Kp held over its interval, and the catalog's derived
    variables (Newell's coupling, E_y, ...) computed from them as the loaders compute them."""
    from aurora_sw.catalog import load_catalog
    from aurora_sw.solarwind.coupling import newell_coupling
    from aurora_sw.solarwind.realtime import realtime_solar_wind

    server = Server({k: json.dumps(v).encode() for k, v in swpc_products(AT).items()})
    try:
        sw = realtime_solar_wind(load_catalog(catalog_with(tmp_path, server.url)), timeout_s=5)
    finally:
        server.close()
    t0 = pd.Timestamp(sw["time"].values[0])
    assert t0 - (AT - pd.Timedelta(days=1)) == pd.Timedelta(minutes=52)  # 1.41e6 km at 450 km/s: 52.2 min
    ok = np.isfinite(sw["bz_gsm"].values)
    np.testing.assert_allclose(sw["newell"].values[ok], newell_coupling(sw["vsw"].values, sw["by_gsm"].values, sw["bz_gsm"].values)[ok])
    assert {"ey", "clock_angle", "bs"} <= set(sw.data_vars) and sw["newell"].attrs["units"]
    np.testing.assert_allclose(sw["pressure"].values, 2e-6 * 5.0 * 450.0**2)  # OMNI's definition
    assert np.nanmax(sw["kp"].values) == pytest.approx(3.33)
