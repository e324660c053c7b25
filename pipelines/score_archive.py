"""Batch job: score an archive into the aurora index, optionally on a Dask cluster.

    python pipelines/score_archive.py --archive ARCHIVE --model model/best.pt --out index.zarr [--resume]
    python pipelines/score_archive.py ... --scheduler tcp://scheduler:8786   # e.g. dask-jobqueue on SLURM

Thin over `aurora_sw.workflows.score` (the workflow `aurora-sw score` calls): same options, checks
and one-line errors (a second job on the same --out stops and names the first).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the options, score, print one summary line; a user error is one line and exit code 1."""
    p = argparse.ArgumentParser(prog="score_archive.py", description="Score every minute of every night into the aurora index (resumable).")
    p.add_argument("--archive", required=True, help="Archive folder (manifest.parquet).")
    p.add_argument("--model", required=True, help="Classifier checkpoint (best.pt).")
    p.add_argument("--out", default="index.zarr", help="The index store (Zarr), one chunk per night.")
    p.add_argument("--resume", action="store_true", help="Keep complete, intact nights; score the rest and damaged ones.")
    p.add_argument("--batch-size", type=int, default=None, help="Frames per batch (default: by input size and device).")
    p.add_argument("--workers", type=int, default=0, help="DataLoader processes decoding frames.")
    p.add_argument("--backend", default="auto", help="auto, torch or onnx.")
    p.add_argument("--cam", action="store_true", help="Also store Grad-CAM statistics of the aurora frames.")
    p.add_argument("--dask", action="store_true", help="Spread nights over a local Dask cluster.")
    p.add_argument("--scheduler", default=None, help="Address of a running Dask scheduler (e.g. tcp://host:8786).")
    p.add_argument("--catalog", default=None, help="data_catalog.yaml to use (default: as aurora-sw).")
    args = p.parse_args(argv)

    from aurora_sw.catalog import load_catalog
    from aurora_sw.errors import AuroraSWError
    from aurora_sw.workflows.score import score

    try:
        r = score(args.archive, args.model, args.out, resume=args.resume, batch_size=args.batch_size, workers=args.workers, backend=args.backend,
                  cam=args.cam, dask=args.dask, scheduler=args.scheduler, catalog_path=load_catalog(args.catalog).path)
    except AuroraSWError as exc:
        print(f"aurora-sw: error: {exc}", file=sys.stderr)
        return 1
    print(r.summary())
    return 0


if __name__ == "__main__":  # Dask's process-based clusters need this guard
    sys.exit(main())
