"""The ``aurora-sw`` command. Thin: parses arguments, calls the library, prints results.

User errors (bad file, bad catalog key, no network) are printed as one line and exit with 1;
heavy libraries are imported inside the commands so that ``--help`` is instant.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NoReturn, Optional

import typer

from aurora_sw.errors import AuroraSWError

app = typer.Typer(
    help=(
        "aurora-sw: AuroraMAX all-sky frames -> per-minute aurora index -> time-lagged correlation "
        "with the solar wind.\n\nStart with `aurora-sw demo --quick`: it runs the whole chain offline "
        "on the synthetic sky. Times are UTC; positive lags mean the solar wind leads."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
solarwind_app = typer.Typer(help="Solar-wind data (OMNI through pyspedas).", no_args_is_help=True)
catalog_app = typer.Typer(help="The data catalog (data_catalog.yaml).", no_args_is_help=True)
label_app = typer.Typer(help="Labels: date-aware samples to label, imports, the label store.", no_args_is_help=True)
forecast_app = typer.Typer(help="P(aurora over the camera at t + lead) from the solar wind: train and verify by night, predict.", no_args_is_help=True)
app.add_typer(label_app, name="label")
app.add_typer(forecast_app, name="forecast")
app.add_typer(solarwind_app, name="solarwind")
app.add_typer(catalog_app, name="catalog")

CatalogOpt = typer.Option(None, "--catalog", help="data_catalog.yaml to use (default: $AURORA_SW_CATALOG, ./data_catalog.yaml, or the repository's).")
OfflineOpt = typer.Option(False, "--offline", help="Read solar-wind data from the local caches only; name what is missing.")
CacheOpt = typer.Option(None, "--cache", help="OMNI cache folder (default: $OMNI_DATA_DIR or the catalog's).")
KpCacheOpt = typer.Option(None, "--kp-cache", help="Kp cache folder (default: $KP_DATA_DIR or the catalog's).")


def _catalog(path: Optional[Path]):
    from aurora_sw.catalog import load_catalog

    return load_catalog(path)


def _layout(root: Path | None, catalog: Optional[Path]):
    """The project layout of ``root`` (default: the working directory) under the catalog's names."""
    from aurora_sw.layout import ProjectLayout

    return ProjectLayout(root if root is not None else Path("."), _catalog(catalog).outputs)


def _index_layout(index: Path, catalog: Optional[Path]):
    """The layout of the project the index store lies in (analyses and solar wind beside it)."""
    from aurora_sw.layout import ProjectLayout

    return ProjectLayout.of_index(index, _catalog(catalog).outputs)


