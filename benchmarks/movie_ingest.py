"""Movie ingest end to end, against the study's way, on one AuroraMAX-style movie with a DST switch.

Writes a 1280x720 H.264 timelapse (one movie frame per 6-s exposure, the local time burned in,
MST turning MDT at 02:00 local inside it; 6 hours by default, 3,600 movie frames, 360 kept), then
runs, each in its own process so that its peak RSS is its own (``os.wait4``):

- the study's way: OpenCV decodes every movie frame; every 10th is kept; its overlay is blurred,
  Otsu-thresholded and read by pytesseract (default settings but one text line, ``--psm 7``),
  parsed with its zone; the sky circle is cropped to 720x720 and written as a JPEG;
- ``aurora-sw ingest MOVIE --out ARCHIVE --ocr-every 1`` (every kept frame's overlay read: the
  dense fit this project had before streaming);
- ``aurora-sw ingest MOVIE --out ARCHIVE`` as a user runs it (streaming, sparse overlay reads,
  the default ``--ocr-every 10``), process start and sky conditions included.

Every kept frame's UTC time is checked against the writer's truth (within 1 s).

    python benchmarks/movie_ingest.py [--hours 6]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CADENCE_S = 6.0
STEP = 10  # movie frames per kept frame: one a minute


def study_way(movie: Path, out: Path) -> None:
    """The study's loop, as described in the scale issue: every frame decoded by OpenCV, OCR on each kept one."""
    import cv2
    import pytesseract

    from aurora_sw.camera import crop_sky
    from aurora_sw.catalog import load_catalog
    from aurora_sw.ingest.video import parse_overlay

    site = load_catalog().site("yellowknife")
    x0, y0, x1, y1 = site.camera_epochs[-1].overlay_box
    cap = cv2.VideoCapture(str(movie))
    i, kept = -1, 0
    out.mkdir(parents=True, exist_ok=True)
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        i += 1
        if i % STEP:
            continue
        grey = cv2.cvtColor(bgr[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
        grey = cv2.GaussianBlur(cv2.resize(grey, None, fx=3, fy=3), (3, 3), 0)
        _, bw = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        t = parse_overlay(" ".join(pytesseract.image_to_string(255 - bw, config="--psm 7").split()), site.tz)
        name = f"{t:%Y%m%dT%H%M%SZ}" if t else f"unread_{i}"
        cv2.imwrite(str(out / f"{name}.jpg"), crop_sky(bgr, site.camera_epoch(t) if t else site.camera_epochs[-1], out_size=720), [cv2.IMWRITE_JPEG_QUALITY, 92])
        kept += 1
    print(kept)


# Peak RSS is read through a small launcher: Linux keeps a process's RSS high-water mark across exec, so
# a child forked straight from this (large) process would report this process's RSS as its own.
_LAUNCHER = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"


def run(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB; the command's, through :data:`_LAUNCHER`) and stdout of one command."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - t0
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    return wall, int(res.stderr.strip().splitlines()[-1]) / 1024, res.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=6.0, help="sky hours of movie (6: 3,600 movie frames)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the movie and archives (default: a new temporary one); a movie already there is reused")
    ap.add_argument("--study-way", nargs=2, type=Path, metavar=("MOVIE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.study_way:
        study_way(*args.study_way)
        return
    from aurora_sw.catalog import load_catalog
    from aurora_sw.synthetic.movies import write_timelapse
    from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_solar_wind

    cat = load_catalog()
    site = cat.site("yellowknife")
    minutes = int(round(args.hours * 60))
    # The movie spans the DST switch (02:00 MST -> 03:00 MDT on 2024-03-10): from 22:00 MST, or 01:30 when short.
    local = pd.Timestamp("2024-03-09 22:00") if minutes >= 270 else pd.Timestamp("2024-03-10 01:30")
    start_utc = local.tz_localize(site.timezone).tz_convert("UTC").tz_localize(None)
    work = args.work or Path(tempfile.mkdtemp(prefix="movie_bench_"))
    movie = work / "videos" / "auroramaxHD_20240309_720p.mp4"
    if not movie.exists():
        sw = synthetic_solar_wind("2024-03-05", "2024-03-12", seed=0)
        t0 = time.perf_counter()
        write_timelapse(work / "videos", pd.Timestamp("2024-03-09"), site=site, catalog=cat, night_seed=0, activity=aurora_activity(sw), size=240, minutes=minutes, start_local=f"{local:%H:%M}")
        print(f"wrote a {minutes}-minute movie ({minutes * 10} frames, 1280x720) in {time.perf_counter() - t0:.0f} s: {movie}")
    for key in ("study", "dense", "stream"):  # archives of an earlier run: ingest would skip a movie it has
        shutil.rmtree(work / key, ignore_errors=True)
    cli = [sys.executable, "-m", "aurora_sw", "ingest", str(movie)]
    results = {}
    results["study"] = run([sys.executable, __file__, "--study-way", str(movie), str(work / "study")])
    results["dense"] = run([*cli, "--out", str(work / "dense"), "--ocr-every", "1"])
    results["stream"] = run([*cli, "--out", str(work / "stream")])

    from aurora_sw.ingest import read_manifest

    kept = minutes
    print(f"\nmovie: {minutes * 10} movie frames, {kept} kept (one per sky minute), DST switch inside")
    base = results["study"][0]
    for key, label in (("study", "study's way (OpenCV, OCR every kept frame)"), ("dense", "aurora-sw ingest --ocr-every 1"), ("stream", "aurora-sw ingest (streaming, sparse OCR)")):
        wall, rss, _ = results[key]
        line = f"  {label:44s} {wall:7.1f} s  {kept / wall:6.1f} kept frames/s  {base / wall:5.1f}x  peak RSS {rss:7.1f} MB"
        if key != "study":
            m = read_manifest(work / key).sort_values("frame_index")
            truth = start_utc + pd.to_timedelta(CADENCE_S * m["frame_index"].to_numpy(), unit="s")
            err = (m["time_utc"].dt.tz_convert(None).to_numpy() - truth.to_numpy()).astype("timedelta64[ms]").astype(float) / 1000
            line += f"  {len(m)} frames, {int((m['ocr_text'] != '').sum())} overlays read, max |UTC - truth| {np.abs(err).max():.1f} s"
        print(line)
    print(f"archive cost at this rate: 215,000 kept frames (331 nights) in {215_000 / (kept / results['stream'][0]) / 3600:.1f} h (study's way {215_000 / (kept / base) / 3600:.1f} h)")


if __name__ == "__main__":
    main()
