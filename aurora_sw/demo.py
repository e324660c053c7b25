"""The whole chain on the synthetic sky, offline: generate -> ingest -> label -> train -> score ->
index -> solar wind (through the OMNI loader) -> lagged correlation -> summary.

Every stage calls the same library code a real archive goes through; only the data source and
the labeller (the generator's ground truth, sampled the way a person would label) are synthetic.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.layout import ProjectLayout
from aurora_sw.times import aware_utc
from aurora_sw.workflows.correlate import CorrelationResult, correlate
from aurora_sw.workflows.forecast import DEFAULT_LEADS

if TYPE_CHECKING:
    from aurora_sw.synthetic import SyntheticArchive

log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """Sizes of the demo run; ``quick()`` is the CI-sized variant."""

    nights: int = 6
    seed: int = 0
    start_night: str = "2024-02-05"
    delay_min: float = 45.0
    frame_size: int = 720
    input_size: int = 64
    label_per_night: int = 300
    epochs: int = 22
    lr: float = 2e-3
    max_train_seconds: float | None = None  # a fixed number of epochs: the demo's numbers must not depend on machine load
    lags: tuple[int, int] = (-120, 240)  # the correlate workflow's default range, as every face's
    forecast_leads: tuple[int, ...] = DEFAULT_LEADS  # the forecast workflow's default leads
    morphology_epochs: int = 22  # the morphology classifier's epochs (0: no morphology stage)
    extra: dict = field(default_factory=dict)

    @classmethod
    def quick(cls, **overrides) -> "DemoConfig":
        base = dict(nights=4, frame_size=360, label_per_night=200, epochs=16, forecast_leads=(60,), morphology_epochs=0)
        return cls(**{**base, **overrides})


def morphology_stage(layout: ProjectLayout, sample: pd.DataFrame, truth: pd.DataFrame, held: pd.DataFrame, catalog: Catalog,
                     config: DemoConfig, *, progress: bool = True) -> dict:
    """The demo's morphology classifier: the binary run's labelled frames labelled with their sky
    class (the synthetic truth's ``morphology``), trained the same way (``train --task morphology``)
    into ``model/morphology/`` and evaluated on every frame of the held-out nights.

    Returns the summary entry: class accuracy, per-class recall and support, P(aurora) accuracy
    (the sum of the aurora classes), or ``problem`` when no epoch passed the validation check.
    """
    from aurora_sw.errors import AuroraSWError
    from aurora_sw.model.config import TrainConfig
    from aurora_sw.workflows.evaluate import evaluate
    from aurora_sw.workflows.train import train

    labels = sample.assign(label=truth.loc[sample["path"], "morphology"].to_numpy())
    cfg = TrainConfig(input_size=config.input_size, epochs_head=0, epochs_full=config.morphology_epochs, lr_full=config.lr, batch_size=32,
                      seed=config.seed, task="morphology")
    out = layout.model / "morphology"
    try:
        trained = train(labels, out, cfg, val_fraction=0.34, progress=progress)
    except AuroraSWError as exc:
        log.warning("morphology classifier: %s", exc)
        return {"problem": str(exc), "label_counts": {k: int(v) for k, v in labels["label"].value_counts().items()}}
    val_nights = sorted(trained.split.loc[trained.split["split"] == "val", "night"].unique())
    held = held[held["night"].isin(val_nights)]  # only nights the morphology model never trained on
    if held.empty:
        return {"problem": f"its validation nights {val_nights} are not the binary run's held-out nights", "label_counts": {}}
    frames = held.drop(columns=["p_aurora"], errors="ignore").assign(label=truth.loc[held["path"], "morphology"].to_numpy())
    ev = evaluate(frames, trained.checkpoint, out / "heldout", catalog=catalog, progress=progress)
    mm = ev.morphology
    return {
        "class_accuracy": round(mm["accuracy"], 4),
        "aurora_accuracy": round(ev.metrics["accuracy"], 4),
        "per_class": {c: {"recall": _rounded(v["recall"]), "precision": _rounded(v["precision"]), "support": v["support"]}
                      for c, v in mm["per_class"].items()},
        "heldout_nights": val_nights,
        "label_counts": {k: int(v) for k, v in trained.split["label"].value_counts().items()},
        "n": mm["n"],
    }


def _rounded(x: float) -> float | None:
    """``x`` to 4 decimals; ``None`` (JSON null) where undefined (a class never seen or never predicted)."""
    return None if x != x else round(x, 4)


def morphology_line(entry: dict) -> str:
    """The morphology stage's summary entry in one line (the demo's printout)."""
    if "problem" in entry:
        return f"no usable classifier: {entry['problem']}"
    recalls = ", ".join(f"{c} {v['recall']:.2f} (n={v['support']})" for c, v in entry["per_class"].items() if v["support"])
    return (f"class accuracy {entry['class_accuracy']:.3f}, aurora yes/no from its classes {entry['aurora_accuracy']:.3f} on held-out nights "
            f"{', '.join(entry['heldout_nights'])}; recall {recalls}")


def _stage(timings: dict, name: str, t0: float) -> float:
    timings[name] = round(time.perf_counter() - t0, 1)
    log.info("%s: %.1f s", name, timings[name])
    return time.perf_counter()


def correlate_stage(out: str | Path, index: xr.Dataset, solarwind: xr.Dataset, config: DemoConfig | None = None) -> CorrelationResult:
    """The demo's correlation: Newell's coupling against ``p_aurora``, every minute, over ``config.lags``.

    The same workflow and defaults as ``aurora-sw correlate`` and the Explorer (one answer); the
    result is written to ``out/lag_newell_p_aurora.nc``.
    """
    cfg = config or DemoConfig()
    found = correlate(index, solarwind, drivers=["newell"], response="p_aurora", lags=range(cfg.lags[0], cfg.lags[1] + 1), seed=cfg.seed)
    found.lags["newell"].to_netcdf(Path(out) / "lag_newell_p_aurora.nc")
    return found


def forecast_stage(layout: ProjectLayout, index: xr.Dataset, syn: "SyntheticArchive", catalog: Catalog, config: DemoConfig) -> dict:
    """The demo's forecast: trained and verified by night on the demo's index (``aurora-sw forecast train``'s
    workflow and defaults), written to ``layout.forecast``; returns the per-lead verification, or why it was skipped."""
    from aurora_sw.errors import AuroraSWError
    from aurora_sw.solarwind.variables import load_solar_wind
    from aurora_sw.workflows.forecast import forecast_variables, history_span, train_forecast
    from aurora_sw.workflows.inputs import camera_site

    if importlib.util.find_spec("aacgmv2") is None:  # magnetic local time
        return {"skipped": "magnetic local time needs aacgmv2 (the magnetic extra)"}
    names = forecast_variables(None, list(catalog.solarwind.variables))
    start, end = history_span(pd.DatetimeIndex(index["time"].values))
    sw = load_solar_wind(start, end + pd.Timedelta(minutes=1), names, catalog=catalog, cache_dir=syn.omni_dir, offline=True, kp_cache_dir=syn.kp_dir)
    try:
        site_key, site = camera_site(index, catalog)
        trained = train_forecast(index, sw, site=site, site_key=site_key, leads_min=config.forecast_leads, variables=names, seed=config.seed)
    except AuroraSWError as exc:  # e.g. a night without both classes: say so in the summary, keep the rest
        return {"skipped": str(exc)}
    trained.write(layout.forecast)
    leads = trained.as_json()["leads"]
    for lead in leads.values():
        lead.pop("reliability")
    return {"leads": leads, "lines": {k: trained.summary_line(int(k)) for k in leads}}


def run_demo(out: str | Path, config: DemoConfig | None = None, catalog: Catalog | None = None, progress: bool = True) -> dict:
    """Run the chain into ``out`` and return (and write ``out/summary.json``) its summary.

    Layout of ``out`` (:class:`aurora_sw.layout.ProjectLayout`, names from the catalog's
    ``outputs``): ``synthetic/`` (frames, OMNI CDFs, truth), ``archive/`` (manifest, labels),
    ``model/`` (checkpoints; ``model/heldout/`` the held-out report and predictions),
    ``index.zarr``, ``solarwind.nc``, ``lag_newell_p_aurora.nc``, ``summary.json``.
    """
    import torch

    from aurora_sw.analysis.lag import peak_summary
    from aurora_sw.index.pipeline import score_archive
    from aurora_sw.index.store import open_index
    from aurora_sw.ingest import ingest, read_manifest
    from aurora_sw.labels import LabelStore, sample_for_labelling
    from aurora_sw.model.config import TrainConfig
    from aurora_sw.sky import MOON_CLASSES, SUN_CLASSES
    from aurora_sw.solarwind.variables import load_solar_wind
    from aurora_sw.synthetic import generate_archive
    from aurora_sw.workflows.evaluate import evaluate
    from aurora_sw.workflows.train import train

    cfg = config or DemoConfig()
    catalog = catalog or load_catalog()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    layout = ProjectLayout(out, catalog.outputs)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    timings: dict[str, float] = {}
    t = time.perf_counter()

    syn = generate_archive(
        layout.synthetic, cfg.start_night, n_nights=cfg.nights, seed=cfg.seed, delay_min=cfg.delay_min, size=cfg.frame_size, catalog=catalog, progress=progress
    )
    t = _stage(timings, "generate", t)

    summary_ingest = ingest([syn.frames_dir], layout.archive, catalog, progress=progress)
    manifest = read_manifest(layout.archive)
    t = _stage(timings, "ingest", t)

    # The labeller: ground truth, on a date-aware sample, as a person would label.
    truth = pd.read_csv(syn.truth_csv)
    truth["path"] = [str((syn.root / p).resolve()) for p in truth["path"]]
    truth = truth.set_index("path")
    sample = sample_for_labelling(manifest, per_night=cfg.label_per_night, sun_classes=SUN_CLASSES, moon_classes=MOON_CLASSES, seed=cfg.seed)
    sample["label"] = np.where(truth.loc[sample["path"], "aurora_visible"].to_numpy(), "yes", "no")
    store = LabelStore(layout.labels)
    store.add(sample, labeller="synthetic-truth")
    t = _stage(timings, "label", t)

    train_cfg = TrainConfig(
        input_size=cfg.input_size, epochs_head=0, epochs_full=cfg.epochs, lr_full=cfg.lr, batch_size=32,
        seed=cfg.seed, max_train_seconds=cfg.max_train_seconds,
    )
    trained = train(store.df, layout.model, train_cfg, val_fraction=0.34, progress=progress)  # every label (see workflows.train)
    ckpt, split = trained.checkpoint, trained.split
    t = _stage(timings, "train", t)

    scoring = score_archive(layout.archive, ckpt, layout.index, progress=progress, catalog_path=str(catalog.path))
    index = open_index(layout.index).load()
    p_by_minute = pd.Series(index["p_aurora"].values, index=aware_utc(index["time"].values))
    scored = manifest.assign(p_aurora=p_by_minute.reindex(aware_utc(manifest["time_utc"]).dt.floor("1min")).to_numpy())
    t = _stage(timings, "score", t)

    # Held-out nights: every frame of them, not just the labelled sample.
    val_nights = sorted(split.loc[split["split"] == "val", "night"].unique())
    held = scored[scored["night"].isin(val_nights)]
    y_true = truth.loc[held["path"], "aurora_visible"].to_numpy()
    evaluation = evaluate(held.assign(label=np.where(y_true, "yes", "no")), ckpt, layout.model / "heldout", catalog=catalog)
    metrics, metrics_smoothed = evaluation.metrics, evaluation.metrics_smoothed
    t = _stage(timings, "evaluate", t)

    # The whole synthetic span (several solar rotations: the recurrence chart needs them), then
    # the lag analysis on the imaged nights.
    truth_sw = xr.open_dataset(syn.truth_solarwind)
    span = pd.DatetimeIndex(truth_sw["time"].values)
    sw = load_solar_wind(span.min(), span.max(), ["newell", "bz_gsm", "vsw", "kp"], catalog=catalog, cache_dir=syn.omni_dir, offline=True, kp_cache_dir=syn.kp_dir)
    sw.to_netcdf(layout.solarwind)
    found = correlate_stage(out, index, sw, cfg)
    lag = found.lags["newell"]
    sw = found.drivers
    t = _stage(timings, "correlate", t)

    forecast = forecast_stage(layout, index, syn, catalog, cfg)
    t = _stage(timings, "forecast", t)

    morphology = None
    if cfg.morphology_epochs > 0:
        morphology = morphology_stage(layout, sample, truth, held, catalog, cfg, progress=progress)
        t = _stage(timings, "morphology", t)

    summary = {
        "planted_lag_min": syn.planted_delay_min,
        "recovered_lag_min": lag.attrs["peak_lag_min"],
        "lag_ci_min": [lag.attrs["peak_lag_ci_low"], lag.attrs["peak_lag_ci_high"]],
        "peak_r": round(lag.attrs["peak_r"], 4),
        "peak_p_value": lag.attrs["peak_p_value"],
        "peak_p_value_naive": lag.attrs["peak_p_value_naive"],
        "peak_p_value_global": lag.attrs["peak_p_value_global"],
        "n_surrogates": lag.attrs["n_surrogates"],
        "n_lags": lag.sizes["lag"] - lag.attrs["n_lags_masked"],
        "n_lags_masked": lag.attrs["n_lags_masked"],
        "peak_lag_ci_unbounded": bool(lag.attrs["peak_lag_ci_unbounded"]),
        "lag_summary": peak_summary(lag),
        "granger_p_value": lag.attrs["granger_p"],
        "n_boot": lag.attrs["n_boot"],
        "forecast": forecast,
        "classifier_accuracy": round(metrics["accuracy"], 4),
        "classifier_heldout_nights": val_nights,
        "classifier_metrics": metrics,
        "classifier_accuracy_smoothed": round(metrics_smoothed["accuracy"], 4),
        "classifier_weights": "from scratch (offline: no ImageNet weights)",
        "classifier_validation_check": ckpt.metrics["validation_check"],
        "classifier_restarted_runs": ckpt.metrics["restarted_runs"],
        "morphology": morphology,
        "label_counts": {k: int(v) for k, v in split["label"].value_counts().items()},
        "n_frames_scored": scoring["frames"],
        "n_frames_unreadable": scoring["unreadable"],
        "ingest_problems": len(summary_ingest.problems),
        "nights": list(syn.nights),
        "solar_wind_gap_fraction": round(float(np.isnan(sw["newell"].values).mean()), 4),
        "truth_aurora_fraction": round(float(truth["aurora_visible"].mean()), 4),
        "timings_s": timings,
        "config": {k: v for k, v in cfg.__dict__.items() if k != "extra"},
    }
    truth_sw.close()
    layout.summary.write_text(json.dumps(summary, indent=2, default=str))
    return summary
