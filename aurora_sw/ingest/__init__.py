"""Ingest: frame sources -> frame records (UTC time, path, source) -> the archive manifest.

Every source (a folder of JPEG/PNG frames with the time in the file name, AuroraMAX MP4 movies,
the synthetic sky) yields the same records; everything downstream is source-blind.
"""

from aurora_sw.ingest.manifest import MANIFEST_COLUMNS, build_manifest, ingest, read_manifest
from aurora_sw.ingest.problems import PROBLEM_REASONS, ProblematicFile

__all__ = ["MANIFEST_COLUMNS", "PROBLEM_REASONS", "ProblematicFile", "build_manifest", "ingest", "read_manifest"]
