"""Batch job: score an archive into the aurora index, optionally on a Dask cluster.

    python pipelines/score_archive.py --archive ARCHIVE --model model/best.pt --out index.zarr [--resume]
    python pipelines/score_archive.py ... --scheduler tcp://scheduler:8786   # e.g. dask-jobqueue on SLURM

Thin over `aurora_sw.index.pipeline.score_archive`; same options, checks and one-line errors as
`aurora-sw score` (a second job on the same --out stops and names the first).
"""

from aurora_sw.cli import main

if __name__ == "__main__":  # Dask's process-based clusters need this guard
    import sys

    sys.argv[1:1] = ["score"]
    main()
