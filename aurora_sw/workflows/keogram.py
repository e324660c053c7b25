"""One night's keogram, from the index store or from the archive's frames: asked one way everywhere."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import xarray as xr

from aurora_sw.errors import AuroraSWError

if TYPE_CHECKING:
    from aurora_sw.catalog import Site

__all__ = ["keogram_of_night"]


def keogram_of_night(
    night: str,
    *,
    archive: str | os.PathLike | None = None,
    index: str | os.PathLike | None = None,
    size: int = 180,
    azimuth_deg: float = 0.0,
    magnetic: bool = False,
    site: "Site | None" = None,
) -> xr.DataArray:
    """The keogram of ``night`` (local date at dusk, ``YYYY-MM-DD``).

    Parameters
    ----------
    night
        The night.
    archive, index
        Exactly one: an archive folder (decode the night's frames, any meridian) or an index store
        (the north-south keogram stored by ``score``; no decoding).
    size
        With ``archive``: pixels from horizon to horizon.
    azimuth_deg
        With ``archive``: the meridian's azimuth, degrees east of geographic north (0: north-south),
        or of magnetic north with ``magnetic``.
    magnetic, site
        Measure ``azimuth_deg`` from the site's magnetic meridian (AACGM at 110 km; needs aacgmv2).

    Returns
    -------
    xarray.DataArray
        ``attrs["meridian_azimuth_deg"]``: the geographic azimuth of the meridian used.
    """
    if (archive is None) == (index is None):
        raise AuroraSWError("keogram: give exactly one of an archive (decode frames) or an index store (stored keogram)")
    if index is not None and (azimuth_deg or magnetic):
        raise AuroraSWError("keogram: the index stores the north-south keogram only; use --archive for --azimuth or --magnetic")
    if index is not None:
        from aurora_sw.index.store import open_index, open_keogram

        open_index(index)  # a missing or damaged store says so, not "no keogram"
        keo = open_keogram(index, night)
        if keo is None:
            raise AuroraSWError(f"{index}: this store has no keogram (scored before keograms were stored); use --archive")
        keo.attrs.setdefault("meridian_azimuth_deg", 0.0)
        return keo
    from aurora_sw.index.keogram import keogram, meridian_azimuth
    from aurora_sw.ingest import read_manifest

    m = read_manifest(archive)
    frames = m[m["night"] == night]
    if frames.empty:
        raise AuroraSWError(f"{archive}: no frames for night {night}; nights: {', '.join(sorted(m['night'].unique())[:10])}")
    if magnetic:
        if site is None:
            raise AuroraSWError("keogram: --magnetic needs the site (its magnetic meridian)")
        azimuth_deg = meridian_azimuth(site, frames["time_utc"].min(), azimuth_deg=azimuth_deg, magnetic=True)
    keo = keogram(frames, size=size, azimuth_deg=azimuth_deg, progress=True)
    keo.attrs["meridian_azimuth_deg"] = float(azimuth_deg)
    return keo
