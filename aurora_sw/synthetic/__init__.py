"""The synthetic sky: the embedded default data, written against the same contracts as real data.

* :mod:`.solarwind` -- OMNI-like 1-min solar wind with southward turnings, gaps and fill values,
  a 27-day recurrent high-speed stream, 3-hourly Kp, and the auroral activity it drives
  (Newell coupling with a planted delay plus noise).
* :mod:`.render` -- fisheye all-sky frames of a night at the site: twilight and moonlight from real
  astropy geometry, stars turning about the pole, clouds, trees, airglow, city glow, and auroral
  arcs (green 557.7 nm with red 630 nm tops) driven by that activity.
* :mod:`.frames` -- the night's instants and frame states; 720x720 JPEGs with the UTC time in the
  file name, rendered in parallel.
* :mod:`.omni_files` -- the solar wind as OMNI HRO2 1-min and hourly OMNI2 CDF files.
* :mod:`.movies` -- AuroraMAX-style 1280x720 MP4 timelapses, local time burned in.
* :mod:`.archive` -- a whole synthetic archive (all of the above, Kp and ground truth).
"""

from aurora_sw.synthetic.archive import SyntheticArchive, generate_archive
from aurora_sw.synthetic.movies import write_timelapse
from aurora_sw.synthetic.omni_files import write_omni_cdfs
from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_kp, synthetic_solar_wind

__all__ = [
    "SyntheticArchive",
    "aurora_activity",
    "generate_archive",
    "synthetic_kp",
    "synthetic_solar_wind",
    "write_omni_cdfs",
    "write_timelapse",
]
