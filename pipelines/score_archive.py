"""Batch job: score an archive into the aurora index, optionally on a Dask cluster.

    python pipelines/score_archive.py --archive ARCHIVE --model model/best.pt --out index.zarr [--resume]
    python pipelines/score_archive.py ... --scheduler tcp://scheduler:8786   # e.g. dask-jobqueue on SLURM

Thin over `aurora_sw.index.pipeline.score_archive`; same options as `aurora-sw score`.
"""

from aurora_sw.cli import app

if __name__ == "__main__":  # Dask's process-based clusters need this guard
    import sys

    app(["score", *sys.argv[1:]])
