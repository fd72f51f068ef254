"""Coordinate reference systems the twin uses."""

# Korea 2000 / Central Belt 2010: metric, for computation and storage.
METRIC_CRS = "EPSG:5186"
