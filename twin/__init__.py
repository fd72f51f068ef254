"""twin: the district's geometry and the devices placed in it. Pure transforms
(``district``, ``joins``, ``exposure``, ``importer``), files at the edge (``files``),
the database through ``store``.
"""

__all__ = [
    "crs",
    "district",
    "errors",
    "exposure",
    "files",
    "importer",
    "joins",
    "placement",
    "pnu",
    "queries",
    "store",
    "synthetic",
    "yeoksam",
]
