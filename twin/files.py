"""Reading and writing layer files: GeoJSON, Shapefile, GeoPackage (the twin's file edge).

Korean official files often come as Shapefiles with CP949 attributes and no ``.cpg``,
and old ones with a ``.prj`` that describes a Bessel Transverse Mercator without the
datum shift. Both are detected here and reported as notes, never guessed silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pyogrio
from pyproj import CRS

from twin.errors import LayerError

DATA_DIR = Path(__file__).resolve().parent / "data"
FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile", ".gpkg": "GPKG"}

# Bessel 1841 Transverse Mercator belts of the old Korean systems, by central meridian:
# (EPSG code, name). Scale 1, latitude of origin 38, false easting 200000.
_BESSEL_BELTS = {
    125.0028902777778: (5173, "Korean 1985 / Modified West Belt"),
    127.0028902777778: (5174, "Korean 1985 / Modified Central Belt"),
    129.0028902777778: (5176, "Korean 1985 / Modified East Belt"),
    131.0028902777778: (5177, "Korean 1985 / Modified East Sea Belt"),
}


@dataclass
class ReadResult:
    frame: gpd.GeoDataFrame
    encoding: str
    encoding_note: str
    crs_note: str = ""
    warnings: list[str] = field(default_factory=list)


def read_layer(path: Path) -> gpd.GeoDataFrame:
    """A vector layer shipped with the twin, as a GeoDataFrame.

    Raises:
        LayerError: the file is missing, unreadable, or has no CRS.
    """
    result = read_any(path)
    if result.frame.crs is None:
        raise LayerError(f"layer {path} has no CRS; give one (e.g. EPSG:5186) or add a .prj")
    return result.frame


def default_layers() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Goyang's dong boundaries and facility points, as shipped."""
    return (
        read_layer(DATA_DIR / "goyang_dongs_kostat2018.geojson"),
        read_layer(DATA_DIR / "goyang_facilities_excerpt.geojson"),
    )


def read_any(path: Path, *, encoding: str | None = None) -> ReadResult:
    """Read a GeoJSON, Shapefile or GeoPackage; detect the attribute encoding and an old Korean ``.prj``.

    The CRS is left as the file gives it (``None`` when it has none) except for a Bessel
    TM ``.prj`` without a datum shift, which is read as the matching EPSG code with a note.

    Raises:
        LayerError: missing file, unknown extension, or a file the driver cannot read.
    """
    path = Path(path)
    if not path.exists():
        raise LayerError(f"layer file {path} does not exist")
    if path.suffix.lower() not in FORMATS:
        raise LayerError(f"{path.name}: unknown layer format; expected one of {', '.join(sorted(FORMATS))}")
    chosen, note = (encoding, f"{encoding} (given)") if encoding else detect_encoding(path)
    try:
        frame = pyogrio.read_dataframe(path, encoding=chosen if path.suffix.lower() == ".shp" else None)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, UnicodeDecodeError) as exc:
        raise LayerError(f"cannot read layer {path}: {exc}") from exc
    result = ReadResult(frame, chosen, note)
    prj = path.with_suffix(".prj")
    if path.suffix.lower() == ".shp" and prj.exists():
        crs, crs_note = crs_from_prj(prj.read_text(encoding="ascii", errors="replace"))
        if crs_note:
            result.frame = frame.set_crs(crs, allow_override=True)
            result.crs_note = crs_note
            result.warnings.append(crs_note)
    return result


def detect_encoding(path: Path) -> tuple[str, str]:
    """(encoding, how it was decided) for a layer's attributes.

    GeoJSON and GeoPackage are UTF-8 by specification. A Shapefile's ``.cpg`` is obeyed;
    without one, the ``.dbf`` records are tried as UTF-8, then CP949 (Korean Windows).
    """
    if path.suffix.lower() != ".shp":
        return "utf-8", "utf-8 (the format's own)"
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        name = cpg.read_text(encoding="ascii", errors="replace").strip() or "utf-8"
        return name, f"{name} (from {cpg.name})"
    dbf = path.with_suffix(".dbf")
    if not dbf.exists():
        raise LayerError(f"{path.name}: the attribute table {dbf.name} is missing")
    raw = dbf.read_bytes()
    header_len = int.from_bytes(raw[8:10], "little") if len(raw) > 10 else 0
    records = raw[header_len:]
    if records.isascii():
        return "utf-8", "ascii (no .cpg; plain ASCII attributes)"
    for candidate in ("utf-8", "cp949"):
        try:
            records.decode(candidate)
        except UnicodeDecodeError:
            continue
        return candidate, f"{candidate} (no .cpg; detected by trial)"
    return "latin-1", "latin-1 (no .cpg; neither UTF-8 nor CP949 decodes it: check the names)"


def crs_from_prj(text: str) -> tuple[CRS | None, str]:
    """(CRS, note) for a ``.prj``; the note is empty unless the file needed interpreting.

    A Bessel 1841 Transverse Mercator without TOWGS84 matching a Korean belt is read as
    that belt's EPSG code, which carries the Korean 1985 datum shift the file lacks.
    """
    try:
        crs = CRS.from_wkt(text)
    except Exception:  # pyproj raises CRSError and others for a broken .prj
        return None, ""
    if crs.to_epsg() is not None or crs.ellipsoid is None or "Bessel" not in crs.ellipsoid.name:
        return crs, ""
    operation = crs.coordinate_operation
    params: dict[str, float] = {p.name: float(p.value) for p in (operation.params if operation else [])}
    lon0 = params.get("Longitude of natural origin")
    lat0 = params.get("Latitude of natural origin")
    if lon0 is None or lat0 != 38.0 or params.get("False easting") != 200000.0:
        return crs, ""
    for meridian, (code, name) in _BESSEL_BELTS.items():
        if abs(float(lon0) - meridian) < 1e-9:
            note = (
                f"the .prj is a Bessel 1841 Transverse Mercator (central meridian {float(lon0):.10f}) without a "
                f"datum shift: read as EPSG:{code} ({name}), which applies the Korean 1985 datum shift; "
                f"taken literally it would misplace features by about 300 m"
            )
            return CRS.from_epsg(code), note
    return crs, ""


def write_any(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write a layer as GeoJSON, Shapefile (UTF-8, with a .cpg) or GeoPackage, by extension.

    Raises:
        LayerError: unknown extension or the file cannot be written.
    """
    path = Path(path)
    driver = FORMATS.get(path.suffix.lower())
    if driver is None:
        raise LayerError(f"{path.name}: cannot write this format; use one of {', '.join(sorted(FORMATS))}")
    try:
        pyogrio.write_dataframe(frame, path, driver=driver, encoding="utf-8" if driver == "ESRI Shapefile" else None)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise LayerError(f"cannot write {path}: {exc}") from exc
