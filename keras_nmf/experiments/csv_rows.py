"""Rows (dicts) to CSV files, with a fixed column order."""

import csv


def write_csv(rows, path, columns):
    """Writes ``rows`` to ``path`` with the header ``columns``; keys outside ``columns`` are left out."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


class CsvRowWriter:
    """Writes a CSV row by row, flushed after each, so a long evaluation that stops keeps what it measured.

    Use as a context manager; ``path`` is created (header first) on entry.
    """

    def __init__(self, path, columns):
        self.path, self.columns = path, columns
        self._handle = self._writer = None

    def __enter__(self):
        self._handle = open(self.path, "w", newline="")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._handle.flush()
        return self

    def write(self, row):
        self._writer.writerow(row)
        self._handle.flush()

    def __exit__(self, *exc_info):
        self._handle.close()
