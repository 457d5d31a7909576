"""Report of a KerasTuner search directory (finished, partial or still running): the paper's Figure 6.

Examples:
    keras-nmf-report tuning_runs                  # writes tuning_runs/trials.csv and figure6.png
    keras-nmf-report tuning_runs/cnmf_1x1 --out docs/sweeps

Prints the Pareto front (best test accuracy for at most that many parameters) as a table; failed trials
(a NaN stop, with the reason) are listed apart and never plotted. A trial whose trial.json cannot be read is named
with its file and kept in trials.csv as UNREADABLE; the report then exits with 3.
"""

import argparse
import collections
import pathlib
import sys

from keras_nmf.commands import report_error
from keras_nmf.errors import KerasNMFError

from keras_nmf.experiments.sweeps import (
    UNREADABLE,
    collect_trials,
    completed,
    format_front,
    pareto_front,
    write_trials_csv,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="the search's --directory (or its project folder)")
    parser.add_argument("--out", help="where trials.csv and figure6.png go (default: the directory)")
    args = parser.parse_args(argv)
    try:
        rows = collect_trials(args.directory, print_fn=lambda line: print(line, file=sys.stderr))
    except KerasNMFError as error:
        return report_error(error)
    out = pathlib.Path(args.out or args.directory)
    out.mkdir(parents=True, exist_ok=True)
    write_trials_csv(rows, out / "trials.csv")
    failed = [row for row in rows if row["status"] in ("FAILED", "INVALID")]
    for row in failed:
        print(
            f"trial {row['trial_id']} {row['status'].lower()} (width {row['width']}, nmf_groups {row['nmf_groups']}, "
            f"conv_groups {row['conv_groups']}): {row['reason']}; not plotted"
        )
    done = completed(rows)
    statuses = collections.Counter(row["status"] for row in rows)
    print(
        f"{len(rows)} trials ({', '.join(f'{n} {s.lower()}' for s, n in sorted(statuses.items()))}); "
        f"wrote {out / 'trials.csv'}"
    )
    code = 3 if statuses[UNREADABLE] else 0
    if not done:
        print("No completed trial yet: no front or figure.")
        return code
    from keras_nmf.experiments.plots import plot_figure6

    front = pareto_front(done)
    print("Pareto front (best test accuracy for at most that many parameters):")
    print(format_front(front))
    plot_figure6(done, front, out / "figure6.png")
    print(f"wrote {out / 'figure6.png'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