def _quiet_libraries() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("pyspedas", "pytplot", "matplotlib", "PIL", "urllib3", "numexpr"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _parse_lags(text: str, option: str = "--lags", with_step: bool = True) -> range:
    """``START:STOP[:STEP]`` minutes (STOP included) as a range, or a one-line error naming ``option``."""
    form = "START:STOP[:STEP]" if with_step else "START:STOP"
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        parts = []
    if not 2 <= len(parts) <= (3 if with_step else 2):
        raise AuroraSWError(f"{option} {text!r}: expected {form} in whole minutes, e.g. -120:240")
    start, stop, step = parts[0], parts[1], parts[2] if len(parts) > 2 else 1
    if step <= 0:
        raise AuroraSWError(f"{option} {text!r}: STEP must be a positive number of minutes, e.g. {start}:{stop}:5")
    if start > stop:
        raise AuroraSWError(f"{option} {text!r}: START must not exceed STOP (negative minutes first), e.g. {stop}:{start}")
    return range(start, stop + 1, step)


@catalog_app.command("check")
def catalog_check(catalog: Optional[Path] = CatalogOpt) -> None:
    """Validate the catalog and list its sites and solar-wind variables."""
    cat = _catalog(catalog)
    typer.echo(f"{cat.path}: valid")
    for key, site in cat.sites.items():
        typer.echo(f"  site {key}: {site.name} ({site.lat_deg:.4f}, {site.lon_deg:.4f}), {site.timezone}, {len(site.camera_epochs)} camera epochs")
    typer.echo("  solar-wind variables: " + ", ".join(cat.solarwind.variables))


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for everything the demo writes."),
    nights: Optional[int] = typer.Option(None, "--nights", help="Synthetic nights (default 6; 4 with --quick)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives the same run."),
    delay: float = typer.Option(45.0, "--delay", help="Planted solar-wind -> aurora delay in minutes."),
    quick: bool = typer.Option(False, "--quick", help="CI-sized run (~4 min on 2 cores): 4 nights, 360 px frames, shorter training, the forecast at t+60 only."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Run the whole chain offline on the synthetic sky and print a summary.

    generate nights -> ingest -> label a date-aware sample -> train EfficientNet-B1 -> score every
    minute -> index (Zarr) -> solar wind through the OMNI loader -> lagged correlation -> the
    forecast, verified on held-out nights. Writes OUT/summary.json with planted_lag_min,
    recovered_lag_min, lag_ci_min, classifier_accuracy, forecast and n_frames_scored.
    """
    from aurora_sw.analysis.lag import format_global_p
    from aurora_sw.demo import DemoConfig, morphology_line, run_demo

    _quiet_libraries()
    overrides = {"seed": seed, "delay_min": delay}
    if nights is not None:
        overrides["nights"] = nights
    cfg = DemoConfig.quick(**overrides) if quick else DemoConfig(**overrides)
    s = run_demo(out, cfg, _catalog(catalog))
    lo, hi = s["lag_ci_min"]
    typer.echo("")
    typer.echo("aurora-sw demo summary")
    typer.echo(f"  nights                 {', '.join(s['nights'])}")
    typer.echo(f"  frames scored          {s['n_frames_scored']}")
    typer.echo(f"  classifier accuracy    {s['classifier_accuracy']:.3f} on held-out nights {', '.join(s['classifier_heldout_nights'])} ({s['classifier_weights']})")
    typer.echo(f"  with HMM smoothing     {s['classifier_accuracy_smoothed']:.3f} (temporal context over each night)")
    if s.get("morphology"):
        typer.echo(f"  morphology (6 classes) {morphology_line(s['morphology'])}")
    typer.echo(f"  planted lag            {s['planted_lag_min']:.0f} min")
    typer.echo(f"  recovered lag          {s['recovered_lag_min']:.0f} min (95% CI {lo:.0f} .. {hi:.0f}), r = {s['peak_r']:.3f}")
    if s["peak_lag_ci_unbounded"]:
        typer.echo("  p-value at peak        none: no well-defined peak (the peak-lag CI spans most of the lags)")
    else:
        typer.echo(f"  p-value at peak        {s['peak_p_value']:.2g} at that lag (autocorrelation-aware) vs {s['peak_p_value_naive']:.2g} naive; "
                   f"{format_global_p(s['peak_p_value_global'], s['n_surrogates'])} for the best of {s['n_lags']} lags ({s['n_surrogates']} surrogates)")
    fc = s["forecast"]
    if "skipped" in fc:
        typer.echo(f"  forecast               skipped: {fc['skipped']}")
    else:
        for line in fc["lines"].values():
            typer.echo(f"  forecast (held-out)    {line}")
    typer.echo(f"  stage times (s)        {json.dumps(s['timings_s'])}")
    typer.echo(f"  summary                {out / 'summary.json'}")
    typer.echo(f"\nExplore it:  aurora-sw explore --data {out}")


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the synthetic archive to."),
    nights: int = typer.Option(3, "--nights", help="Consecutive nights."),
    start: str = typer.Option("2024-02-05", "--start", help="Local date of the first night."),
    seed: int = typer.Option(0, "--seed"),
    delay: float = typer.Option(45.0, "--delay", help="Planted solar-wind -> aurora delay (min)."),
    size: int = typer.Option(720, "--size", help="Frame size in pixels."),
    video_nights: int = typer.Option(0, "--video-nights", help="Also write AuroraMAX-style 720p MP4s for this many nights."),
    video_minutes: Optional[int] = typer.Option(None, "--video-minutes", help="Limit each MP4 to this many minutes of sky time."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Generate a synthetic archive: JPEG frames, MP4 timelapses, OMNI CDFs, Kp and truth."""
    from aurora_sw.synthetic import generate_archive

    a = generate_archive(out, start, n_nights=nights, seed=seed, delay_min=delay, size=size, video_nights=video_nights, video_minutes=video_minutes, catalog=_catalog(catalog))
    typer.echo(f"{a.n_frames} frames of {len(a.nights)} nights in {a.root} (planted delay {a.planted_delay_min:.0f} min)")


@app.command()
def ingest(
    sources: list[Path] = typer.Argument(..., help="AuroraMAX movies (MP4), folders of them, or folders of JPEG/PNG frames with the UTC time in the file name."),
    out: Path = typer.Option(..., "--out", help="Archive folder; its manifest.parquet is created or extended, movie frames go to OUT/frames/."),
    site: Optional[str] = typer.Option(None, "--site", help="Site key in the catalog (default: its default_site)."),
    every: str = typer.Option("60s", "--every", help="Keep one frame per this much sky time (e.g. 60s, 2min)."),
    lock_timeout: float = typer.Option(60.0, "--lock-timeout", help="Seconds to wait while another ingest writes the same archive (0: stop at once)."),
    workers: int = typer.Option(1, "--workers", help="Movies ingested at once, each in its own process (2 cores: 2)."),
    dask: bool = typer.Option(False, "--dask", help="Spread movies over a local Dask cluster."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler (e.g. tcp://host:8786); its workers must see OUT and the movies at the same paths."),
    ocr_every: int = typer.Option(10, "--ocr-every", help="Read the burned-in time on every Nth kept movie frame, and around anything odd (1: every frame, as the study did; same times, ~10x the OCR)."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Add frames to an archive's manifest (idempotent; problems listed, never fatal).

    Frames are read strictly: truncated, too small and greyscale frames are kept flagged and never
    scored; unreadable files and second copies of a minute are left out. All are listed, by reason,
    in OUT/ingest_problems.csv.

    Movies are sampled at the --every cadence of sky time and streamed: each kept frame is cropped
    to the sky circle (720x720) and written as it is decoded, so memory stays flat however long the
    movie. The burned-in local time is read by tesseract on every --ocr-every-th kept frame, and on
    every frame around a misread, a camera restart or a DST switch, and fitted (time = t0 + 6 s x
    frame index), so single misreads are corrected and flagged; frames are named by their UTC time.
    Movies already in the manifest are not decoded again, nor, after an interruption, those an
    earlier run decoded completely (kept in OUT/.movies_done until the manifest is written).
    """
    from aurora_sw.ingest import ingest as run_ingest
    from aurora_sw.times import duration_s

    every_s = duration_s(every, "--every")
    cat = _catalog(catalog)
    from aurora_sw.cluster import dask_client

    manifest = out / "manifest.parquet"
    before = _file_stamp(manifest)
    try:
        with dask_client(dask=dask, scheduler=scheduler) as client:
            s = run_ingest(sources, out, cat, site_key=site, every_s=every_s, lock_timeout_s=lock_timeout, ocr_every=ocr_every, workers=workers, client=client)
    except KeyboardInterrupt:
        if _file_stamp(manifest) != before:
            _interrupted(f"{manifest} was written; run the same command again to finish (nothing is decoded again)")
        _interrupted(f"nothing was added to {manifest} (it is written at the end); the movies decoded completely are kept "
                     "and the same command decodes only the rest")
    problems_csv = out / cat.outputs.problems
    typer.echo(f"{s.n_added} frames added, {s.n_total} in {s.manifest_path}")
    if s.problems:
        counts = ", ".join(f"{reason} {n}" for reason, n in s.problem_counts.items())
        typer.echo(f"{len(s.problems)} problems ({counts}), listed in {problems_csv}")
    for p in s.problems[:20]:
        typer.echo(f"  problem: {p.path}: {p.problem}", err=True)
    if len(s.problems) > 20:
        typer.echo(f"  ... {len(s.problems) - 20} more in {problems_csv}", err=True)


@app.command("fetch-movies")
def fetch_movies(
    start: str = typer.Option(..., "--start", help="First night (local date), e.g. 2024-02-01."),
    end: Optional[str] = typer.Option(None, "--end", help="Last night (inclusive; default: --start)."),
    out: Path = typer.Option(Path("videos"), "--out", help="Folder for the movies."),
    resolution: str = typer.Option("720p", "--resolution", help="480p, 720p or 1080p."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Download AuroraMAX nightly timelapse movies (URL pattern from the catalog)."""
    from aurora_sw.ingest.download import download_movies
    from aurora_sw.times import night_date

    first, last = night_date(start), night_date(end or start)
    if last < first:
        raise AuroraSWError(f"fetch-movies: --end {last} is before --start {first}")
    if resolution not in ("480p", "720p", "1080p"):
        raise AuroraSWError(f"fetch-movies: --resolution {resolution!r}: use 480p, 720p or 1080p")
    files, problems = download_movies(first, last, out, catalog=_catalog(catalog), resolution=resolution)
    typer.echo(f"{len(files)} movies in {out}")
    for p in problems:
        typer.echo(f"  problem: {p.path}: {p.problem}", err=True)


@solarwind_app.command("fetch")
def solarwind_fetch(
    start: str = typer.Option(..., "--start", help="UTC start, e.g. 2024-02-01."),
    end: str = typer.Option(..., "--end", help="UTC end (exclusive)."),
    variables: str = typer.Option("bz_gsm,by_gsm,vsw,density,pressure,ae,sym_h", "--vars", help="Catalog variables, comma-separated (derived ones too)."),
    offline: bool = OfflineOpt,
    cache: Optional[Path] = CacheOpt,
    kp_cache: Optional[Path] = KpCacheOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Also save the variables as NetCDF."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Download (or read from cache) OMNI and Kp through pyspedas and report each variable's coverage.

    Files already complete in the cache are read without touching the network.
    """
    from aurora_sw.solarwind.variables import load_solar_wind

    _quiet_libraries()
    ds = load_solar_wind(start, end, [v.strip() for v in variables.split(",") if v.strip()], catalog=_catalog(catalog), cache_dir=cache, offline=offline,
                         kp_cache_dir=kp_cache)
    for name in ds.data_vars:
        da = ds[name]
        typer.echo(f"  {name:12s} {da.attrs.get('units', ''):>22s}  valid {float(da.notnull().mean()):6.1%}  mean {float(da.mean()):10.3f}")
    if out:
        with _output_file(out, (".nc",)) as path:
            ds.to_netcdf(path)
        typer.echo(f"saved {out}")


@solarwind_app.command("events")
def solarwind_events(
    name: str = typer.Argument("flares", help="An event list of the catalog (events: ...), e.g. flares."),
    start: str = typer.Option(..., "--start", help="UTC start, e.g. 2024-02-01."),
    end: str = typer.Option(..., "--end", help="UTC end (exclusive)."),
    offline: bool = OfflineOpt,
    cache: Optional[Path] = typer.Option(None, "--cache", help="Event cache folder (default $AURORA_SW_EVENT_DIR, else the catalog's)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also save the list as CSV."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Fetch (sunpy/HEK, cached by month) or read an event list and print it."""
    from aurora_sw.solarwind.events import load_events

    ev = load_events(name, start, end, catalog=_catalog(catalog), cache_dir=cache, offline=offline)
    typer.echo(ev.to_string(index=False, max_rows=40) if len(ev) else "no events")
    typer.echo(f"{len(ev)} events in {name} from {start} to {end}")
    if out:
        ev.to_csv(out, index=False)
        typer.echo(f"saved {out}")


@app.command()
def correlate(
    index: Path = typer.Option(..., "--index", help="Aurora-index Zarr store."),
    variables: str = typer.Option("newell,bz_gsm", "--vars", help="Solar-wind catalog variables (drivers), comma-separated."),
    response: str = typer.Option("p_aurora", "--response", help="Index variable to correlate against."),
    lags: str = typer.Option("-120:240", "--lags", help="Lag range START:STOP[:STEP] in minutes (positive: solar wind leads)."),
    method: str = typer.Option("pearson", "--method", help="pearson or spearman."),
    condition: str = typer.Option("", "--condition", help="Sky conditions to keep, e.g. Night,NoMoon (default: all)."),
    smooth: int = typer.Option(0, "--smooth", help="Centred running mean of the solar wind in minutes (e.g. 10, 30, 60)."),
    granger: bool = typer.Option(True, "--granger/--no-granger", help="Also run a Granger test (HAC) on 10-min bins."),
    offline: bool = OfflineOpt,
    cache: Optional[Path] = CacheOpt,
    kp_cache: Optional[Path] = KpCacheOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for NetCDF results and PNG plots (default: analyses/ beside the index)."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Lagged correlation of solar-wind variables with the aurora index, with honest significance.

    For each variable: the peak lag with a block-bootstrap 95 % CI, r, the autocorrelation-aware
    p-value at that lag beside the naive one, the global p-value of the best of all lags
    (phase-randomised surrogates), and (with --granger) a Granger test. Lags with too few pairs
    are masked and counted; when the CI spans most of the lags it says "no well-defined peak"
    and gives no p. Saves lag_VAR_RESPONSE.nc, a CCF plot and a scatter plot at the best lag.
    """
    from aurora_sw.analysis.lag import METHODS

    # Every option is checked before the index and the solar wind are read (a download, perhaps).
    lag_range = _parse_lags(lags)
    names = [v.strip() for v in variables.split(",") if v.strip()]
    if not names:
        raise AuroraSWError(f"--vars {variables!r}: name at least one solar-wind variable, e.g. newell,bz_gsm")
    if method not in METHODS:
        raise AuroraSWError(f"--method {method!r}: use {' or '.join(METHODS)}")
    if smooth < 0:
        raise AuroraSWError(f"--smooth {smooth}: the running mean needs a window of 1 minute or more (0: none)")

    from aurora_sw.workflows.correlate import correlate as run_correlate
    from aurora_sw.workflows.correlate import solar_wind_span
    from aurora_sw.workflows.inputs import index_and_solar_wind

    _quiet_libraries()
    ds, sw = index_and_solar_wind(index, names, lambda t: solar_wind_span(t, lag_range, smooth), catalog=_catalog(catalog), cache=cache, kp_cache=kp_cache,
                                  offline=offline, needs=(response,))
    res = run_correlate(ds, sw, drivers=names, response=response, lags=lag_range, conditions=[c.strip() for c in condition.split(",") if c.strip()],
                        smooth_min=smooth, method=method, granger=granger)
    for name, lag in res.lags.items():
        typer.echo(f"{name:12s} {res.summary(name)}")
        if lag.attrs["n_lags_masked"]:
            typer.echo(f"{'':12s} {lag.attrs['lag_mask']}")
    out = out or _index_layout(index, catalog).analyses
    res.write(out)
    typer.echo(f"results and plots in {out}")


@app.command()
def epochs(
    index: Path = typer.Option(..., "--index", help="Aurora-index Zarr store."),
    events: str = typer.Option("southward", "--events", help="'southward' (Bz turnings), 'onsets' (aurora onsets in the index), an event list of the catalog (e.g. 'flares': GOES >= M1 via sunpy/HEK) or a CSV of UTC times (column 'time')."),
    variable: str = typer.Option("p_aurora", "--var", help="Index or solar-wind catalog variable to average."),
    window: str = typer.Option("-120:240", "--window", help="Epoch window START:STOP in minutes."),
    bin_min: int = typer.Option(5, "--bin", help="Bin width in minutes (60 for days-long windows)."),
    offline: bool = OfflineOpt,
    cache: Optional[Path] = CacheOpt,
    kp_cache: Optional[Path] = KpCacheOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the NetCDF result and PNG plot (default: analyses/ beside the index)."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Superposed epoch analysis around events, with a random-epoch baseline and events per bin."""
    # Every option is checked before the index and the solar wind are read (a download, perhaps).
    win = _parse_lags(window, "--window", with_step=False)
    if bin_min < 1:
        raise AuroraSWError(f"--bin {bin_min}: the bin width must be 1 minute or more")

    from aurora_sw.workflows.epochs import epochs_of_index

    _quiet_libraries()
    res, stem = epochs_of_index(index, events, variable=variable, window_min=(win.start, win.stop - 1), bin_min=bin_min, catalog=_catalog(catalog),
                                cache=cache, kp_cache=kp_cache, offline=offline)
    out = out or _index_layout(index, catalog).analyses
    res.write(out, stem)
    typer.echo(f"{res.summary()}; results in {out / stem}.nc/.png")


def _parse_leads(text: str) -> list[int]:
    """``0,15,30`` as minutes, or a one-line error naming --leads."""
    try:
        leads = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        leads = []
    if not leads or min(leads) < 0:
        raise AuroraSWError(f"--leads {text!r}: give leads in minutes, 0 (nowcast) or more, comma-separated, e.g. 0,15,30,60,120")
    return sorted(set(leads))


@forecast_app.command("train")
def forecast_train(
    index: Path = typer.Option(..., "--index", help="Aurora-index Zarr store (scored by `aurora-sw score`)."),
    leads: str = typer.Option("0,15,30,60,120", "--leads", help="Leads in minutes (0 = nowcast from the solar wind alone)."),
    variables: Optional[str] = typer.Option(None, "--vars", help="Solar-wind catalog variables for the features (default: newell,bz_gsm,by_gsm,kp; vsw, density, pressure may be added: over a short archive they tell nights apart more than aurora)."),
    seed: int = typer.Option(0, "--seed"),
    site: Optional[str] = typer.Option(None, "--site", help="Site key in the catalog (default: the site the index records, else the catalog's default_site): the camera the index is of."),
    offline: bool = OfflineOpt,
    cache: Optional[Path] = CacheOpt,
    kp_cache: Optional[Path] = KpCacheOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the model, verification.json and verification.png (default: forecast/ beside the index)."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Train the forecast and verify it on held-out nights against persistence, climatology and the Kp rule.

    Target: aurora over the camera (the index's `aurora`) at t + lead, on dark minutes. Features:
    solar-wind means over the past 10-120 min, Bz minima, minutes since the last southward
    turning, Kp, magnetic local time (AACGM-v2), season and the camera's present state. Nights are
    held out whole (5 folds); per lead it prints ROC-AUC and the Brier skill score against each
    baseline with 95 % night-bootstrap CIs, and writes them to verification.json.
    """
    lead_list = _parse_leads(leads)
    cat = _catalog(catalog)
    cat.site(site)  # an unknown --site is refused before anything is read
    from aurora_sw.workflows.forecast import forecast_variables, history_span, train_forecast
    from aurora_sw.workflows.inputs import camera_site, index_and_solar_wind

    names = forecast_variables([v.strip() for v in variables.split(",") if v.strip()] if variables is not None else None, list(cat.solarwind.variables))
    out = _output_dir(out or _index_layout(index, catalog).forecast)
    _quiet_libraries()
    ds, sw = index_and_solar_wind(index, names, history_span, catalog=cat, cache=cache, kp_cache=kp_cache, offline=offline, needs=("aurora", "p_aurora", "sun_class"))
    site_key, site_cfg = camera_site(ds, cat, site)
    res = train_forecast(ds, sw, site=site_cfg, site_key=site_key, leads_min=lead_list, variables=names, seed=seed)
    res.write(out)
    typer.echo(res.summary())
    typer.echo(f"model, verification.json and verification.png in {out}")


@forecast_app.command("predict")
def forecast_predict(
    model: Path = typer.Option(..., "--model", help="Folder written by `aurora-sw forecast train`."),
    at: Optional[str] = typer.Option(None, "--at", help="Issue time (ISO, UTC unless it carries an offset), e.g. 2024-02-06T06:00."),
    now: bool = typer.Option(False, "--now", help="Issue the forecast for the present minute (needs recent solar wind)."),
    index: Optional[Path] = typer.Option(None, "--index", help="The index covering --at: adds what the camera sees then (default: the solar wind alone)."),
    offline: bool = OfflineOpt,
    cache: Optional[Path] = CacheOpt,
    kp_cache: Optional[Path] = KpCacheOpt,
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """P(aurora over the camera) at each of the model's leads after --at (or --now)."""
    import pandas as pd

    from aurora_sw.times import utc_now, utc_time

    if (at is None) == (not now):
        raise AuroraSWError("give the issue time: --at TIME or --now (one of them)")
    t = utc_now().floor("1min") if now else utc_time(at, "--at")
    cat = _catalog(catalog)
    from aurora_sw.forecast import load_forecast_model
    from aurora_sw.solarwind.variables import load_solar_wind
    from aurora_sw.workflows.forecast import history_span, predict_forecast

    fm = load_forecast_model(model)
    ds = None
    if index is not None:
        from aurora_sw.index import open_index

        ds = open_index(index).load()
    _quiet_libraries()
    start, end = history_span(pd.DatetimeIndex([t]))
    sw = load_solar_wind(start, end + pd.Timedelta(minutes=1), fm.variables, catalog=cat, cache_dir=cache, offline=offline, kp_cache_dir=kp_cache)
    p = predict_forecast(fm, sw, t, site=cat.site(fm.site), index=ds)
    typer.echo(f"issued {t:%Y-%m-%d %H:%M} UTC at {cat.site(fm.site).name} ({'solar wind and camera' if ds is not None else 'solar wind alone'})")
    for lead, value in p.items():
        typer.echo(f"  t+{lead:>3} min  ({t + pd.Timedelta(minutes=int(lead)):%H:%M} UTC)  p(aurora) = {value:.2f}")


@app.command()
def occurrence(
    index: Path = typer.Option(..., "--index", help="Aurora-index Zarr store."),
    by: str = typer.Option("mlt,kp", "--by", help="Two of: mlt (AACGM-v2 magnetic local time), kp, newell (30-min mean), month."),
    min_minutes: int = typer.Option(30, "--min-minutes", help="Cells with fewer observed minutes are greyed out and never the 'highest rate'."),
    site: Optional[str] = typer.Option(None, "--site", help="Site key in the catalog (default: the site the index records, else the catalog's default_site): whose magnetic local time."),
    offline: bool = OfflineOpt,
    cache: Optional[Path] = CacheOpt,
    kp_cache: Optional[Path] = KpCacheOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for occurrence_A_B.nc/.csv/.png (default: analyses/ beside the index)."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Aurora occurrence over the observed dark minutes, binned by two quantities (e.g. MLT x Kp).

    Writes the rate, the observed minutes and the aurora minutes of every cell (NetCDF, CSV) and a
    heat map with the minutes written in each cell; binned by MLT, also the MLT dial.
    """
    names = [b.strip() for b in by.split(",") if b.strip()]
    if min_minutes < 1:
        raise AuroraSWError(f"--min-minutes {min_minutes}: a cell needs at least 1 observed minute")
    from aurora_sw.analysis.occurrence import check_by

    check_by(names)
    from aurora_sw.workflows.inputs import camera_site, index_and_solar_wind
    from aurora_sw.workflows.occurrence import occurrence_of_index, occurrence_span, solar_wind_needed

    cat = _catalog(catalog)
    cat.site(site)  # an unknown --site is refused before anything is read
    _quiet_libraries()
    ds, sw = index_and_solar_wind(index, solar_wind_needed(names), occurrence_span, catalog=cat,
                                  cache=cache, kp_cache=kp_cache, offline=offline, needs=("aurora", "sun_class"))
    _, site_cfg = camera_site(ds, cat, site)
    res = occurrence_of_index(ds, sw, site=site_cfg, by=names, min_minutes=min_minutes)
    png = res.write(_output_dir(out or _index_layout(index, catalog).analyses))
    typer.echo(res.summary())
    typer.echo(f"table and figure: {png.with_suffix('.nc')}, {png}")


@app.command()
def live(
    model: Path = typer.Option(..., "--model", help="Classifier checkpoint (best.pt) that scores the camera's latest still."),
    forecast: Path = typer.Option(..., "--forecast", help="Folder written by `aurora-sw forecast train`."),
    store: Optional[Path] = typer.Option(None, "--store", help="Folder of live.csv (one row a minute) and the stills (default: the catalog's outputs.live, live)."),
    once: bool = typer.Option(False, "--once", help="Run one minute and stop (default: every --every)."),
    every: str = typer.Option("60s", "--every", help="Time between cycles (e.g. 60s, 5min)."),
    webhook: Optional[str] = typer.Option(None, "--webhook", help="POST each alert as JSON to this URL."),
    alert_p: float = typer.Option(0.5, "--alert-p", help="Forecast probability that raises an alert."),
    at: Optional[str] = typer.Option(None, "--at", help="Label the minute as this UTC time (replays of recorded files, tests; what the URLs serve is used as it is); implies --once."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Nowcast and forecast from the camera's latest still and NOAA SWPC's real-time solar wind.

    Each cycle fetches the solar wind at L1 and moves it to the bow shock, scores the camera's
    latest still, forecasts each lead, appends the minute to STORE/live.csv and alerts (a log line,
    and a JSON POST to --webhook) when aurora starts over the camera or a forecast crosses
    --alert-p. URLs come from the catalog (solarwind.realtime, sources.auroramax_recent). Offline,
    it says so in one line.
    """
    import time as _time

    from aurora_sw.times import duration_s, utc_time

    period = duration_s(every, "--every")
    if period < 10:
        raise AuroraSWError(f"--every {every}: at least 10s (the camera takes a frame every 6 s, the solar wind comes by the minute)")
    t_at = utc_time(at, "--at") if at is not None else None
    cat = _catalog(catalog)
    store = store or _layout(None, catalog).live
    from aurora_sw.workflows.live import check_webhook, live_cycle

    check_webhook(webhook)
    from aurora_sw.forecast import load_forecast_model
    from aurora_sw.model.checkpoint import load_checkpoint

    fm = load_forecast_model(forecast)
    ckpt = load_checkpoint(model)
    _quiet_libraries()
    while True:
        try:
            minute = live_cycle(checkpoint=ckpt, forecast=fm, store=store, catalog=cat, at=t_at, webhook=webhook, alert_p=alert_p)
            typer.echo(minute.summary())
        except AuroraSWError as exc:  # no network, a server error, stale data, a busy store: the next minute may do
            if once or t_at is not None:
                raise
            typer.echo(f"{' '.join(str(exc).split())} (trying again in {period:.0f} s)", err=True)
        if once or t_at is not None:
            return
        _time.sleep(period)


@app.command()
def recurrence(
    index: Path = typer.Option(..., "--index", help="Aurora-index Zarr store: its nightly aurora fraction is one panel."),
    rotation: str = typer.Option("bartels", "--rotation", help="bartels (27-day rows) or carrington (sunpy)."),
    variable: str = typer.Option("newell", "--var", help="Solar-wind catalog variable for the second panel (daily mean), e.g. newell, kp, vsw; '' for none."),
    solarwind: Optional[Path] = typer.Option(None, "--solarwind", help="NetCDF with the variable (default: solarwind.nc beside the index, else the OMNI/Kp caches)."),
    rotations: int = typer.Option(3, "--pad-rotations", help="With the caches: rotations of solar wind before and after the index."),
    offline: bool = OfflineOpt,
    cache: Optional[Path] = CacheOpt,
    kp_cache: Optional[Path] = KpCacheOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="PNG or SVG (default: analyses/recurrence_ROTATION.png beside the index); a CSV of each panel goes beside it."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """27-day recurrence chart: one solar rotation per row, one day per column, coloured by the daily
    aurora fraction and a solar-wind variable, plus the 27-day autocorrelation and its significance."""
    import pandas as pd

    from aurora_sw.analysis.recurrence import ROTATIONS
    from aurora_sw.index import open_index
    from aurora_sw.workflows.inputs import solar_wind_series
    from aurora_sw.workflows.recurrence import recurrence as run_recurrence

    _quiet_libraries()
    if rotation not in ROTATIONS:
        raise AuroraSWError(f"recurrence: --rotation {rotation!r}: use {' or '.join(ROTATIONS)}")
    if rotations < 0:
        raise AuroraSWError(f"recurrence: --pad-rotations {rotations}: use 0 or more")
    if out is not None:
        _check_output_file(out, PLOT_SUFFIXES)
    if solarwind is not None and not solarwind.is_file():
        raise AuroraSWError(f"--solarwind {solarwind}: no such file (a NetCDF with the variable, e.g. the solarwind.nc a demo writes)")
    aurora = open_index(index)["p_aurora"].load()
    driver = None
    if variable:
        driver = solar_wind_series(variable, pd.DatetimeIndex(aurora["time"].values), saved=solarwind or _index_layout(index, catalog).solarwind,
                                   pad=pd.Timedelta(days=27 * rotations), catalog=_catalog(catalog), cache=cache, kp_cache=kp_cache, offline=offline)
    res = run_recurrence(aurora, driver, rotation=rotation)
    out = res.write(out or _index_layout(index, catalog).analyses / f"recurrence_{rotation}.png")
    typer.echo(f"{res.summary()} -> {out}")


@label_app.command("sample")
def label_sample(
    archive: Path = typer.Option(..., "--archive", help="Archive folder (with manifest.parquet)."),
    out: Path = typer.Option(Path("to_label.csv"), "--out", help="CSV to write: path, time, night, conditions, empty label column."),
    per_night: int = typer.Option(20, "--per-night", help="At most this many frames from one night."),
    max_fraction: float = typer.Option(0.5, "--max-fraction", help="And at most this fraction of a night's frames."),
    sun: str = typer.Option("Night", "--sun", help="Sun classes to sample, comma-separated."),
    moon: str = typer.Option("NoMoon", "--moon", help="Moon classes to sample, comma-separated."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """A date-aware sample of frames to label, spread over nights and over each night."""
    from aurora_sw.ingest import read_manifest
    from aurora_sw.labels import sample_for_labelling

    sample = sample_for_labelling(read_manifest(archive), per_night=per_night, max_fraction=max_fraction, sun_classes=tuple(sun.split(",")),
                                  moon_classes=tuple(moon.split(",")), seed=seed)
    sample.assign(label="")[["path", "time_utc", "night", "sun_class", "moon_class", "label"]].to_csv(out, index=False)
    typer.echo(f"{len(sample)} frames from {sample['night'].nunique()} nights -> {out} (fill the label column with yes/no/unsure, or a sky class)")


@label_app.command("suggest")
def label_suggest(
    archive: Path = typer.Option(..., "--archive", help="Archive folder (with manifest.parquet)."),
    model: Path = typer.Option(..., "--model", help="Classifier checkpoint (best.pt): its probabilities and embedding choose the frames."),
    n: int = typer.Option(50, "--n", help="Frames to suggest."),
    strategy: str = typer.Option("uncertainty", "--strategy", help="uncertainty (p nearest the model's threshold; a morphology model: the two likeliest classes nearest each other), diversity (k-centre cover of the network's embedding) or random."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Label store: frames in it are not suggested again (default: the project's labels store beside the archive, e.g. archive/labels.parquet, if there)."),
    per_night: int = typer.Option(10, "--per-night", help="At most this many frames from one night."),
    pool: int = typer.Option(2000, "--pool", help="Candidates scored at most (a uniform draw of the usable frames)."),
    sun: str = typer.Option("Night", "--sun", help="Sun classes to suggest from, comma-separated."),
    moon: str = typer.Option("NoMoon", "--moon", help="Moon classes to suggest from, comma-separated."),
    seed: int = typer.Option(0, "--seed"),
    out: Path = typer.Option(Path("suggested.csv"), "--out", help="CSV to write: path, time_utc, night, p_aurora, reason, empty label column."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Frames to label next (active learning), for the Labelling page or `label import`.

    uncertainty picks the frames nearest the decision boundary, where a label teaches the model
    most (for a morphology model: the smallest margin between its two likeliest classes); diversity covers the archive's variety (greedy k-centre on the network's pooled features,
    PCA to 32); random is the baseline. Labelled frames are never suggested again; at most
    --per-night frames come from one night.
    """
    _check_output_file(out, (".csv",))
    from aurora_sw.workflows.suggest import suggest

    beside = _layout(Path(archive).resolve().parent, catalog).labels  # the project the archive is in
    store = labels or (beside if beside.exists() else None)
    res = suggest(archive, model, strategy=strategy, n=n, labels=store, per_night=per_night, pool=pool,
                  sun_classes=tuple(s.strip() for s in sun.split(",")), moon_classes=tuple(m.strip() for m in moon.split(",")), seed=seed)
    with _output_file(out, (".csv",)) as path:
        res.write(path)
    typer.echo(f"{res.summary()} -> {out} (fill the label column with yes/no/unsure or a sky class, then `aurora-sw label import {out}`)")


@label_app.command("import")
def label_import(
    source: Path = typer.Argument(..., help="A folder-labelled set ([train|val/]yes|no|unsure/*.jpg, or sky-class folders arc|diffuse|discrete|cloudy|moon|clear/) or a CSV with path,label."),
    store: Optional[Path] = typer.Option(None, "--store", help="The label store to add to (default: the catalog's outputs.labels, archive/labels.parquet)."),
    labeller: str = typer.Option("unknown", "--labeller", help="Who labelled these."),
    site: Optional[str] = typer.Option(None, "--site", help="Site key in the catalog (default: its default_site)."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Add labels to the store (the latest label of a frame wins)."""
    from aurora_sw.labels import LabelStore, import_csv, import_folders

    cat = _catalog(catalog)
    rows = import_folders(source, cat, site) if source.is_dir() else import_csv(source, cat, site)
    store = store or _layout(None, catalog).labels
    s = LabelStore(store)
    s.add(rows, labeller=labeller)
    counts = rows["label"].value_counts().to_dict()
    typer.echo(f"{len(rows)} labels from {rows['night'].nunique()} nights ({counts}); {len(s)} in {store}")


@label_app.command("report")
def label_report(
    store: Optional[Path] = typer.Option(None, "--store", help="The label store (default: the catalog's outputs.labels, archive/labels.parquet)."),
    val_fraction: float = typer.Option(0.2, "--val-fraction", help="Fraction of nights for validation."),
    seed: int = typer.Option(0, "--seed"),
    task: str = typer.Option("binary", "--task", help="binary (class labels count as yes/no) or morphology (class labels only)."),
    balance: bool = typer.Option(False, "--balance/--all-labels", help="As train: downsample the larger class in each split, or (default) keep every label."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Counts per label and the night-wise split that `train --task TASK` would use (every label; --balance as train's)."""
    from aurora_sw.labels import LabelStore, split_by_night, split_report
    from aurora_sw.model.tasks import get_task, task_labels

    store = store or _layout(None, catalog).labels
    s = LabelStore(store)
    if not len(s):
        raise AuroraSWError(f"{store}: no labels yet; use `aurora-sw label import`")
    typer.echo(s.df.groupby("label").size().to_string())
    typer.echo(f"split for train --task {task}:")
    typer.echo(split_report(split_by_night(task_labels(s.df, get_task(task)), val_fraction, seed=seed, balance=balance)).to_string())


@app.command()
def train(
    labels: Path = typer.Option(..., "--labels", help="Label store (labels.parquet)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for checkpoints (last.pt every epoch, best.pt) and the split (default: the catalog's outputs.model, model)."),
    val_fraction: float = typer.Option(0.2, "--val-fraction", help="Fraction of nights held out for validation."),
    input_size: int = typer.Option(240, "--input-size", help="Network input in pixels (240 as the seed; 64-128 for CPU)."),
    epochs_head: int = typer.Option(6, "--epochs-head", help="Stage 1: head only (with ImageNet weights)."),
    epochs_full: int = typer.Option(6, "--epochs-full", help="Stage 2: the whole network."),
    lr_head: float = typer.Option(3e-4, "--lr-head"),
    lr_full: float = typer.Option(3e-5, "--lr-full"),
    batch_size: int = typer.Option(32, "--batch-size"),
    model_name: str = typer.Option("efficientnet_b1", "--model", help="Any timm model name."),
    pretrained: bool = typer.Option(False, "--pretrained", help="ImageNet weights from the Hugging Face hub (online)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="A local ImageNet checkpoint for the model (offline)."),
    from_scratch: bool = typer.Option(False, "--from-scratch", help="Random initial weights (say so explicitly)."),
    normalization: str = typer.Option("sky_background", "--normalization", help="sky_background or imagenet."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last.pt."),
    balance: bool = typer.Option(False, "--balance/--all-labels", help="Downsample the larger class in each split (the seed study's way); default: every label, the loss weighs the classes equally."),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(0, "--workers", help="DataLoader worker processes."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", help="Wall-time budget: stop after the epoch that passes it (best.pt is kept)."),
    task: str = typer.Option("binary", "--task", help="binary (yes/no; class labels count as yes/no) or morphology (the OATH classes arc, diffuse, discrete, cloudy, moon, clear; P(aurora) is the sum of the first three)."),
) -> None:
    """Two-stage fine-tuning of the aurora classifier on night-wise splits, every label used, the classes weighed equally.

    --task morphology trains the same network on the sky classes (labels arc/diffuse/discrete/cloudy/
    moon/clear); its index P(aurora) is the sum of the aurora classes, and evaluate reports each class.

    channels_last on any device, bf16 AMP on a GPU when there is one. The checkpoint loads with
    torch.load(weights_only=True) and records the model, input size, normalisation, config,
    label-set hash and metrics.
    """
    from aurora_sw.labels import read_label_table, split_report
    from aurora_sw.model.config import TrainConfig
    from aurora_sw.workflows.train import train as run_train  # torch loads only when training starts

    _quiet_libraries()
    if sum([pretrained, weights is not None, from_scratch]) != 1:
        raise AuroraSWError("choose the initial weights: --pretrained (online), --weights FILE, or --from-scratch")
    cfg = TrainConfig(
        model_name=model_name, input_size=input_size, epochs_head=epochs_head, epochs_full=epochs_full, lr_head=lr_head, lr_full=lr_full,
        batch_size=batch_size, seed=seed, num_workers=workers, pretrained=pretrained, weights=str(weights) if weights else None,
        normalization=normalization, max_train_seconds=max_seconds, task=task,
    )
    out = out or _layout(None, None).model
    table = read_label_table(labels)
    _output_dir(out)
    last = out / "last.pt"
    before = _file_stamp(last)
    try:
        res = run_train(table, out, cfg, val_fraction=val_fraction, balance=balance, resume=resume)
    except KeyboardInterrupt:
        if _file_stamp(last) not in (before, None):
            _interrupted(f"{last} holds the last finished epoch: run the same command with --resume to continue from it")
        if resume:
            _interrupted(f"no epoch finished in this run; --resume continues from {last} as before")
        _interrupted("no epoch had finished, so there is nothing to resume" + (f" ({last} is an earlier training's)" if before else ""))
    typer.echo(split_report(res.split).to_string())
    typer.echo(res.summary())


@app.command()
def evaluate(
    model: Path = typer.Option(..., "--model", help="Checkpoint (best.pt)."),
    labels: Path = typer.Option(..., "--labels", help="Label store, or a split.parquet written by `train`."),
    split: str = typer.Option("val", "--split", help="Which split to evaluate when the file has one ('all' for every row)."),
    out: Path = typer.Option(Path("report"), "--out", help="Folder for metrics.json, per_condition.csv and the plots."),
    site: Optional[str] = typer.Option(None, "--site", help="Site key in the catalog (default: its default_site)."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Accuracy, precision, recall, F1, ROC/PR-AUC, calibration and the per-sky-condition table,
    and the accuracy after HMM smoothing over each night (what temporal context adds)."""
    from aurora_sw.labels import read_label_table
    from aurora_sw.workflows.evaluate import evaluate as run_evaluate
    from aurora_sw.workflows.evaluate import frames_of_split

    cat = _catalog(catalog)
    site_cfg = cat.site(site)  # a bad --site is refused before any frame is scored
    frames = frames_of_split(read_label_table(labels), split, source=labels)
    from aurora_sw.model.checkpoint import load_checkpoint  # torch: after the options are checked

    ckpt = load_checkpoint(model)
    _output_dir(out)
    typer.echo(run_evaluate(frames, ckpt, out, site=site_cfg, catalog=cat).summary())


@app.command()
def gradcam(
    frames: list[Path] = typer.Argument(..., help="Frames (JPEG/PNG) or folders of them."),
    model: Path = typer.Option(..., "--model", help="Checkpoint (best.pt)."),
    out: Path = typer.Option(Path("gradcam"), "--out", help="Folder for overlays, raw maps (.npy) and cam_stats.csv."),
    target: Optional[str] = typer.Option(None, "--target", help="Class to explain (a class of the model: yes/no, or a sky class); default: aurora (yes, or each frame's likeliest aurora class)."),
    layer: Optional[str] = typer.Option(None, "--layer", help="Module name (default: the last conv, conv_head)."),
    size: int = typer.Option(360, "--size", help="Overlay size in pixels."),
    batch_size: int = typer.Option(16, "--batch-size"),
) -> None:
    """Grad-CAM overlays and maps for frames, with per-frame CAM statistics in sky coordinates."""
    from aurora_sw.ingest.jpeg import IMAGE_SUFFIXES
    from aurora_sw.model.checkpoint import load_checkpoint
    from aurora_sw.model.gradcam import write_gradcam

    paths = []
    for f in frames:
        paths += sorted(str(p) for p in f.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if f.is_dir() else [str(f)]
    if not paths:
        raise AuroraSWError("no frames given")
    names = [Path(p).stem for p in paths]
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise AuroraSWError(f"two frames are named {dup}: their maps would overwrite each other in --out; give them separately")
    ckpt = load_checkpoint(model)
    table = write_gradcam(paths, ckpt, _output_dir(out), target=target, layer=layer, size=size, batch_size=batch_size)
    typer.echo(f"{len(table)} Grad-CAM maps ({target or 'aurora'}) -> {out}")


@app.command()
def score(
    archive: Path = typer.Option(..., "--archive", help="Archive folder (manifest.parquet)."),
    model: Path = typer.Option(..., "--model", help="Classifier checkpoint (best.pt)."),
    out: Optional[Path] = typer.Option(None, "--out", help="The index store (Zarr), one chunk per night (default: the catalog's outputs.index, index.zarr)."),
    resume: bool = typer.Option(False, "--resume", help="Keep complete, intact nights in OUT (or of an interrupted run); score the rest and damaged ones."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Frames per batch (default: by input size; 3 at 240 px on CPU, 128 on GPU)."),
    workers: int = typer.Option(0, "--workers", help="Processes decoding frames (0, the default: with ONNX Runtime one thread a core decodes and scores its own batches, with PyTorch a thread decodes beside the network; on 2 cores that is fastest, worker processes take the network's cores)."),
    backend: str = typer.Option("auto", "--backend", help="Inference runtime: auto (ONNX Runtime on CPU, PyTorch on GPU), torch or onnx."),
    cam: bool = typer.Option(False, "--cam", help="Also store Grad-CAM statistics (extent, centroid) of the aurora frames."),
    decode: str = typer.Option("cpu", "--decode", help="Where frames are decoded and measured: cpu (default), or gpu (nvJPEG on a CUDA GPU; P(aurora) then differs from the CPU path's by up to ~0.2, and it was not faster end to end on 16 cores)."),
    dask: bool = typer.Option(False, "--dask", help="Spread nights over a local Dask cluster."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler (e.g. tcp://host:8786)."),
    site: Optional[str] = typer.Option(None, "--site", help="Site key in the catalog the frames are from (default: its default_site); recorded in the index, whose magnetic context follows from it."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Score every minute of every night into the aurora index (resumable; GPU when present).

    Each night is written as one region of the Zarr store and marked complete only at the end, so
    readers never see half a night and a killed run resumes with --resume. A new index is built
    beside OUT and replaces it only when complete; OUT must be an index store, an empty folder or
    new. One writer at a time: a second run on OUT stops and names the first.
    """
    from aurora_sw.workflows.score import score as run_score

    _quiet_libraries()
    out = out or _layout(None, catalog).index
    cat = _catalog(catalog)
    cat.site(site)  # an unknown --site is refused before anything is read
    try:
        r = run_score(archive, model, out, resume=resume, batch_size=batch_size, workers=workers, backend=backend, cam=cam, decode=decode, dask=dask,
                      scheduler=scheduler, catalog_path=cat.path, site_key=site)
    except KeyboardInterrupt:
        _interrupted("the nights scored completely so far are kept: run the same command with --resume to score the rest")
    typer.echo(r.summary())


@app.command()
def indices(
    frames: list[Path] = typer.Argument(..., help="Frames (JPEG/PNG; raw or already masked square crops)."),
    csv: bool = typer.Option(False, "--csv", help="CSV on standard output instead of a table."),
) -> None:
    """Physical indices of individual frames: sky brightness, green/red excess, aurora area."""
    import pandas as pd

    from aurora_sw.camera import read_square_frame
    from aurora_sw.index.physical import ANALYSIS_SIZE, frame_indices
    from aurora_sw.index.schema import INDEX_NAMES

    rows = []
    for f in frames:
        try:
            values = frame_indices(read_square_frame(f, ANALYSIS_SIZE))
        except OSError as exc:
            raise AuroraSWError(str(exc)) from None
        rows.append({"path": str(f), **dict(zip(INDEX_NAMES, map(float, values)))})
    df = pd.DataFrame(rows)
    typer.echo(df.to_csv(index=False) if csv else df.to_string(index=False, float_format="%.3f"))


def _output_dir(path: Path) -> Path:
    """Make the output folder ``path`` (and its parents), or say in one line why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuroraSWError(f"{path}: cannot make this output folder ({exc.strerror or exc}: {exc.filename or path}); choose another --out") from None
    return path


PLOT_SUFFIXES = (".png", ".svg")


def _check_output_file(path: Path, suffixes: tuple[str, ...]) -> Path:
    """Refuse an ``--out`` of the wrong kind or one that would overwrite an input of the project
    (the manifest, labels, solar wind, checkpoints, split, anything inside a Zarr store)."""
    if path.suffix.lower() not in suffixes:
        raise AuroraSWError(f"--out {path}: write a {' or '.join(suffixes)} file")
    inside_store = any(p.suffix == ".zarr" for p in path.resolve().parents)
    if inside_store or (path.exists() and path.name in _layout(None, None).input_names):
        raise AuroraSWError(f"--out {path}: that is an input of the project, and is not overwritten; choose another --out")
    return path


@contextmanager
def _output_file(path: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """Write to the yielded temporary path; it replaces ``path`` only when the block succeeds.

    So a failed write leaves an earlier output whole, and says why in one line. The temporary
    name keeps the suffix, from which writers such as matplotlib choose the format. ``path`` must
    end in one of ``suffixes`` and must not be an input of the project (:func:`_check_output_file`).
    """
    _check_output_file(path, suffixes)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise AuroraSWError(f"{path}: cannot write ({exc.strerror or exc}: {exc.filename or path}); choose another --out") from None
    finally:
        if tmp.exists():  # not unlink(missing_ok): under a path that is a file it raises NotADirectoryError
            tmp.unlink()


@app.command()
def query(
    index: Path = typer.Option(..., "--index", help="Aurora-index Zarr store."),
    start: Optional[str] = typer.Option(None, "--start", help="UTC start."),
    end: Optional[str] = typer.Option(None, "--end", help="UTC end."),
    variables: str = typer.Option("p_aurora,aurora,green_excess,aurora_area,sun_class,moon_class", "--vars", help="Index variables, comma-separated; also the camera's magnetic context, derived per minute: mlat, mlt (AACGM-v2, h), day_of_year, rm_angle (Russell-McPherron, deg)."),
    condition: str = typer.Option("", "--condition", help="Sky conditions to keep, e.g. Night,NoMoon."),
    fmt: str = typer.Option("csv", "--format", help="csv, parquet or netcdf."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default: standard output for csv)."),
) -> None:
    """Minutes of the index between two times, filtered by sky condition, as CSV, Parquet or NetCDF."""
    from aurora_sw.times import utc_range

    if fmt not in ("csv", "parquet", "netcdf"):
        raise AuroraSWError(f"--format {fmt!r}: use csv, parquet or netcdf")
    if fmt != "csv" and out is None:
        raise AuroraSWError(f"--format {fmt} needs --out FILE")
    t0, t1 = utc_range(start, end, open_ended=True)  # before the heavy imports: a typo is refused at once
    suffixes = {"csv": (".csv",), "parquet": (".parquet",), "netcdf": (".nc",)}[fmt]
    if out is not None:
        _check_output_file(out, suffixes)

    from aurora_sw.workflows.query import query as run_query

    res = run_query(index, start=t0, end=t1, variables=[v.strip() for v in variables.split(",") if v.strip()],
                    conditions=[c.strip() for c in condition.split(",") if c.strip()])
    if fmt == "netcdf":
        with _output_file(out, suffixes) as path:
            res.data.to_netcdf(path)
    elif fmt == "parquet":
        with _output_file(out, suffixes) as path:
            res.to_frame().to_parquet(path)
    elif out:
        with _output_file(out, suffixes) as path:
            path.write_text(res.to_frame().to_csv())
    else:
        typer.echo(res.to_frame().to_csv(), nl=False)
    if out:
        typer.echo(f"{res.n_minutes} minutes -> {out}")


@app.command("keogram")
def keogram_cmd(
    night: str = typer.Option(..., "--night", help="Night (local date at dusk), e.g. 2024-02-05."),
    archive: Optional[Path] = typer.Option(None, "--archive", help="Archive folder (manifest.parquet): decode the night's frames."),
    index: Optional[Path] = typer.Option(None, "--index", help="Index store: read the keogram stored by `score` (no decoding, 2 deg rows)."),
    size: int = typer.Option(180, "--size", help="With --archive: pixels from horizon to horizon."),
    azimuth: float = typer.Option(0.0, "--azimuth", help="With --archive: the meridian's azimuth, deg east of geographic north (0 north-south, 90 east-west); from magnetic north with --magnetic."),
    magnetic: bool = typer.Option(False, "--magnetic", help="With --archive: measure --azimuth from the site's magnetic meridian (AACGM at 110 km; needs aacgmv2)."),
    site: Optional[str] = typer.Option(None, "--site", help="Site key in the catalog, for --magnetic (default: its default_site)."),
    out: Path = typer.Option(Path("keogram.png"), "--out", help="PNG (and a .nc beside it)."),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Keogram of one night: north-south from the index store, or along any meridian from the archive's frames."""
    from aurora_sw.index.keogram import check_azimuth, plot_keogram
    from aurora_sw.times import night_date

    if (archive is None) == (index is None):
        raise AuroraSWError("keogram: give exactly one of --archive (decode frames) or --index (stored keogram)")
    night = night_date(night)
    check_azimuth(azimuth)
    _check_output_file(out, PLOT_SUFFIXES)
    _check_output_file(out.with_suffix(".nc"), (".nc",))

    from aurora_sw.workflows.keogram import keogram_of_night

    keo = keogram_of_night(night, archive=archive, index=index, size=size, azimuth_deg=azimuth, magnetic=magnetic,
                           site=_catalog(catalog).site(site) if magnetic else None)
    azimuth = keo.attrs.get("meridian_azimuth_deg", azimuth)
    with _output_file(out, PLOT_SUFFIXES) as png:
        plot_keogram(keo, png)
    with _output_file(out.with_suffix(".nc"), (".nc",)) as nc:
        keo.to_netcdf(nc)
    along = f" (meridian at azimuth {azimuth:.1f} deg east of north)" if azimuth else ""
    typer.echo(f"{int(keo.notnull().any(['meridian_angle', 'channel']).sum())} frames -> {out} and {out.with_suffix('.nc')}{along}")


@app.command()
def summary(index: Path = typer.Option(..., "--index", help="Aurora-index Zarr store.")) -> None:
    """Per-night summary of an aurora index: frames, aurora fraction, first/last aurora, dark hours.

    Exits with 1 when a night is damaged (listed, without values).
    """
    from aurora_sw.index.summary import index_summary

    table = index_summary(index)
    typer.echo(table.to_string())
    damaged = table.index[table["status"] == "damaged"]
    if len(damaged):
        raise AuroraSWError(f"{index}: night(s) {', '.join(damaged)} damaged and left out; `aurora-sw check --index {index}` names the variables, `aurora-sw score --resume` re-scores them")


@app.command()
def check(index: Path = typer.Option(..., "--index", help="Aurora-index Zarr store.")) -> None:
    """Check every night of an index store against the checksums written with it.

    Each night is ok, unverified (written before checksums were recorded), damaged (a variable
    differs or cannot be read; named) or incomplete (not written, or interrupted). Exits with 1
    when a night is damaged; `aurora-sw score --resume` re-scores damaged and incomplete nights.
    """
    from aurora_sw.index.store import check_index

    report = check_index(index)
    typer.echo(report.to_string())
    typer.echo(", ".join(f"{n} {status}" for status, n in report["status"].value_counts().items()))
    damaged = report.index[report["status"] == "damaged"]
    if len(damaged):
        raise AuroraSWError(f"{index}: night(s) {', '.join(damaged)} damaged; `aurora-sw score --resume` re-scores them")


@app.command()
def explore(
    data: Path = typer.Option(Path("demo_out"), "--data", help="Data root: an `aurora-sw demo` output or a project folder."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="TCP port (default: Streamlit's 8501, or the next free one)."),
    address: str = typer.Option("127.0.0.1", "--address", help="Interface to listen on; anything but loopback lets others read the data and write labels."),
) -> None:
    """Open the Explorer in the browser: this machine only, no tracebacks sent to the page."""
    import os

    from aurora_sw.explorer import explorer_command, is_loopback

    cmd = explorer_command(data, port=port, address=address)
    if not is_loopback(address):
        typer.echo(f"aurora-sw: warning: the Explorer listens on {address or 'every interface'}: whoever reaches this machine can read {data} and write labels", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)  # Streamlit takes this process's place: Ctrl-C and kill reach it directly


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from another (inode, size, modification time), or None
    where there is none: whether a command interrupted wrote it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _interrupted(kept: str) -> NoReturn:
    """End a long command stopped by Ctrl-C with one line saying what is kept and how to go on,
    and exit code 130 (128 + SIGINT), as the shell expects of an interrupted program."""
    typer.echo(f"aurora-sw: interrupted; {kept}", err=True)
    raise typer.Exit(130)


def main() -> None:
    """Entry point: run the app, turning user errors, and what the system refuses mid-run (a full
    disk, a folder removed, a file vanished: ``OSError``), into one line and exit code 1.
    ``AURORA_SW_TRACEBACK=1`` shows the traceback instead for the second kind and for a user error
    raised from another error (a failed night write names its cause in one line).

    However the command ends, the objects alive then are frozen out of the garbage collector
    (:func:`gc.freeze`): the process is ending, and the collector's passes at the interpreter's
    exit walked the millions of objects that torch, xarray and dask leave, ~0.8 s of every
    `score` (exit handlers and thread joins run as before; the memory goes back with the process).
    """
    try:
        _run_app()
    finally:
        gc.freeze()


def _run_app() -> None:
    """:func:`main`'s work: the app, with user and system errors turned into one line."""
    try:
        app()
    except AuroraSWError as exc:
        if os.environ.get("AURORA_SW_TRACEBACK") and exc.__cause__ is not None:
            raise
        typer.echo(f"aurora-sw: error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        if os.environ.get("AURORA_SW_TRACEBACK"):
            raise
        typer.echo(f"aurora-sw: error: {os_error_line(exc)}; fix that and run the command again (score and train: with --resume, "
                   "which keeps what was complete; AURORA_SW_TRACEBACK=1 shows where it happened)", err=True)
        sys.exit(1)


def os_error_line(exc: OSError) -> str:
    """What the system refused, on one line: the file (both files of a rename) and the reason."""
    reason = exc.strerror or (str(exc).splitlines() or [type(exc).__name__])[0]
    files = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    return f"{' -> '.join(files)}: {reason}" if files else reason
