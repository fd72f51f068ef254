"""Placing registered devices: a device file's rows checked, positioned and joined to the twin.

Pure: rows (a DataFrame of text, as read from CSV or GeoJSON) and the district's parcels and
buildings in, placed devices and one report out. Each row is placed by exactly one of:

- ``x``/``y`` in the file's CRS (``--crs``, e.g. EPSG:5186), or ``lon``/``lat`` (EPSG:4326);
- ``address``: a lot-number address (``일산동구 장항동 1234-5``) found among the parcels;
- ``pnu``: a 19-digit parcel number found among the parcels (the parcel's inside point).

A row with none is registered unplaced (listed as such; staff place it later). Every
problem of every row is reported at once, and one error refuses the whole file.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import shapely

from contract.kinds import KINDS
from twin.crs import METRIC_CRS
from twin.errors import LayerError, LookupRefused
from twin.importer import Report
from twin.joins import device_to_building, device_to_parcel
from twin.pnu import looks_like_pnu, parse_address, parse_pnu

COLUMNS = ("device_id", "kind", "external_id", "x", "y", "lon", "lat", "address", "pnu", "installed_on", "owner")
PLACED = ("device_id", "kind", "external_id", "lon_deg", "lat_deg", "building_id", "parcel_pnu", "address",
          "installed_on", "owner")  # fmt: skip
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_EXTERNAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}$")
DISTRICT_MARGIN_M = 2000.0  # how far outside the twin's parcels and buildings a device may stand


@dataclass(frozen=True)
class Placed:
    """The outcome: ``devices`` (columns :data:`PLACED`) and the report; import only if ``report.ok``."""

    devices: pd.DataFrame
    report: Report


def read_device_file(path: Path) -> tuple[pd.DataFrame, str | None]:
    """A device file's rows as text, and the CRS it declares (GeoJSON), for :func:`place_devices`.

    CSV: UTF-8 (with or without BOM) or CP949, as Korean public data often is. GeoJSON:
    point features, their properties as columns; points become lon/lat in EPSG:4326 (or
    x/y in the file's legacy ``crs``).

    Raises:
        LayerError: the file cannot be read, or is neither CSV nor GeoJSON.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            raw = path.read_bytes()
            for encoding in ("utf-8-sig", "cp949"):
                try:
                    text = raw.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                raise LayerError(f"{path}: the CSV is neither UTF-8 nor CP949 text")
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False), None
        if suffix in (".geojson", ".json"):
            frame = gpd.read_file(path)
        else:
            raise LayerError(f"{path}: a device file must be .csv or .geojson")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise LayerError(f"{path}: cannot read the device file: {exc}") from exc
    except Exception as exc:  # pyogrio's own errors for a broken GeoJSON
        raise LayerError(f"{path}: cannot read the device file: {exc}") from exc
    if len(frame) and not frame.geometry.geom_type.isin(["Point"]).all():
        raise LayerError(f"{path}: every feature must be a Point (a device's position)")
    rows = pd.DataFrame(frame.drop(columns="geometry")).astype(object).fillna("").astype(str)
    crs = None if frame.crs is None or frame.crs.to_epsg() == 4326 else frame.crs.to_string()
    xs = [f"{g.x!r}" if g is not None and not g.is_empty else "" for g in frame.geometry]
    ys = [f"{g.y!r}" if g is not None and not g.is_empty else "" for g in frame.geometry]
    rows["x" if crs else "lon"], rows["y" if crs else "lat"] = xs, ys
    return rows, crs


