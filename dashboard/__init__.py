"""dashboard: the Dash app (``app``), its pages (``pages``), who may act (``auth``),
and the one module that reads the database (``queries``).
"""

__all__ = [
    "app",
    "auth",
    "colors",
    "errors",
    "i18n",
    "mapspec",
    "pages",
    "panels",
    "queries",
    "scenes",
]
