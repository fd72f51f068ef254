"""Years of a city: rollups kept equal to the raw readings, a columnar archive with
retention, one history query over both, completeness accounting, backups.

Downstream of ingest (it consumes the log of touched hours ingest writes), upstream of
the dashboard (which reads its rollups and completeness).
"""

__all__ = ["archive", "backup", "completeness", "errors", "history", "queries", "rollups"]