def place_devices(
    rows: pd.DataFrame, parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, crs: str | None, path: str
) -> Placed:
    """Check, position and join every row.

    Args:
        rows: text columns from :data:`COLUMNS` (others are reported and ignored).
        parcels: the district's parcels (pnu, sigungu, legal_dong, lot) in EPSG:5186.
        buildings: the district's buildings (building_id) in EPSG:5186.
        crs: the CRS of ``x``/``y`` (any pyproj name); required when they are given.
        path: names the file in the report.
    """
    report = Report(path=path, layer="devices", features=len(rows), crs=crs)
    rows = rows.fillna("").astype(str).apply(lambda c: c.str.strip())
    for column in ("device_id", "kind"):
        if column not in rows:
            report.add("missing_column", "error", f"column {column!r} is required; columns: {', '.join(COLUMNS)}")
    extra = [c for c in rows.columns if c not in COLUMNS]
    if extra:
        report.add("unknown_columns", "warning", f"columns {extra} are not read; known: {', '.join(COLUMNS)}")
    if not report.ok:
        return Placed(pd.DataFrame(columns=list(PLACED)), report)
    for column in COLUMNS:
        if column not in rows:
            rows[column] = ""
    _check_identity(rows, report)
    points = _positions(rows, parcels, crs, report)
    _check_extent(points, parcels, buildings, report)
    devices = rows[["device_id", "kind"]].copy()
    devices["external_id"] = rows["external_id"].where(rows["external_id"] != "", None)
    devices["installed_on"] = _dates(rows["installed_on"], report)
    devices["owner"] = rows["owner"].where(rows["owner"] != "", None)
    devices["address"] = rows["address"].where(rows["address"] != "", None)
    sited = points[points.geometry.notna()] if len(points) else points
    building = device_to_building(sited, buildings) if len(sited) and len(buildings) else pd.Series(dtype=object)
    parcel = device_to_parcel(sited, parcels) if len(sited) and len(parcels) else pd.Series(dtype=object)
    wgs = sited.to_crs("EPSG:4326") if len(sited) else sited
    devices["lon_deg"] = pd.Series({i: g.x for i, g in zip(wgs.index, wgs.geometry, strict=True)}, dtype=float)
    devices["lat_deg"] = pd.Series({i: g.y for i, g in zip(wgs.index, wgs.geometry, strict=True)}, dtype=float)
    devices["building_id"] = building.reindex(devices.index)
    devices["parcel_pnu"] = parcel.reindex(devices.index)
    from_pnu = rows["pnu"] != ""
    devices.loc[from_pnu, "parcel_pnu"] = rows.loc[from_pnu, "pnu"]
    devices = devices.astype(object).where(devices.notna(), None)
    unplaced = int(points.geometry.isna().sum()) if len(points) else len(rows)
    if unplaced and report.ok:  # rows that failed are not "unplaced": they are errors above
        report.add("unplaced", "info", f"{unplaced} devices have no position, address or pnu: registered unplaced")
    return Placed(devices[list(PLACED)], report)


def _check_identity(rows: pd.DataFrame, report: Report) -> None:
    bad_ids = rows.index[~rows["device_id"].str.match(_ID)]
    if len(bad_ids):
        report.add("bad_device_id", "error", "device_id must be letters, digits, _ . - (up to 64)",
                   [_where(rows, i, "device_id") for i in bad_ids], len(bad_ids))  # fmt: skip
    twice = rows.index[rows["device_id"].duplicated(keep=False) & (rows["device_id"] != "")]
    if len(twice):
        report.add("duplicate_device_id", "error", "a device_id appears on more than one row",
                   [_where(rows, i, "device_id") for i in twice], len(twice))  # fmt: skip
    bad_kind = rows.index[~rows["kind"].isin(KINDS)]
    if len(bad_kind):
        report.add("bad_kind", "error", f"kind must be one of {', '.join(KINDS)}",
                   [_where(rows, i, "kind") for i in bad_kind], len(bad_kind))  # fmt: skip
    given = rows["external_id"] != ""
    bad_ext = rows.index[given & ~rows["external_id"].str.match(_EXTERNAL)]
    if len(bad_ext):
        report.add("bad_external_id", "error", "external_id must be letters, digits, _ . : @ - (up to 128)",
                   [_where(rows, i, "external_id") for i in bad_ext], len(bad_ext))  # fmt: skip
    lowered = rows.loc[given, "external_id"].str.lower()
    twice_ext = lowered.index[lowered.duplicated(keep=False)]
    if len(twice_ext):
        report.add("duplicate_external_id", "error", "an external_id (case aside) appears on more than one row",
                   [_where(rows, i, "external_id") for i in twice_ext], len(twice_ext))  # fmt: skip


