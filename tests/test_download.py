"""The AuroraMAX download helper over real HTTP (a server on 127.0.0.1) and without a network."""

import http.server
import threading
from functools import partial

import pytest
import yaml

from aurora_sw.catalog import load_catalog
from aurora_sw.errors import NetworkUnavailableError
from aurora_sw.ingest.download import download_movies, movie_url


def catalog_with_url(tmp_path, base, url_pattern="{date:%Y/%m/%d}/auroramaxHD_{date:%Y%m%d}_{resolution}.mp4"):
    raw = yaml.safe_load(open(load_catalog().path))
    raw["sources"]["auroramax_movie"]["url"] = base + url_pattern
    path = tmp_path / "cat.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_catalog(path)


def test_url_follows_the_catalog_pattern(catalog):
    import pandas as pd

    assert movie_url(pd.Timestamp("2024-02-01"), catalog) == (
        "https://data.phys.ucalgary.ca/sort_by_project/AuroraMAX/rt-movies/mp4/2024/02/01/auroramaxHD_20240201_720p.mp4"
    )


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "www"
    (root / "2024" / "02" / "01").mkdir(parents=True)
    (root / "2024" / "02" / "01" / "auroramaxHD_20240201_720p.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_downloads_present_nights_and_names_missing_ones(server, tmp_path):
    cat = catalog_with_url(tmp_path, server)
    files, problems = download_movies("2024-02-01", "2024-02-02", tmp_path / "videos", catalog=cat, progress=False)
    assert [f.name for f in files] == ["auroramaxHD_20240201_720p.mp4"]
    assert files[0].stat().st_size == 5012 and not list((tmp_path / "videos").glob("*.part"))
    assert len(problems) == 1 and "HTTP 404" in problems[0].problem and "20240202" in problems[0].path
    again, _ = download_movies("2024-02-01", "2024-02-01", tmp_path / "videos", catalog=cat, progress=False)
    assert again == files  # already there: skipped


def test_no_network_says_so_at_once(tmp_path):
    cat = catalog_with_url(tmp_path, "http://127.0.0.1:1/")  # nothing listens on port 1
    with pytest.raises(NetworkUnavailableError, match="no network"):
        download_movies("2024-02-01", "2024-02-01", tmp_path / "videos", catalog=cat, progress=False)
