"""The synthetic sky: the embedded default data, written against the same contracts as real data.

* :mod:`.solarwind` -- OMNI-like 1-min solar wind with southward turnings, gaps and fill values,
  a 27-day recurrent high-speed stream, 3-hourly Kp, and the auroral activity it drives
  (Newell coupling with a planted delay plus noise).
* :mod:`.render` -- fisheye all-sky frames of a Yellowknife night: twilight and moonlight from real
  astropy geometry, stars turning about the pole, clouds, trees, airglow, city glow, and auroral
  arcs (green 557.7 nm with red 630 nm tops) driven by that activity.
* :mod:`.dataset` -- writes a whole synthetic archive: 720x720 JPEGs with UTC time in the file
  name, AuroraMAX-style 1280x720 MP4 timelapses, OMNI HRO2 CDF files and ground truth.
"""

from aurora_sw.synthetic.dataset import SyntheticArchive, generate_archive, write_timelapse
from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_kp, synthetic_solar_wind

__all__ = [
    "SyntheticArchive",
    "aurora_activity",
    "generate_archive",
    "synthetic_kp",
    "synthetic_solar_wind",
    "write_timelapse",
]