def _positions(rows: pd.DataFrame, parcels: gpd.GeoDataFrame, crs: str | None, report: Report) -> gpd.GeoDataFrame:
    """Each row's point in EPSG:5186 (None where the row gives no place)."""
    points: dict[object, shapely.Point] = {}
    ways = {"x/y": (rows["x"] != "") | (rows["y"] != ""), "lon/lat": (rows["lon"] != "") | (rows["lat"] != ""),
            "address": rows["address"] != "", "pnu": rows["pnu"] != ""}  # fmt: skip
    several: pd.Series = pd.concat([w.astype(int) for w in ways.values()], axis=1).sum(axis=1) > 1
    if several.any():
        idx = rows.index[several]
        report.add("several_places", "error", "a row gives more than one of x/y, lon/lat, address, pnu: keep one",
                   [f"row {int(i) + 2} ({rows.at[i, 'device_id']!s})" for i in idx], len(idx))  # fmt: skip
    if ways["x/y"].any():
        if not crs:
            report.add("crs_required", "error", "x/y are given: say their CRS with --crs (e.g. EPSG:5186)")
        else:
            _transform(rows, ways["x/y"] & ~several, ("x", "y"), crs, points=points, report=report)
    if ways["lon/lat"].any():
        _transform(rows, ways["lon/lat"] & ~several, ("lon", "lat"), "EPSG:4326", points=points, report=report)
    if (ways["address"] | ways["pnu"]).any():
        _from_parcels(rows, ways["address"] & ~several, ways["pnu"] & ~several, parcels, points=points, report=report)
    geometry = [points.get(label) for label in rows.index]
    return gpd.GeoDataFrame({"device_id": rows["device_id"].to_numpy()}, geometry=geometry, index=rows.index,
                            crs=METRIC_CRS)  # fmt: skip


def _transform(
    rows: pd.DataFrame, mask: pd.Series, columns: tuple[str, str], crs: str,
    *, points: dict[object, shapely.Point], report: Report,
) -> None:  # fmt: skip
    try:
        transformer = pyproj.Transformer.from_crs(crs, METRIC_CRS, always_xy=True)
    except pyproj.exceptions.CRSError as exc:
        report.add("bad_crs", "error", f"{crs!r} is not a CRS pyproj knows: {exc}")
        return
    a = pd.to_numeric(rows.loc[mask, columns[0]], errors="coerce")
    b = pd.to_numeric(rows.loc[mask, columns[1]], errors="coerce")
    bad = a.index[~(a.map(math.isfinite) & b.map(math.isfinite))]  # NaN when not a number
    if len(bad):
        report.add("bad_coordinates", "error", f"{columns[0]}/{columns[1]} must both be finite numbers",
                   [f"row {int(i) + 2} ({rows.at[i, 'device_id']!s}): {rows.at[i, columns[0]]!r}, "
                    f"{rows.at[i, columns[1]]!r}"
                    for i in bad], len(bad))  # fmt: skip
    good = a.index.difference(bad)
    xs, ys = transformer.transform(a[good].to_numpy(), b[good].to_numpy())
    for label, x, y in zip(good, xs, ys, strict=True):
        if math.isfinite(x) and math.isfinite(y):
            points[label] = shapely.Point(x, y)
        else:
            report.add("bad_coordinates", "error", f"row {int(label) + 2}: ({a[label]}, {b[label]}) is not a place "
                       f"in {crs}")  # fmt: skip


