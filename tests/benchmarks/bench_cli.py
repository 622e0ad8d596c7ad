"""CLI start-up benchmark: CPU seconds of ``dcops --help`` (and a few commands) beside a bare Python start.

Run: ``python -m tests.benchmarks.bench_cli [--rounds 7]``

Each command runs ``rounds`` times as a child process; its CPU time (user + system, from
``getrusage(RUSAGE_CHILDREN)``) is measured, so a loaded machine slows the wall clock but hardly the
figure. Printed: the median per command beside ``python -c pass`` measured in the same run, and the
ratio. Target (issue 13): ``dcops --help`` under 0.5 s of CPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

TARGET_S = 0.5
COMMANDS = [
    ["-c", "pass"],
    ["-m", "dcops", "--help"],
    ["-m", "dcops", "alerts", "--help"],
    ["-m", "dcops", "device", "list", "--help"],
    ["-m", "dcops", "headroom", "--help"],
]


def cpu_seconds(argv: list[str], env: dict[str, str]) -> float:
    """CPU time (user + system) of one run of ``python argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Measure and print the medians."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {"DCOPS_DATA_DIR": tmp}
        medians = {}
        for argv in COMMANDS:
            cpu_seconds(argv, env)  # warm the file cache and bytecode
            medians[" ".join(argv)] = statistics.median(cpu_seconds(argv, env) for _ in range(args.rounds))
    bare = medians["-c pass"]
    print(f"{'command':<32} {'CPU s (median)':>15} {'x bare python':>14}")
    for name, value in medians.items():
        label = "python " + name.replace("-m dcops", "dcops").replace("-c pass", "-c pass")
        print(f"{label:<32} {value:>15.3f} {value / bare:>14.1f}")
    help_s = medians["-m dcops --help"]
    print(f"dcops --help: {help_s:.3f} s CPU; target < {TARGET_S} s: {'met' if help_s < TARGET_S else 'NOT met'}")


if __name__ == "__main__":
    main()
