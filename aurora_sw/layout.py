"""A project's folder layout: where every stage writes and every face reads, named once.

The names come from the catalog's ``outputs`` section (:class:`aurora_sw.catalog.Outputs`); a
:class:`ProjectLayout` joins them to one root folder (the demo's ``--out``, the Explorer's
``--data``, or the working directory for the CLI's defaults). Nothing else spells out
``index.zarr`` or ``archive/manifest.parquet``.

Examples
--------
>>> from aurora_sw.catalog import Outputs
>>> lay = ProjectLayout("demo_out", Outputs())
>>> lay.index.as_posix(), lay.manifest.as_posix()
('demo_out/index.zarr', 'demo_out/archive/manifest.parquet')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from aurora_sw.catalog import Catalog, Outputs

__all__ = ["ProjectLayout"]


@dataclass(frozen=True)
class ProjectLayout:
    """The paths of one project folder.

    Parameters
    ----------
    root
        The project folder (need not exist yet).
    outputs
        The catalog's ``outputs`` (names relative to ``root``); default: the built-in names.
    """

    root: Path
    outputs: Outputs = field(default_factory=Outputs)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def from_catalog(cls, root: str | os.PathLike | None = None, catalog: Catalog | None = None) -> "ProjectLayout":
        """The layout of ``root`` (default: the catalog's ``outputs.root``) under the catalog's names
        (default: :func:`aurora_sw.catalog.load_catalog`)."""
        if catalog is None:
            from aurora_sw.catalog import load_catalog

            catalog = load_catalog()
        return cls(Path(root if root is not None else catalog.outputs.root), catalog.outputs)

    @classmethod
    def of_index(cls, index: str | os.PathLike, outputs: Outputs | None = None) -> "ProjectLayout":
        """The layout of the project an index store lies in (``index`` is its ``outputs.index``),
        so that analyses go beside it and its ``solarwind.nc`` is found."""
        outputs = outputs or Outputs()
        root = Path(index).resolve()
        for _ in Path(outputs.index).parts:
            root = root.parent
        return cls(root, outputs)

    @property
    def synthetic(self) -> Path:
        """The synthetic archive's folder (frames, movies, OMNI CDFs, Kp, truth)."""
        return self.root / self.outputs.synthetic

    @property
    def archive(self) -> Path:
        """The ingested archive's folder (``aurora-sw ingest --out``)."""
        return self.root / self.outputs.archive

    @property
    def manifest(self) -> Path:
        """The archive's frame manifest (Parquet)."""
        return self.archive / self.outputs.manifest

    @property
    def problems(self) -> Path:
        """The archive's ingest problems (CSV, one row per file and reason)."""
        return self.archive / self.outputs.problems

    @property
    def labels(self) -> Path:
        """The label store (Parquet)."""
        return self.root / self.outputs.labels

    @property
    def model(self) -> Path:
        """The classifier's folder (checkpoints, split, reports)."""
        return self.root / self.outputs.model

    @property
    def checkpoint(self) -> Path:
        """The classifier checkpoint the index is scored with: ``best.pt`` in the model folder (the
        name training writes)."""
        return self.model / "best.pt"

    @property
    def index(self) -> Path:
        """The aurora index store (Zarr)."""
        return self.root / self.outputs.index

    @property
    def solarwind(self) -> Path:
        """The solar wind beside the index (NetCDF)."""
        return self.root / self.outputs.solarwind

    @property
    def input_names(self) -> frozenset[str]:
        """File names of the project's inputs, which no command's ``--out`` may overwrite: the
        manifest, its problem list, the label store, the solar wind, the checkpoints and the split."""
        return frozenset({self.manifest.name, self.problems.name, self.labels.name, self.solarwind.name, self.checkpoint.name,
                          "last.pt", "split.parquet"})

    @property
    def analyses(self) -> Path:
        """The folder of analysis outputs (lag curves, epoch tables, figures)."""
        return self.root / self.outputs.analyses

    @property
    def forecast(self) -> Path:
        """The trained forecast (per-lead models, ``verification.json``, figures)."""
        return self.root / self.outputs.forecast

    @property
    def live(self) -> Path:
        """The live store (``aurora-sw live --store``): ``live.csv`` and the camera's stills."""
        return self.root / self.outputs.live

    @property
    def summary(self) -> Path:
        """A run's summary (JSON; the demo writes one)."""
        return self.root / self.outputs.summary
