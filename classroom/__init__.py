"""Classes of students: names, accounts and their broker ACLs, the limits ingest enforces
on them, the credentials sheet, and the two tables that hold them.

Imports only the contract: the command line wires it to the broker and the database.
"""

__all__ = ["accounts", "errors", "limits", "names", "queries", "store"]
