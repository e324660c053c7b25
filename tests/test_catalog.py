import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aurora_sw.catalog import load_catalog
from aurora_sw.errors import CatalogError

REPO_CATALOG = Path(__file__).resolve().parent.parent / "data_catalog.yaml"


def _broken(tmp_path, mutate) -> Path:
    raw = yaml.safe_load(REPO_CATALOG.read_text())
    mutate(raw)
    path = tmp_path / "data_catalog.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_repository_catalog_is_valid():
    cat = load_catalog(REPO_CATALOG)
    yk = cat.site("yellowknife")
    assert yk.lat_deg == pytest.approx(62.4333)
    assert yk.timezone == "America/Yellowknife"
    assert len(yk.camera_epochs) >= 2  # the 2024 camera change is its own epoch
    assert cat.variable("newell").inputs == ["vsw", "by_gsm", "bz_gsm"]


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda r: r["sites"]["yellowknife"].pop("lat_deg"), "sites.yellowknife.lat_deg"),
        (lambda r: r["sites"]["yellowknife"].__setitem__("lat_deg", "north"), "sites.yellowknife.lat_deg"),
        (lambda r: r["sites"]["yellowknife"].__setitem__("timezone", "Mars/Olympus"), "sites.yellowknife.timezone"),
        (lambda r: r["solarwind"]["variables"]["bz_gsm"].pop("units"), "solarwind.variables.bz_gsm.units"),
        (lambda r: r["sky_conditions"]["sun"].__setitem__("nightmax_deg", -18), "sky_conditions.sun.nightmax_deg"),
        (lambda r: r["outputs"].__setitem__("index", "../elsewhere.zarr"), "outputs.index"),
        (lambda r: r["outputs"].__setitem__("manifest", "frames.parquet"), "outputs.manifest"),
        (lambda r: r.__setitem__("default_site", "tromso"), "default_site"),
    ],
)
def test_broken_catalog_names_the_key(tmp_path, mutate, key):
    path = _broken(tmp_path, mutate)
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert key in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_site_and_variable_name_the_key(catalog):
    with pytest.raises(CatalogError, match="sites.nowhere"):
        catalog.site("nowhere")
    with pytest.raises(CatalogError, match="solarwind.variables.nonsense"):
        catalog.variable("nonsense")


def test_derived_input_must_exist(tmp_path):
    path = _broken(tmp_path, lambda r: r["solarwind"]["variables"]["newell"].__setitem__("inputs", ["vsw", "bt"]))
    with pytest.raises(CatalogError, match="unknown variable 'bt'"):
        load_catalog(path)


def test_cli_reports_broken_catalog_in_one_line(tmp_path):
    path = _broken(tmp_path, lambda r: r["sites"]["yellowknife"].pop("timezone"))
    res = subprocess.run(
        [sys.executable, "-m", "aurora_sw", "catalog", "check", "--catalog", str(path)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "sites.yellowknife.timezone" in lines[0]


def test_site_facts_come_from_the_catalog(catalog):
    yk = catalog.site()  # the default site
    assert catalog.default_site_key == "yellowknife" and yk is catalog.site("yellowknife")
    assert yk.night_start_utc_hour == 18  # the index's night chunks as always: 11:00 MST
    assert (yk.camera_name, yk.place) == ("AuroraMAX", "Yellowknife NWT, Canada")
    other = yk.model_copy(update={"lon_deg": 18.94})  # Tromso: solar noon 10:44 UTC
    assert other.night_start_utc_hour == 9


def test_project_layout_reads_the_catalog_outputs(catalog, tmp_path):
    from aurora_sw.catalog import Outputs
    from aurora_sw.layout import ProjectLayout

    lay = ProjectLayout.from_catalog(tmp_path, catalog)
    assert lay.manifest == tmp_path / "archive" / "manifest.parquet" and lay.problems.name == "ingest_problems.csv"
    assert (lay.index, lay.solarwind, lay.checkpoint) == (tmp_path / "index.zarr", tmp_path / "solarwind.nc", tmp_path / "model" / "best.pt")
    moved = ProjectLayout(tmp_path, Outputs(index="stores/aurora.zarr", analyses="out"))
    assert ProjectLayout.of_index(moved.index, moved.outputs).analyses == (tmp_path / "out").resolve()
