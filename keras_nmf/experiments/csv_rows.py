"""Rows (dicts) to CSV files, with a fixed column order."""

import csv
import io

from keras_nmf.files import atomic_write_text


def write_csv(rows, path, columns):
    """Writes ``rows`` to ``path`` atomically with the header ``columns``; keys outside ``columns`` are left out."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


class CsvRowWriter:
    """Writes a CSV row by row, flushed after each, so a long evaluation that stops keeps what it measured.

    Deliberately not atomic (a stop keeps the rows written so far); a torn last line is the most a kill leaves.

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
