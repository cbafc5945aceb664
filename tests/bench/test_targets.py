"""bench/bench_targets.py: the README's performance table is exactly what the script renders from its saved
figures, each row is judged against its target correctly, and a real (tiny) CLI run is measured."""

from __future__ import annotations

import copy
import importlib
import json
import sys

import pytest

from tests.support.paths import REPO

sys.path.insert(0, str(REPO / "bench"))  # the bench scripts import their siblings by name
targets = importlib.import_module("bench_targets")


def saved_figures() -> dict:
    return json.loads(targets.FIGURES_FILE.read_text())


def test_readme_table_is_the_scripts_rendering_of_the_saved_figures():
    readme = targets.README.read_text()
    start = readme.index(targets.TABLE_START)
    end = readme.index(targets.TABLE_END) + len(targets.TABLE_END)
    assert readme[start:end] == targets.render_readme_table(saved_figures()), (
        "README.md's performance table was edited by hand or the figures changed: "
        "run `python bench/bench_targets.py --readme`"
    )


def test_each_row_is_met_exactly_when_its_target_is():
    figures = copy.deepcopy(saved_figures())
    plain = figures["datasets"]["npz_plain_1e5"]
    old = figures["old_images_per_s"]["none"]
    plain["images_per_s"] = 40 * old  # exactly the 40x target
    assert _row(figures, "plain npz")[3] == "yes"
    plain["images_per_s"] = 40 * old - 1
    assert _row(figures, "plain npz")[3] == "**no**"
    strong = figures["datasets"]["npz_strong_1e5"]
    strong["images_per_s"] = 8 * figures["old_images_per_s"]["mild"]  # augmented: against the old `mild`
    assert _row(figures, "`strong` npz")[3] == "yes"
    figures["generate_us"] = 30.0
    assert _row(figures, "one `hng.generate`")[3] == "yes"
    figures["generate_us"] = 30.1
    assert _row(figures, "one `hng.generate`")[3] == "**no**"


def _row(figures: dict, prefix: str) -> tuple[str, ...]:
    return next(row for row in targets.rows(figures) if row[0].startswith(prefix))


@pytest.mark.slow
def test_a_cli_run_is_timed_with_its_workers_memory(tmp_path):
    run = targets.run_cli(300, "npz", "none", tmp_path)
    assert run["count"] == 300 and run["images_per_s"] > 0 and run["cores_busy"] > 0
    assert run["workers_seen"] >= 1 and run["worker_peak_rss_mb"] > 50  # numpy, OpenCV and MNIST at least
    assert not any(tmp_path.iterdir())  # the dataset is deleted once measured
