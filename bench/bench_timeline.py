"""Benchmark: load the dataset, compute every deadline, and start the CLI.

Prints figures; asserts nothing about time. Run with `make bench` or directly.
The "all parties" case gives every State party a group (as if all were known), which
is the size the timeline reaches once operators have recorded every group.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from config.dataset_loader import load_dataset
from schedulers.timeline import compute_deadlines

ROUNDS = 20
CLI_ROUNDS = 15
NOW = dt.datetime(2022, 3, 1, tzinfo=dt.UTC)


def _median_ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.1f} ms, max {max(samples) * 1000:7.1f} ms"


def _timed(function, rounds: int = ROUNDS) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


def _all_parties_dir(directory: Path) -> Path:
    data = load_dataset()
    unknown = [code for code in data.states if data.group_of(code) is None]
    countries = ", ".join(unknown)
    (directory / "all.yaml").write_text(
        "groups:\n"
        "  - number: 3\n    source: bench\n    confidence: reported\n"
        "    cluster_starts:\n"
        + "".join(
            f"      - {{cluster: {c}, date: {2022 + 2 * (c - 1)}-11-01,"
            " source: bench, confidence: projected}\n"
            for c in (1, 2, 3, 4)
        )
        + f"    members: [{{countries: [{countries}], source: bench, confidence: reported}}]\n",
        encoding="utf-8",
    )
    return directory


def main() -> None:
    data = load_dataset()
    print(f"dataset load (bundled):              {_median_ms(_timed(load_dataset))}")
    deadlines = compute_deadlines(data, NOW)
    print(
        f"compute all deadlines ({len(deadlines):5d}):       "
        f"{_median_ms(_timed(lambda: compute_deadlines(data, NOW)))}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = _all_parties_dir(Path(tmp))
        full = load_dataset(directory)
        count = len(compute_deadlines(full, NOW))
        print(
            f"load + compute, every party grouped ({count} deadlines): "
            f"{_median_ms(_timed(lambda: compute_deadlines(load_dataset(directory), NOW)))}"
        )
    cli = [sys.executable, "-m", "bot", "upcoming", "--as-of", "2022-03-01", "--format", "json"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "UNTOC_CACHE_DIR": f"{tmp}/cache",
        }
        print(f"`untoc-watch upcoming`, no database:  {_median_ms(_run_cli(cli, env))}")
        subprocess.run([*cli[:3], "db", "upgrade"], check=True, capture_output=True, env=env)
        print(f"`untoc-watch upcoming`, migrated db:  {_median_ms(_run_cli(cli, env))}")
    print("(start to exit of a new process; target < 500 ms)")


def _run_cli(cli: list[str], env: dict[str, str]) -> list[float]:
    subprocess.run(cli, check=True, capture_output=True, env=env)  # fills the dataset cache
    samples = []
    for _ in range(CLI_ROUNDS):
        start = time.perf_counter()
        subprocess.run(cli, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return samples


if __name__ == "__main__":
    main()
