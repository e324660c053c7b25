"""``ds.aurora``: the index's own vocabulary on any Dataset read from an aurora-index store.

Registered when :mod:`aurora_sw.index` is imported (xarray's accessor mechanism, as
``xarray/core/extensions.py`` documents)::

    ds = aurora_sw.index.open_index("index.zarr")
    ds.aurora.nights                   # ['2024-02-05', ...]
    ds.aurora.night("2024-02-06")      # that night's 1440 minutes
    ds.aurora.scored()                 # minutes with a scored frame only
    ds.aurora.class_names("sun_class") # 'Night', 'Astro', ... per minute ('' without a frame)
    ds.aurora.geomagnetic()            # + mlat, mlt, day_of_year, rm_angle of the camera per minute
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from aurora_sw.catalog import Site, load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.index.schema import GEOMAGNETIC, class_names, night_of, night_start_hour, night_window
from aurora_sw.times import night_date

__all__ = ["AuroraAccessor"]


@xr.register_dataset_accessor("aurora")
class AuroraAccessor:
    """Night selection, scored minutes and class names of an aurora index (UTC ``time`` axis)."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    @property
    def night_start_utc_hour(self) -> int:
        """The hour (UTC) at which each night's chunk starts, as the store records it."""
        return night_start_hour(self._ds.attrs)

    @property
    def nights(self) -> list[str]:
        """The nights (local dates at dusk, ``YYYY-MM-DD``) the time axis covers."""
        return sorted(set(night_of(self._ds["time"].values, start_hour=self.night_start_utc_hour)))

    def night(self, night: str) -> xr.Dataset:
        """The minutes of one night (its chunk of :data:`~aurora_sw.index.schema.MINUTES_PER_NIGHT`).

        Raises
        ------
        AuroraSWError
            A malformed date, or a night the dataset does not cover (naming those it does).
        """
        night = night_date(night)
        part = self._ds.sel(time=night_window(night, start_hour=self.night_start_utc_hour))
        if part.sizes.get("time", 0) == 0:
            shown = ", ".join(self.nights[:10]) or "none"
            raise AuroraSWError(f"night {night}: not in this index; nights: {shown}")
        return part

    def scored(self) -> xr.Dataset:
        """Only the minutes with a scored frame (``p_aurora`` not NaN)."""
        if "p_aurora" not in self._ds:
            raise AuroraSWError(f"no p_aurora in this dataset; have {', '.join(map(str, self._ds.data_vars))}")
        return self._ds.where(self._ds["p_aurora"].notnull().compute(), drop=True)  # a lazy store: the mask first

    @property
    def site(self) -> Site:
        """The camera site the index was scored for: the store's ``site`` in the catalog it records
        (stores scored before the site was recorded: that catalog's default site).

        Raises
        ------
        AuroraSWError
            The recorded catalog or site cannot be read, or the site has moved in the catalog since
            scoring (the recorded ``site_lat_deg``/``site_lon_deg`` differ by more than 0.01 deg).
        """
        attrs = self._ds.attrs
        site = load_catalog(attrs.get("catalog") or None).site(attrs.get("site") or None)
        recorded = (attrs.get("site_lat_deg"), attrs.get("site_lon_deg"))
        if None not in recorded and max(abs(recorded[0] - site.lat_deg), abs(recorded[1] - site.lon_deg)) > 0.01:
            raise AuroraSWError(f"site {attrs.get('site')!r}: the catalog puts it at {site.lat_deg:.4f}, {site.lon_deg:.4f}; "
                                f"the index was scored at {recorded[0]:.4f}, {recorded[1]:.4f}: score again, or restore the catalog")
        return site

    def geomagnetic(self, *, site: Site | None = None) -> xr.Dataset:
        """The dataset with the camera's magnetic context added for every minute of its time axis.

        ``mlat`` (AACGM-v2 latitude at 110 km, deg), ``mlt`` (AACGM-v2 magnetic local time, h),
        ``day_of_year`` and ``rm_angle`` (the Russell-McPherron angle, deg), with the CF attributes
        of :data:`aurora_sw.index.schema.GEOMAGNETIC`
        (:func:`aurora_sw.geomagnetic.geomagnetic_context`). About 20 us a minute.

        Parameters
        ----------
        site
            The camera site; ``None``: the position the store records (``site_lat_deg``,
            ``site_lon_deg``: where the frames were seen, whatever the catalog says now), or for
            stores scored before it was recorded, :attr:`site`.
        """
        from aurora_sw.geomagnetic import SitePosition, geomagnetic_context

        attrs = self._ds.attrs
        if site is None and attrs.get("site_lat_deg") is not None and attrs.get("site_lon_deg") is not None:
            site = SitePosition(str(attrs.get("site") or "site"), float(attrs["site_lat_deg"]), float(attrs["site_lon_deg"]))
        context = geomagnetic_context(site or self.site, self._ds["time"].values)
        return self._ds.assign({name: context[name].variable for name in GEOMAGNETIC})

    def class_names(self, name: str) -> np.ndarray:
        """An integer class variable (``sun_class``, ``moon_class``) decoded to names."""
        if name not in self._ds or "flag_meanings" not in self._ds[name].attrs:
            raise AuroraSWError(f"{name!r} is not a class variable of this dataset")
        return class_names(self._ds[name])

