"""Rows (dicts) to CSV files, with a fixed column order."""

import csv


def write_csv(rows, path, columns):
    """Writes ``rows`` to ``path`` with the header ``columns``; keys outside ``columns`` are left out."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