def _from_parcels(
    rows: pd.DataFrame, by_address: pd.Series, by_pnu: pd.Series, parcels: gpd.GeoDataFrame,
    *, points: dict[object, shapely.Point], report: Report,
) -> None:  # fmt: skip
    inside = dict(zip(parcels["pnu"].astype(str), parcels.geometry.representative_point(), strict=True))
    by_lot: dict[tuple[str, str], list[tuple[str | None, str]]] = {}
    for pnu, gu, dong, lot in zip(parcels["pnu"], parcels["sigungu"], parcels["legal_dong"], parcels["lot"],
                                  strict=True):  # fmt: skip
        by_lot.setdefault((str(dong), str(lot)), []).append((gu if isinstance(gu, str) else None, str(pnu)))
    problems: dict[str, list[str]] = {"bad_address": [], "address_not_found": [], "address_ambiguous": [],
                                      "bad_pnu": [], "pnu_not_found": []}  # fmt: skip
    for label in rows.index[by_address]:
        text = str(rows.at[label, "address"])
        try:
            address = parse_address(text)
        except LookupRefused as exc:
            problems["bad_address"].append(f"row {int(label) + 2}: {exc}")
            continue
        lot = f"{'산' if address.mountain else ''}{address.main}{f'-{address.sub}' if address.sub else ''}"
        found = [p for gu, p in by_lot.get((address.dong, lot), []) if address.gu is None or gu == address.gu]
        if not found:
            problems["address_not_found"].append(f"row {int(label) + 2}: {text!r}")
        elif len(found) > 1:
            problems["address_ambiguous"].append(f"row {int(label) + 2}: {text!r} matches {len(found)} parcels")
        else:
            points[label] = inside[found[0]]
    for label in rows.index[by_pnu]:
        text = str(rows.at[label, "pnu"])
        if not looks_like_pnu(text):
            problems["bad_pnu"].append(f"row {int(label) + 2}: {text!r}")
            continue
        try:
            pnu = str(parse_pnu(text))
        except LookupRefused as exc:
            problems["bad_pnu"].append(f"row {int(label) + 2}: {exc}")
            continue
        if pnu not in inside:
            problems["pnu_not_found"].append(f"row {int(label) + 2}: {text}")
        else:
            points[label] = inside[pnu]
    sentences = {
        "bad_address": "an address is not a lot-number address ('일산동구 장항동 1234-5')",
        "address_not_found": "no parcel of the twin has this lot-number address",
        "address_ambiguous": "an address matches several parcels: add the gu ('일산동구 장항동 ...')",
        "bad_pnu": "a pnu is not 19 digits of a valid parcel number",
        "pnu_not_found": "no parcel of the twin has this pnu",
    }
    for code, examples in problems.items():
        if examples:
            report.add(code, "error", sentences[code], examples, len(examples))


def _check_extent(
    points: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, report: Report
) -> None:
    """Points far from the twin's layers are mistakes (a swapped x/y, another CRS), not devices."""
    layers = [f for f in (parcels, buildings) if len(f)]
    sited = points[points.geometry.notna()]
    if not layers or not len(sited):
        return
    minx = min(f.total_bounds[0] for f in layers) - DISTRICT_MARGIN_M
    miny = min(f.total_bounds[1] for f in layers) - DISTRICT_MARGIN_M
    maxx = max(f.total_bounds[2] for f in layers) + DISTRICT_MARGIN_M
    maxy = max(f.total_bounds[3] for f in layers) + DISTRICT_MARGIN_M
    far = sited.index[~((sited.geometry.x.between(minx, maxx)) & (sited.geometry.y.between(miny, maxy)))]
    if len(far):
        report.add("outside_district", "error",
                   f"positions more than {DISTRICT_MARGIN_M:g} m outside the twin's district: "
                   "are x and y swapped, or is --crs another CRS?",
                   [f"row {int(i) + 2} ({points.at[i, 'device_id']})" for i in far], len(far))  # fmt: skip


def _dates(column: pd.Series, report: Report) -> pd.Series:
    out: dict[object, date | None] = {}
    bad = []
    for label, text in column.items():
        if not text:
            out[label] = None
            continue
        try:
            out[label] = date.fromisoformat(text)
        except ValueError:
            bad.append(f"row {int(label) + 2}: {text!r}")  # type: ignore[call-overload]
            out[label] = None
    if bad:
        report.add("bad_installed_on", "error", "installed_on must be a date (YYYY-MM-DD)", bad, len(bad))
    return pd.Series(out, dtype=object)


def _where(rows: pd.DataFrame, label: object, column: str) -> str:
    return f"row {int(label) + 2}: {rows.at[label, column]!r}"  # type: ignore[call-overload]
