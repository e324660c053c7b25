"""Ingest throughput: AuroraMAX-style movies and JPEG folders, frames per second.

Writes a synthetic 720p movie (one frame per 6 s of sky time) and a folder of 720x720 JPEGs, then
times `aurora_sw.ingest.ingest` on each. For movies it also times, in the same run, a seed-style
baseline that converts every movie frame to an image (OpenCV reading frame by frame) against our
PyAV decode that converts only the kept frames, and splits our time into decode, OCR and the rest.

    python benchmarks/ingest_throughput.py [--minutes 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import pandas as pd

from aurora_sw.catalog import load_catalog
from aurora_sw.ingest import ingest
from aurora_sw.ingest.video import iter_frames, read_overlay
from aurora_sw.synthetic import generate_archive
from aurora_sw.synthetic.movies import write_timelapse
from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_solar_wind


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=int, default=30, help="sky minutes of movie")
    args = ap.parse_args()
    cat = load_catalog()
    site = cat.site("yellowknife")
    work = Path(tempfile.mkdtemp(prefix="ingest_bench_"))
    sw = synthetic_solar_wind("2024-02-04", "2024-02-07", seed=0)
    movie = write_timelapse(work / "videos", pd.Timestamp("2024-02-05"), site=site, catalog=cat, night_seed=0, activity=aurora_activity(sw), size=240, minutes=args.minutes, start_local="22:00")
    n_movie = args.minutes * 10

    t0 = time.perf_counter()
    cap = cv2.VideoCapture(str(movie))
    seen = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        seen += 1
    t_baseline = time.perf_counter() - t0

    t0 = time.perf_counter()
    kept = list(iter_frames(movie, 10))
    t_decode = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in kept:
        read_overlay(f.rgb, tuple(site.camera_epochs[-1].overlay_box), site.tz)
    t_ocr = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = ingest([movie], work / "arch_video", cat, progress=False)
    t_video = time.perf_counter() - t0

    arch = generate_archive(work / "jpeg", "2024-02-05", n_nights=1, seed=0, size=720, catalog=cat, progress=False)
    t0 = time.perf_counter()
    sj = ingest([arch.frames_dir], work / "arch_jpeg", cat, progress=False)
    t_jpeg = time.perf_counter() - t0

    print(f"movie: {n_movie} movie frames (720p), {len(kept)} kept (one per sky minute)")
    print(f"  seed-style baseline, every frame to an image (OpenCV): {t_baseline:6.2f} s  {seen / t_baseline:7.1f} movie frames/s")
    print(f"  PyAV, threaded, only kept frames converted          : {t_decode:6.2f} s  {n_movie / t_decode:7.1f} movie frames/s ({t_baseline / t_decode:.1f}x)")
    print(f"  tesseract OCR of the overlay                        : {t_ocr:6.2f} s  {1000 * t_ocr / len(kept):5.0f} ms a kept frame")
    print(f"  whole ingest (decode, OCR, fit, crop, JPEG, sky, flags): {t_video:6.2f} s  {s.n_added / t_video:6.1f} kept frames/s = {s.n_added / t_video * 60:6.0f} sky minutes a minute")
    print(f"jpeg folder: {sj.n_added} frames of 720x720 in {t_jpeg:.2f} s = {sj.n_added / t_jpeg:.0f} frames/s (names -> times, sky conditions, quality flags)")


if __name__ == "__main__":
    main()
