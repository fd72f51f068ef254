"""Import of official layers: map columns to our names, validate, repair; pure over GeoDataFrames.

Validation collects every problem and reports them all at once; a layer with any error
is not imported at all. Errors: no CRS, empty or wrong-type geometries, duplicate or
malformed ids (PNU). Warnings: geometries repaired, heights filled in, an assumed CRS,
features outside the district. Info: columns left unmapped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from twin.crs import METRIC_CRS
from twin.errors import LayerError

LAYERS = ("buildings", "parcels", "ways", "areas")
# Our column -> names seen in Korean official files, OSM extracts and common GIS exports.
ALIASES: dict[str, tuple[str, ...]] = {
    "building_id": (
        "building_id",
        "bd_mgt_sn",
        "ufid",
        "bld_id",
        "@id",
        "full_id",
        "osm_way_id",
        "osm_id",
        "osmid",
        "id",
    ),
    "pnu": ("pnu", "a1", "고유번호"),
    "area_id": ("area_id", "code", "emd_cd", "adm_cd", "adm_dr_cd", "id"),
    "way_id": ("way_id", "sourcewayid", "@id", "full_id", "osm_id", "osmid", "id", "rn_cd"),
    "name": ("name", "label", "bld_nm", "buld_nm", "건물명", "emd_kor_nm", "rn"),
    "name_en": ("name_en", "name_eng", "nameen", "emd_eng_nm"),
    "land_category": ("land_category", "jimok", "지목", "lndcgr_code_nm"),
    "area_m2": ("area_m2", "area", "면적", "lndpcl_ar", "shape_area"),
    "height_m": ("height_m", "height", "높이", "hgt", "bld_hgt"),
    "floors": ("floors", "grnd_flr", "지상층수", "levels", "building:levels"),
    "use": ("use", "kind", "용도", "main_purps_cd_nm", "bdtyp_cd", "building"),
    "address": ("address", "addr", "주소", "지번주소", "jibun"),
    "year_built": ("year_built", "year", "useapr_day", "사용승인일"),
    "kind": ("kind", "way_kind"),
    "width_m": ("width_m", "width", "road_bt", "rvwd"),
}
FIELDS: dict[str, tuple[str, ...]] = {
    "buildings": ("building_id", "name", "use", "height_m", "floors", "year_built", "address", "pnu"),
    "parcels": ("pnu", "land_category", "area_m2", "address", "name"),
    "ways": ("way_id", "kind", "name", "width_m"),
    "areas": ("area_id", "name", "name_en"),
}
ID_FIELD = {"buildings": "building_id", "parcels": "pnu", "ways": "way_id", "areas": "area_id"}
GEOMETRY = {"buildings": "polygon", "parcels": "polygon", "areas": "polygon", "ways": "line"}
# OSM's building=* values, as the twin's uses (the map's colours); "yes" says only "a building".
OSM_BUILDING_USES: dict[str, str | None] = {
    **dict.fromkeys(("apartments",), "apartment"),
    **dict.fromkeys(("house", "residential", "detached", "semidetached_house", "terrace", "dormitory", "bungalow",
                     "hut"), "residential"),
    **dict.fromkeys(("commercial", "retail", "office", "hotel", "supermarket", "kiosk", "mall"), "commercial"),
    **dict.fromkeys(("school", "kindergarten", "university", "college"), "school"),
    **dict.fromkeys(("public", "civic", "government", "hospital", "church", "temple", "chapel", "mosque",
                     "fire_station", "train_station", "transportation", "townhall", "library", "museum",
                     "sports_hall", "stadium"), "public"),
    **dict.fromkeys(("industrial", "warehouse", "factory", "manufacture", "service"), "industrial"),
    **dict.fromkeys(("yes", "garage", "garages", "parking", "shed", "roof", "construction"), None),
}  # fmt: skip
# OSM ids as tools write them: overpass "way/123", QuickOSM "w123", ogr "osm_way_id" 123.
_OSM_PREFIXES = {"n": "node", "w": "way", "r": "relation"}
DEFAULT_FLOOR_M = 3.2
DEFAULT_HEIGHT_M = 10.0

Severity = Literal["error", "warning", "info"]


@dataclass
class Problem:
    code: str
    severity: Severity
    message: str
    count: int = 1
    examples: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What an import found: every problem at once, and what was decided for the user."""

    path: str
    layer: str
    features: int = 0
    encoding: str = ""
    crs: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def add(
        self, code: str, severity: Severity, message: str, examples: list[Any] | None = None, count: int = 1
    ) -> None:
        self.problems.append(Problem(code, severity, message, count, [str(e) for e in (examples or [])[:5]]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "layer": self.layer,
            "ok": self.ok,
            "features": self.features,
            "encoding": self.encoding,
            "crs": self.crs,
            "mapping": self.mapping,
            "problems": [p.__dict__ for p in self.problems],
        }

    def lines(self) -> list[str]:
        head = f"{self.path}: {self.layer}, {self.features} features, {self.crs or 'no CRS'}, {self.encoding}"
        out = [head + (" — OK" if self.ok else " — NOT IMPORTABLE")]
        for p in self.problems:
            more = f" (e.g. {', '.join(p.examples)})" if p.examples else ""
            out.append(f"  {p.severity:7} {p.code}: {p.message}{more}")
        return out


def resolve_mapping(columns: list[str], layer: str, given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our field -> the file's column, from ``given`` (ours=theirs) first, then the aliases.

    Raises:
        LayerError: a given column is not in the file, or names a field the layer does not have.
    """
    if layer not in FIELDS:
        raise LayerError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    mapping: dict[str, str] = {}
    for ours, theirs in (given or {}).items():
        if ours not in FIELDS[layer]:
            raise LayerError(
                f"--map {ours}={theirs}: {layer} has no field {ours!r}; fields: {', '.join(FIELDS[layer])}"
            )
        if theirs not in columns:
            raise LayerError(f"--map {ours}={theirs}: the file has no column {theirs!r}; columns: {', '.join(columns)}")
        mapping[ours] = theirs
    lower = {c.lower(): c for c in columns}
    used = set(mapping.values())
    for ours in FIELDS[layer]:
        if ours in mapping:
            continue
        for alias in ALIASES.get(ours, ()):
            column = lower.get(alias)
            if column is not None and column not in used:
                mapping[ours] = column
                used.add(column)
                break
    return mapping


def _lonlat_bounds(frame: gpd.GeoDataFrame) -> bool:
    minx, miny, maxx, maxy = frame.total_bounds
    return bool(-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90)


def hint_crs(frame: gpd.GeoDataFrame) -> str:
    """A guess at the CRS of coordinates without one, from their ranges (for the report's hint)."""
    minx, miny, maxx, maxy = frame.total_bounds if len(frame) else (0, 0, 0, 0)
    if minx >= 124 and maxx <= 132 and miny >= 33 and maxy <= 39:
        return "longitude/latitude in Korea: EPSG:4326"
    if minx >= 700_000 and maxx <= 1_400_000 and miny >= 1_400_000 and maxy <= 2_300_000:
        return "metres of the Korean unified system: EPSG:5179"
    if minx >= 0 and maxx <= 600_000 and miny >= 0 and maxy <= 800_000:
        return "metres of a Korean belt: EPSG:5186 (GRS80, current) or EPSG:5174 (Bessel, before 2010)"
    return "coordinates not recognisable as Korean"


def prepare(
    raw: gpd.GeoDataFrame,
    layer: str,
    report: Report,
    *,
    mapping: Mapping[str, str] | None = None,
    boundary: BaseGeometry | None = None,
    way_kind: str | None = None,
    filled_heights_m: tuple[float, ...] = (),
) -> gpd.GeoDataFrame:
    """The layer with our column names, repaired and in EPSG:5186; problems go to ``report``.

    Args:
        raw: the layer as read (its CRS may be None: an error in the report).
        layer: buildings, parcels, ways or areas.
        mapping: our field -> the file's column, overriding the aliases.
        boundary: the district (EPSG:5186); features outside it are counted.
        way_kind: street or stream, for a ways layer without a kind column.
        filled_heights_m: height values the source used as fill-ins (marked ``height_filled``).
    """
    columns = [c for c in raw.columns if c != raw.geometry.name]
    resolved = resolve_mapping(columns, layer, mapping)
    report.mapping = resolved
    report.features = len(raw)
    unmapped = [c for c in columns if c not in resolved.values()]
    if unmapped:
        report.add(
            "unmapped_columns", "info", f"{len(unmapped)} columns not mapped (kept out)", unmapped, len(unmapped)
        )
    frame = gpd.GeoDataFrame(
        {ours: raw[theirs].to_numpy() for ours, theirs in resolved.items()},
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
    )
    if raw.crs is None:
        report.add("missing_crs", "error", f"the layer has no CRS; hint: {hint_crs(raw)}; give it with --crs")
    else:
        report.crs = raw.crs.to_string()
        if raw.crs.is_geographic and len(raw) and not _lonlat_bounds(raw):
            # GeoJSON without a "crs" member is read as EPSG:4326 by definition; metres in
            # such a file would become coordinates off the globe, silently.
            minx, miny, maxx, maxy = raw.total_bounds
            report.add(
                "coordinates_not_lonlat",
                "error",
                f"the layer is in {report.crs} (longitude/latitude) but its coordinates run "
                f"{minx:.0f}..{maxx:.0f}, {miny:.0f}..{maxy:.0f}; hint: {hint_crs(raw)}; give the real CRS with --crs",
            )
            frame = frame.set_crs(None, allow_override=True)
    frame = _geometries(frame, layer, report)
    frame = _osm_ids(frame, layer, resolved)
    frame = _identifiers(frame, layer, report)
    if layer == "buildings" and resolved.get("use") == "building":
        frame = _osm_uses(frame, report)
    if layer == "buildings":
        frame = _heights(frame, report, filled_heights_m)
    if layer == "ways":
        frame = _way_kinds(frame, report, way_kind)
    if layer == "parcels":
        frame = _parcel_fields(_address_column(frame), report)
    if frame.crs is not None and len(frame):
        frame = frame.to_crs(METRIC_CRS)
        if boundary is not None:
            outside = ~frame.geometry.intersects(boundary)
            if outside.any():
                ids = frame.loc[outside, ID_FIELD[layer]].tolist()
                report.add(
                    "outside_district",
                    "warning",
                    f"{int(outside.sum())} features lie outside the district",
                    ids,
                    int(outside.sum()),
                )
    for column in FIELDS[layer]:
        if column not in frame.columns:
            frame[column] = None
    frame["synthetic"] = False
    return frame


def _geometries(frame: gpd.GeoDataFrame, layer: str, report: Report) -> gpd.GeoDataFrame:
    ids = frame[ID_FIELD[layer]] if ID_FIELD[layer] in frame.columns else pd.Series(frame.index.astype(str))
    empty = frame.geometry.isna() | frame.geometry.is_empty
    if empty.any():
        report.add(
            "empty_geometry",
            "error",
            f"{int(empty.sum())} features have no geometry",
            ids[empty].tolist(),
            int(empty.sum()),
        )
        frame = frame[~empty]
    invalid = ~frame.geometry.is_valid
    if invalid.any():
        reasons = [shapely.is_valid_reason(g) for g in frame.geometry[invalid]]
        report.add(
            "invalid_geometry_repaired",
            "warning",
            f"{int(invalid.sum())} invalid geometries repaired with make_valid",
            [f"{i}: {r}" for i, r in zip(ids[invalid.index[invalid]], reasons, strict=True)],
            int(invalid.sum()),
        )
        frame = frame.copy()
        frame.loc[invalid, frame.geometry.name] = shapely.make_valid(frame.geometry[invalid].to_numpy())
    want = GEOMETRY[layer]
    kinds = {"polygon": ("Polygon", "MultiPolygon"), "line": ("LineString", "MultiLineString")}[want]
    frame = frame.copy()
    frame[frame.geometry.name] = [_keep(g, kinds) for g in frame.geometry]
    wrong = frame.geometry.isna()
    if wrong.any():
        report.add(
            "wrong_geometry_type",
            "error",
            f"{int(wrong.sum())} features are not {want}s",
            ids[wrong.index[wrong]].tolist(),
            int(wrong.sum()),
        )
        frame = frame[~wrong]
    if layer in ("buildings", "ways"):
        # stored as simple polygons / lines: multi-part features become parts with suffixed ids
        multi = frame.geom_type.str.startswith("Multi")
        if multi.any():
            report.add(
                "multipart_split",
                "info",
                f"{int(multi.sum())} multi-part features split into parts",
                ids[multi.index[multi]].tolist(),
                int(multi.sum()),
            )
            frame = frame.explode(index_parts=True)
            part = frame.index.get_level_values(1)
            id_col = ID_FIELD[layer]
            if id_col in frame.columns:
                frame[id_col] = [f"{i}" if p == 0 else f"{i}#{p + 1}" for i, p in zip(frame[id_col], part, strict=True)]
            frame = frame.reset_index(drop=True)
    else:
        frame[frame.geometry.name] = [
            shapely.geometry.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in frame.geometry
        ]
    return frame


def _keep(geometry: BaseGeometry, kinds: tuple[str, ...]) -> BaseGeometry | None:
    if geometry.geom_type in kinds:
        return geometry
    if geometry.geom_type == "GeometryCollection":
        parts = [g for g in geometry.geoms if g.geom_type in kinds]
        if parts:
            merged = shapely.union_all(parts)
            return merged if merged.geom_type in kinds else None
    return None


def _osm_ids(frame: gpd.GeoDataFrame, layer: str, resolved: dict[str, str]) -> gpd.GeoDataFrame:
    """OSM ids in one spelling, ``way/123``, whichever tool wrote the file."""
    column = ID_FIELD[layer]
    source = resolved.get(column, "").lower()
    if column not in frame.columns or source not in ("@id", "full_id", "osm_way_id", "osm_id", "osmid", "id"):
        return frame
    frame = frame.copy()
    frame[column] = [_osm_id(v, source) for v in frame[column]]
    return frame


def _osm_id(value: object, column: str) -> object:
    text = str(value).strip()
    if re.fullmatch(r"(node|way|relation)/\d+", text):
        return text
    match = re.fullmatch(r"([nwr])(\d+)", text)
    if match and column in ("full_id", "@id", "id"):
        return f"{_OSM_PREFIXES[match[1]]}/{match[2]}"
    if column == "osm_way_id" and text.isdigit():
        return f"way/{text}"
    if isinstance(value, float) and value.is_integer():  # 123.0, as a numeric column reads
        return str(int(value))
    return value


def _osm_uses(frame: gpd.GeoDataFrame, report: Report) -> gpd.GeoDataFrame:
    """OSM building=* values as the twin's uses; values it does not know are kept as they are."""
    frame = frame.copy()
    raw = frame["use"].astype(object)
    known = raw.isin(list(OSM_BUILDING_USES))
    frame["use"] = [OSM_BUILDING_USES.get(v, v) if k else v for v, k in zip(raw, known, strict=True)]
    report.add("osm_building_uses", "info", f"{int(known.sum())} building=* values read as uses "
               "(apartments: apartment, retail: commercial, yes: unknown, ...)", count=int(known.sum()))  # fmt: skip
    return frame


def _identifiers(frame: gpd.GeoDataFrame, layer: str, report: Report) -> gpd.GeoDataFrame:
    column = ID_FIELD[layer]
    if column not in frame.columns:
        if layer == "parcels":
            report.add("missing_pnu", "error", "parcels need a PNU column; map one with --map pnu=COLUMN")
            return frame
        prefix = {"buildings": "b", "ways": "w", "areas": "a"}[layer]
        frame = frame.copy()
        frame[column] = [f"{prefix}{i:06d}" for i in range(len(frame))]
        report.add("generated_ids", "info", f"no {column} column: ids generated ({prefix}000000...)")
        return frame
    frame = frame.copy()
    frame[column] = frame[column].astype(str).str.strip()
    if layer == "parcels":
        bad = ~frame[column].str.fullmatch(r"\d{10}[12]\d{8}")
        if bad.any():
            report.add(
                "malformed_pnu",
                "error",
                f"{int(bad.sum())} PNUs are not 19 digits (10 dong, 1 or 2, 8 lot)",
                frame.loc[bad, column].tolist(),
                int(bad.sum()),
            )
    duplicated = frame[column].duplicated(keep=False)
    if duplicated.any():
        values = sorted(set(frame.loc[duplicated, column]))
        report.add(
            f"duplicate_{column}", "error", f"{len(values)} {column} values occur more than once", values, len(values)
        )
    return frame


def _heights(frame: gpd.GeoDataFrame, report: Report, filled_heights_m: tuple[float, ...]) -> gpd.GeoDataFrame:
    frame = frame.copy()
    height = pd.to_numeric(frame.get("height_m"), errors="coerce") if "height_m" in frame else None
    floors = pd.to_numeric(frame.get("floors"), errors="coerce") if "floors" in frame else None
    if height is None:
        height = pd.Series(np.nan, index=frame.index)
    missing = height.isna() | (height <= 0)
    filled = missing.copy()
    if floors is not None:
        height = height.where(~missing, floors * DEFAULT_FLOOR_M)
    still = height.isna() | (height <= 0)
    height = height.where(~still, DEFAULT_HEIGHT_M)
    if missing.any():
        report.add(
            "height_filled",
            "warning",
            f"{int(missing.sum())} buildings without a height: "
            f"{DEFAULT_FLOOR_M} m per floor, else {DEFAULT_HEIGHT_M} m",
            frame.loc[missing, "building_id"].tolist() if "building_id" in frame else [],
            int(missing.sum()),
        )
    if filled_heights_m:
        source_fill = height.isin(filled_heights_m) & ~missing
        if source_fill.any():
            report.add(
                "height_source_fill_in",
                "info",
                f"{int(source_fill.sum())} heights are the source's fill-in values {list(filled_heights_m)} m",
                count=int(source_fill.sum()),
            )
        filled = filled | source_fill
    frame["height_m"] = height.astype(float)
    frame["height_filled"] = filled.to_numpy()
    if floors is not None:
        frame["floors"] = floors.round().astype("Int64")
    if "year_built" in frame:
        text = frame["year_built"].astype(str).str.extract(r"^(\d{4})")[0]
        frame["year_built"] = pd.to_numeric(text, errors="coerce").astype("Int64")
    return frame


def _way_kinds(frame: gpd.GeoDataFrame, report: Report, way_kind: str | None) -> gpd.GeoDataFrame:
    frame = frame.copy()
    if way_kind is not None:
        frame["kind"] = way_kind
    elif "kind" not in frame.columns:
        frame["kind"] = "street"
        report.add("assumed_way_kind", "warning", "no kind column: every line taken as a street (--way-kind)")
    bad = ~frame["kind"].isin(["street", "stream"])
    if bad.any():
        report.add(
            "unknown_way_kind",
            "error",
            f"{int(bad.sum())} ways are neither street nor stream",
            sorted(set(frame.loc[bad, "kind"].astype(str))),
            int(bad.sum()),
        )
    if "width_m" in frame:
        frame["width_m"] = pd.to_numeric(frame["width_m"], errors="coerce")
    return frame


def _parcel_fields(frame: gpd.GeoDataFrame, report: Report) -> gpd.GeoDataFrame:
    frame = frame.copy()
    if "pnu" in frame:
        frame["lot"] = [_lot(p) for p in frame["pnu"]]
    places = frame["address"].astype(str).str.extract(r"(?P<sigungu>\S+구)?\s*(?P<legal_dong>\S+[동리가])\s")
    frame["sigungu"] = places["sigungu"].where(places["sigungu"].notna(), None)
    frame["legal_dong"] = places["legal_dong"].where(places["legal_dong"].notna(), None)
    if "area_m2" in frame:
        frame["area_m2"] = pd.to_numeric(frame["area_m2"], errors="coerce")
    return frame


def _address_column(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "address" not in frame.columns:
        frame = frame.copy()
        frame["address"] = None
    return frame


def _lot(pnu: str) -> str | None:
    if len(pnu) != 19 or not pnu.isdigit():
        return None
    main, sub = int(pnu[11:15]), int(pnu[15:19])
    return f"{'산' if pnu[10] == '2' else ''}{main}{f'-{sub}' if sub else ''}"
