"""dashboard: the Dash app (``app``), its pages (``pages``), who may act (``auth``),
and the one module that reads the database (``queries``); ``controls`` are accessible widgets.
"""

__all__ = [
    "app",
    "auth",
    "colors",
    "controls",
    "errors",
    "i18n",
    "legend",
    "mapspec",
    "pages",
    "panels",
    "queries",
    "scenes",
    "sky",
]
