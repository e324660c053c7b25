"""aurora-sw Explorer: browse nights, frames, Grad-CAM maps, classifier results, lag analyses,
label frames one by one, and map the archive (label look-alike frames in bulk).

    aurora-sw explore --data demo_out

Reads what the library wrote under the data root, laid out as the catalog's ``outputs`` say
(index.zarr, solarwind.nc, archive/manifest.parquet, model/, summary.json); it never recomputes
the archive. ``aurora-sw explore`` binds it to 127.0.0.1 wherever it is started; started any
other way, the page warns when it is served beyond this machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the page modules beside this file

from aurora_sw.explorer import is_loopback  # noqa: E402
from explorer_views import archive_map, classifier, correlations, forecast, labelling, live, night, overview  # noqa: E402
from explorer_views.data import DataRoot, refusals_shown  # noqa: E402

PAGES = {"Overview": overview, "Night": night, "Classifier": classifier, "Correlations": correlations, "Forecast": forecast, "Live": live, "Labelling": labelling, "Map": archive_map}


def data_root() -> DataRoot:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", default="demo_out")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return DataRoot(args.data)


def exposure_banner() -> None:
    """Warn on the page when the server listens beyond this machine (Streamlit started by hand
    outside the repository, where .streamlit/config.toml is not read)."""
    address = st.get_option("server.address")
    if not is_loopback(address):
        st.warning(
            f"This Explorer listens on {address or 'every network interface'}: anyone who can reach this machine "
            "can read this data and write labels. Start it with `aurora-sw explore` to serve 127.0.0.1 only.",
            icon="⚠️",
        )


def main() -> None:
    st.set_page_config(page_title="aurora-sw Explorer", layout="wide")
    exposure_banner()
    with refusals_shown():  # a damaged catalog: one line, not a traceback
        data = data_root()
    if not data.has_index:
        st.title("aurora-sw Explorer")
        st.warning(f"No aurora index under {data.root}.")
        st.markdown(
            "Make one offline with the synthetic sky (about 3 minutes), then reopen:\n\n"
            "```\naurora-sw demo --quick --out demo_out\naurora-sw explore --data demo_out\n```"
        )
        return
    wanted = st.query_params.get("page", "Overview")  # deep links: ?page=Night
    page = st.sidebar.radio("page", list(PAGES), index=list(PAGES).index(wanted) if wanted in PAGES else 0, key="page")
    st.sidebar.caption(f"data: {data.root}")
    with refusals_shown():
        PAGES[page].render(data)


main()
