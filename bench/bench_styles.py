"""Document styles beside TRDG (issue 16, section 6): prints figures, asserts nothing.

Every figure is end to end on this machine with 2 workers (--workers): random 5-digit numbers, 48 pixels
high, RGB (style ``mnist`` stays today's 28-pixel grey strip: the raw-MNIST reference), outputs in a
temporary folder on local disk, each deleted once measured. images/s: images written over the wall time.
"CPU ms": CPU time of this process and its waited-for children per image (steadier than the wall time on
a busy machine). "others": the most CPU other processes took during one of the runs, as a share of the
machine (figures taken while others run are too low by up to that much).

- TRDG (``trdg`` 1.8.0 from PyPI in its own virtual environment, build/bench-venvs/trdg, made on first
  use and reused; its bundled latin fonts; nothing downloaded at run time), run as its users run it: its
  CLI, ``trdg -c N -i NUMBERS -f 48 -t 2 -k 4 -rk -bl 1 -rbl -tc #101010,#1e2a78 -b B --output_dir D``
  on a file of N random 5-digit numbers (``-rs`` cannot fix the length: it draws 2 to 10 characters):
  N JPEG files (label_index.jpg), skew ±4° (whole degrees), blur radius 0-1, ink between near-black and
  blue-black, background ``-b 0`` gaussian noise (its cheapest), ``-b 2`` quasicrystal (pure Python per
  pixel: a tenth of N), ``-b 3`` its four bundled photos; process start included. And its Python API as
  scripts use it at scale: ``GeneratorFromStrings`` in a pool of 2 processes, each image saved as JPEG.
  Images TRDG skips (text and background too alike) are not counted.
- hng, same N ("same count"): ``hng dataset`` (the CLI: a fresh process, MNIST load and hash included)
  and ``hng.make_dataset`` in this warm process, webdataset with JPEG images (TRDG writes JPEG files),
  for each style: ``ink`` (clean), ``paper`` (rotate ±4°, shear ±8°: TRDG's skew), ``background`` (the
  same geometry, over 20 synthetic sheets made with OpenCV in the temporary folder: tone, fibres, ruled
  or squared lines, a margin, a stain) and ``mnist``.
- hng throughput (the issue's targets: ``paper`` >= 2,000 images/s, ``ink`` >= 10,000): make_dataset
  at a larger N in npz (arrays, no encoding: the headline), webdataset with PNG and with JPEG images, and
  the CLI in npz.
- Label fidelity: each hng dataset's report (manifest.json: report.fidelity.read_as_label, the report's
  reader on its sample) and its ratio to raw MNIST's (style mnist, preset none): target ``paper`` >=
  0.95 of it. With --verify-labels, every preset (none, mild, strong) and style: target >= 0.99, with
  what the report says of the re-draws, and the time of ``strong`` with and without it (issue: < 2x).

Sizes: same count 3,000 (quasicrystal 300), throughput 100,000, webdataset 20,000, verify-labels 4,000.
Each measurement runs 3 times (the median counts) unless its first run took over 40 s (then once; TRDG's
-b 0 always 3 times, its -b 3 and API once): about 15 minutes once the styles exist. --quick: one run
each; same count 1,000 (quasicrystal 100) without TRDG's -b 3 and API or make_dataset's same-count rows;
throughput 20,000 (webdataset: paper's JPEG only); verify-labels 600, presets none and strong, without
the time of strong alone: under 3 minutes on an idle machine once TRDG's environment exists (making it
takes about 30 s more). A style that cannot run (hng/document/ not there yet) is reported with its error
and its other runs skipped; --styles picks the styles.

    .venv/bin/python bench/bench_styles.py [--quick] [--json FILE] [--styles ink,paper,background,mnist]
                                           [--workers N] [--repeats R] [--out-dir DIR] [--no-trdg]
                                           [--trdg-venv DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_dataset import (  # noqa: E402  (bench/ is on sys.path: this script's folder)
    SHARD_SIZE,
    machine_busy_seconds,
    our_cpu_seconds,
    versions,
)

import hng  # noqa: E402  (the checkout first, whatever is installed)

DIGITS = 5
HEIGHT = 48
CHANNELS = 3
SEED = 1
TARGETS = {"paper": 2_000, "ink": 10_000}  # images/s, end to end, 2 workers
FIDELITY_RATIO_TARGET = {"paper": 0.95}  # of raw MNIST's read_as_label
VERIFIED_FIDELITY_TARGET = 0.99  # read_as_label with verify_labels, every preset and style
PRESETS = ("none", "mild", "strong")
STYLES = ("ink", "paper", "background", "mnist")
SLOW_RUN_SECONDS = 40.0  # a first run slower than this is not repeated
BACKGROUND_IMAGES = 20

# Each style's look: the same geometry as TRDG's skew where the style is meant to look photographed.
GEOMETRY = {"rotate": 4, "shear": 8}
STYLE_FIELDS: dict[str, dict[str, Any]] = {
    "mnist": {},  # today's images (28 rows, grey): the raw-MNIST reference
    "ink": {"height": HEIGHT, "channels": CHANNELS},
    "paper": {"height": HEIGHT, "channels": CHANNELS, **GEOMETRY},
    "background": {"height": HEIGHT, "channels": CHANNELS, **GEOMETRY},  # + the background folder
}

TRDG_VERSION = "1.8.0"
TRDG_VENV = ROOT / "build" / "bench-venvs" / "trdg"
# trdg 1.8.0's requirements, with opencv-python-headless for opencv-python (the GUI build needs the
# system's libGL.so.1 to import), then trdg itself without its dependencies. Pillow 10 removed what it
# uses (ImageFont.getsize); tensorflow (its -hw handwriting model, downloaded at run time) is left out.
TRDG_REQUIREMENTS = (
    "pillow<10",
    "opencv-python-headless",
    "numpy",
    "requests",
    "tqdm",
    "wikipedia==1.4.0",
    "diffimg==0.2.3",
    "arabic-reshaper==2.1.3",
    "python-bidi==0.4.2",
)
# Skew ±4° (whole degrees), blur radius 0-1, ink from near-black to blue-black: paper's effects.
TRDG_EFFECTS = ("-k", "4", "-rk", "-bl", "1", "-rbl", "-tc", "#101010,#1e2a78")
TRDG_BACKGROUNDS = {0: "gaussian noise", 1: "plain white", 2: "quasicrystal", 3: "its bundled photos"}

# TRDG's Python API in a pool, run by the venv's interpreter: argv numbers-file out-dir background
# processes; prints the images written and the seconds of the generation itself (after the imports).
TRDG_API_DRIVER = """
import os, random, sys, time
from multiprocessing import Pool

from trdg.generators import GeneratorFromStrings

def work(job):
    index, strings, out, background = job
    random.seed(index)
    generator = GeneratorFromStrings(
        strings, count=len(strings), size=48, skewing_angle=4, random_skew=True, blur=1,
        random_blur=True, background_type=background, text_color="#101010,#1e2a78",
    )
    written = 0
    for i, (image, label) in enumerate(generator):
        if image is None:  # skipped by trdg: text and background too alike
            continue
        image.save(os.path.join(out, f"{label}_{index}_{i}.jpg"))
        written += 1
    return written

if __name__ == "__main__":
    numbers, out, background, processes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    strings = open(numbers).read().split()
    os.makedirs(out, exist_ok=True)
    started = time.perf_counter()
    jobs = [(k, strings[k::processes], out, background) for k in range(processes)]
    with Pool(processes) as pool:
        written = sum(pool.map(work, jobs))
    print(written, time.perf_counter() - started)
"""


# --- the TRDG environment ---------------------------------------------------------------------------------


def trdg_environment(venv: Path) -> dict[str, Any]:
    """TRDG's virtual environment: reused when its marker is there, else made (python -m venv, pip)."""
    marker = venv / f".installed-trdg-{TRDG_VERSION}"
    python = venv / "bin" / "python"
    made = False
    started = time.perf_counter()
    if not (marker.exists() and python.exists()):
        print(f"making TRDG's environment in {venv} ...", file=sys.stderr, flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        steps = (
            [sys.executable, "-m", "venv", str(venv)],
            [*pip, *TRDG_REQUIREMENTS],
            [*pip, "--no-deps", f"trdg=={TRDG_VERSION}"],
            # It must import headless with nothing to fetch (trdg notes that the optional handwriting
            # model's modules are missing).
            [str(python), "-c", "import cv2, PIL, trdg.generators, trdg.run"],
        )
        log = venv.parent / "trdg-install.log"
        with log.open("w") as fh:
            for step in steps:
                fh.write(f"$ {shlex.join(step)}\n")
                fh.flush()
                done = subprocess.run(step, stdout=fh, stderr=subprocess.STDOUT, check=False)
                if done.returncode != 0:
                    raise OSError(f"{shlex.join(step)} failed (exit {done.returncode}): see {log}")
        (venv / ".gitignore").write_text("*\n")
        marker.touch()
        made = True
    freeze = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {
        "venv": str(venv),
        "made_now": made,
        "setup_s": time.perf_counter() - started,
        "python": subprocess.run(
            [str(python), "-c", "import platform; print(platform.python_version())"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "packages": freeze,
        "requirements": [*TRDG_REQUIREMENTS, f"trdg=={TRDG_VERSION} (--no-deps)"],
    }


# --- inputs -----------------------------------------------------------------------------------------------


def write_numbers(path: Path, count: int) -> Path:
    """``count`` random 5-digit numbers (leading zeros kept), one a line: TRDG's input file."""
    rng = random.Random(SEED)
    path.write_text("".join(f"{rng.randrange(10**DIGITS):0{DIGITS}d}\n" for _ in range(count)))
    return path


def write_backgrounds(folder: Path, count: int = BACKGROUND_IMAGES) -> Path:
    """``count`` synthetic sheets of paper (800 x 600): a tone and its light fall-off, fibres (blurred
    noise), ruled lines (blue, or a grey grid), a red margin on some, stains on some; PNG."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    height, width = 600, 800
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for k in range(count):
        red = rng.uniform(238, 252)  # white to cream: green a little under red, blue under green
        green = red - rng.uniform(0, 8)
        tone = np.array([red, green, green - rng.uniform(2, 22)], np.float32)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        fall = 1.0 - rng.uniform(0.03, 0.12) * ((xx - cx) ** 2 + (yy - cy) ** 2) / (width**2 + height**2)
        paper = tone[None, None, :] * fall[:, :, None]
        fibres = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.2)
        paper += 9.0 * fibres[:, :, None]
        paper += rng.normal(0, 2.0, (height, width, 1)).astype(np.float32)
        image = np.clip(paper, 0, 255).astype(np.uint8)
        spacing = int(rng.integers(48, 72))
        offset = int(rng.integers(0, spacing))
        if k % 4 == 3:  # squared paper
            grey = (190, 190, 185)
            for y in range(offset, height, spacing // 2):
                cv2.line(image, (0, y), (width, y), grey, 1, cv2.LINE_AA)
            for x in range(offset, width, spacing // 2):
                cv2.line(image, (x, 0), (x, height), grey, 1, cv2.LINE_AA)
        else:  # ruled
            blue = (int(rng.integers(150, 190)), int(rng.integers(180, 210)), int(rng.integers(215, 240)))
            for y in range(offset, height, spacing):
                cv2.line(image, (0, y), (width, y), blue, int(rng.integers(1, 3)), cv2.LINE_AA)
        if k % 2 == 0:
            x = int(rng.integers(40, 120))
            cv2.line(image, (x, 0), (x, height), (225, 120, 120), 2, cv2.LINE_AA)
        if k % 5 == 1:  # a coffee stain
            stain = np.zeros((height, width), np.float32)
            centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.circle(stain, centre, int(rng.integers(40, 120)), 1.0, int(rng.integers(6, 14)), cv2.LINE_AA)
            stain = cv2.GaussianBlur(stain, (0, 0), 4)[:, :, None]
            image = np.clip(image - stain * np.array([20, 35, 60], np.float32), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"paper-{k:02d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return folder


# --- one run ----------------------------------------------------------------------------------------------


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Timer:
    """Wall time, this process's and its waited-for children's CPU time, and the machine's busy time."""

    def __enter__(self) -> Timer:
        self.cpu0, self.busy0 = our_cpu_seconds(), machine_busy_seconds()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.started
        self.cpu = our_cpu_seconds() - self.cpu0
        self.others = max(0.0, machine_busy_seconds() - self.busy0 - self.cpu)

    def figures(self, images: int) -> dict[str, Any]:
        return {
            "wall_s": self.wall,
            "images": images,
            "images_per_s": images / self.wall,
            "cpu_s": self.cpu,
            "cpu_ms_per_image": 1e3 * self.cpu / max(images, 1),
            "other_load": self.others / (self.wall * (os.cpu_count() or 1)),
        }


def tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_command(command: list[str], log: Path, env: dict[str, str] | None = None) -> Timer:
    """Run ``command`` (stdout and stderr to ``log``), timed; a non-zero exit raises with its last lines."""
    with log.open("w") as fh, Timer() as timer:
        done = subprocess.run(command, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {tail(log.read_text(errors='replace'))}")
    return timer


def fidelity_of(manifest: dict[str, Any]) -> dict[str, Any]:
    """The report's label fidelity and whatever it says about --verify-labels (re-draws, failures)."""
    report = manifest.get("report", {})
    fidelity = report.get("fidelity", {})
    found: dict[str, Any] = {
        "read_as_label": fidelity.get("read_as_label"),
        "numbers_read": fidelity.get("numbers_read"),
        "digits_read": fidelity.get("digits"),
    }
    for where in (report, fidelity):
        for key, value in where.items():
            if "verif" in key or "redraw" in key or "re_draw" in key:
                found[key] = value
    return found


class Bench:
    def __init__(self, base: Path, workers: int, repeats: int, backgrounds: Path) -> None:
        self.base = base
        self.workers = workers
        self.repeats = repeats
        self.backgrounds = backgrounds
        self.counter = 0
        self.broken: dict[str, str] = {}  # style -> why it cannot run here (hng/document/ not there)

    def folder(self, label: str) -> Path:
        self.counter += 1
        return self.base / f"{self.counter:03d}-{label}"

    # - hng -

    def fields(
        self, style: str, count: int, fmt: str, encoding: str, preset: str, verify: bool
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "count": count,
            "shard_size": SHARD_SIZE,
            "digits": DIGITS,
            "seed": SEED,
            "format": fmt,
            "preset": preset,
            "style": style,
            **STYLE_FIELDS[style],
        }
        if style == "background":
            fields["background"] = str(self.backgrounds)
        if encoding != "png":
            fields["image_encoding"] = encoding
        if verify:
            fields["verify_labels"] = True
        return fields

    def cli_command(self, fields: dict[str, Any], out: Path) -> list[str]:
        command = [sys.executable, "-m", "hng.cli", "dataset", "--out", str(out), "-j", str(self.workers)]
        for name, value in fields.items():
            if name == "verify_labels":
                command.append("--verify-labels")
            else:
                command += [f"--{name.replace('_', '-')}", str(value)]
        return command

    def hng_once(self, how: str, fields: dict[str, Any]) -> dict[str, Any]:
        from hng.datasets.spec import DatasetSpec

        out = self.folder(f"hng-{how}-{fields['style']}-{fields['format']}-{fields['count']}")
        try:
            if how == "cli":
                env = {
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                }
                timer = run_command(self.cli_command(fields, out), self.base / "hng-cli.log", env)
                manifest = json.loads((out / "manifest.json").read_text())
            else:
                spec = DatasetSpec.build(**fields)
                with Timer() as timer:
                    manifest = hng.make_dataset(spec, out, workers=self.workers, progress=False)
            figures = timer.figures(int(manifest["images"]))
            figures["bytes_per_image"] = folder_bytes(out) / max(figures["images"], 1)
            figures["image_width"] = manifest["spec"].get("image_width")
            figures["fidelity"] = fidelity_of(manifest)
            return figures
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def hng(
        self,
        how: str,
        style: str,
        count: int,
        fmt: str = "npz",
        encoding: str = "png",
        preset: str = "none",
        *,
        verify: bool = False,
        repeats: int | None = None,
    ) -> dict[str, Any]:
        fields = self.fields(style, count, fmt, encoding, preset, verify)
        what = f"{'CLI' if how == 'cli' else 'make_dataset'}, {style}, {fmt}" + (
            f" {encoding}" if fmt != "npz" else ""
        )
        if preset != "none" or verify:
            what += f", {preset}" + (", verify" if verify else "")
        row: dict[str, Any] = {
            "engine": "hng",
            "how": how,
            "style": style,
            "format": fmt,
            "encoding": encoding if fmt != "npz" else None,
            "preset": preset,
            "verify_labels": verify,
            "count": count,
            "what": what,
            "command": shlex.join(self.cli_command(fields, Path("OUT")))
            if how == "cli"
            else f"hng.make_dataset(DatasetSpec.build(**{fields!r}), out, workers={self.workers})",
        }
        if style in self.broken:
            row["skipped"] = self.broken[style]
            return row
        return self.measure(row, lambda: self.hng_once(how, fields), style, repeats)

    # - TRDG -

    def trdg_once(self, how: str, python: Path, background: int, numbers: Path) -> dict[str, Any]:
        out = self.folder(f"trdg-{how}-b{background}")
        log = self.base / "trdg.log"
        try:
            timer = run_command(self.trdg_command(how, python, background, numbers, out), log)
            written = sum(1 for p in out.iterdir() if p.suffix == ".jpg")
            text = log.read_text(errors="replace")
            figures = timer.figures(written)
            figures["skipped_by_trdg"] = text.count("Ignore this image")
            figures["bytes_per_image"] = folder_bytes(out) / max(written, 1)
            figures["image_width"] = mean_width(out)
            if how == "api":
                figures["generation_s"] = float(text.split()[-1])  # the driver's own timing
            return figures
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def trdg_command(self, how: str, python: Path, background: int, numbers: Path, out: Path) -> list[str]:
        if how == "api":
            driver = self.base / "trdg_api_driver.py"
            driver.write_text(TRDG_API_DRIVER)
            return [str(python), str(driver), str(numbers), str(out), str(background), str(self.workers)]
        return [
            str(python.parent / "trdg"),
            "-c",
            str(len(numbers.read_text().split())),
            "-i",
            str(numbers),
            "-f",
            str(HEIGHT),
            "-t",
            str(self.workers),
            *TRDG_EFFECTS,
            "-b",
            str(background),
            "--output_dir",
            str(out),
        ]

    def trdg(
        self,
        how: str,
        python: Path,
        background: int,
        count: int,
        repeats: int | None = None,
        slow: float = SLOW_RUN_SECONDS,
    ) -> dict[str, Any]:
        numbers = write_numbers(self.base / f"numbers-{count}.txt", count)
        command = self.trdg_command(how, python, background, numbers, Path("OUT"))
        row = {
            "engine": "TRDG",
            "how": how,
            "background": background,
            "count": count,
            "what": f"{'CLI' if how == 'cli' else 'API in a pool'}, -b {background} "
            f"{TRDG_BACKGROUNDS[background]}, jpg",
            "command": shlex.join(command).replace(str(self.base), "$TMP").replace(str(ROOT) + "/", ""),
        }
        return self.measure(
            row, lambda: self.trdg_once(how, python, background, numbers), None, repeats, slow
        )

    # - both -

    def measure(
        self,
        row: dict[str, Any],
        once: Callable[[], dict[str, Any]],
        style: str | None,
        repeats: int | None,
        slow: float = SLOW_RUN_SECONDS,
    ) -> dict[str, Any]:
        """Up to ``repeats`` runs (1 if the first took over ``slow`` seconds); medians of each figure. A
        run that fails is recorded; an ImportError (a style whose code is not there) skips the style."""
        repeats = self.repeats if repeats is None else repeats
        runs = []
        for _ in range(repeats):
            try:
                runs.append(once())
            except Exception as error:  # a benchmark reports every failure and goes on
                text = f"{type(error).__name__}: {error}"
                row["error"] = text
                if style is not None and (
                    isinstance(error, ImportError) or "ImportError:" in text or "ModuleNotFoundError:" in text
                ):
                    self.broken[style] = f"not available here: {text.splitlines()[-1]}"
                print(f"  {row['engine']} {row['what']}: FAILED {text.splitlines()[-1]}", file=sys.stderr)
                return row
            if runs[0]["wall_s"] > slow:
                break
        numeric = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
        row["runs"] = len(runs)
        row["median"] = {k: statistics.median(r[k] for r in runs) for k in numeric}
        row["all_runs"] = runs
        if "fidelity" in runs[0]:
            row["fidelity"] = runs[len(runs) // 2]["fidelity"]  # one seed: the same dataset each run
        md = row["median"]
        print(
            f"  {row['engine']} {row['what']}: {md['images_per_s']:,.0f} images/s "
            f"({row['count']:,}, {len(runs)} run{'s' if len(runs) > 1 else ''}, {md['wall_s']:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
        return row


def mean_width(folder: Path, sample: int = 64) -> float | None:
    import cv2

    widths = []
    for path in sorted(folder.glob("*.jpg"))[:sample]:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is not None:
            widths.append(image.shape[1])
    return statistics.fmean(widths) if widths else None


# --- the plan ---------------------------------------------------------------------------------------------


def sizes(quick: bool) -> dict[str, int]:
    """N of each part: the same-count comparison, quasicrystal, throughput, webdataset, verify-labels."""
    if quick:
        return {
            "compare": 1_000,
            "quasicrystal": 100,
            "throughput": 20_000,
            "webdataset": 10_000,
            "verify": 600,
        }
    return {
        "compare": 3_000,
        "quasicrystal": 300,
        "throughput": 100_000,
        "webdataset": 20_000,
        "verify": 4_000,
    }


def run_all(args: argparse.Namespace, base: Path, figures: dict[str, Any]) -> None:
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    unknown = sorted(set(styles) - set(STYLE_FIELDS))
    if unknown:
        raise SystemExit(f"--styles: unknown {', '.join(unknown)} (known: {', '.join(STYLE_FIELDS)})")
    n = sizes(args.quick)
    figures["sizes"] = n
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    figures["settings"] = {
        "digits": DIGITS,
        "height": HEIGHT,
        "channels": CHANNELS,
        "seed": SEED,
        "repeats": repeats,
        "styles": styles,
        "style_fields": STYLE_FIELDS,
        "trdg_effects": list(TRDG_EFFECTS),
    }
    backgrounds = write_backgrounds(base / "backgrounds")
    bench = Bench(base, args.workers, repeats, backgrounds)
    rows: dict[str, dict[str, Any]] = figures["rows"]

    def add(key: str, section: str, row: dict[str, Any]) -> None:
        rows[key] = {**row, "section": section}

    if not args.no_trdg:
        try:
            env = figures["trdg"] = trdg_environment(Path(args.trdg_venv))
        except (OSError, subprocess.CalledProcessError) as error:
            figures["trdg"] = {"error": f"{type(error).__name__}: {error}"}
            print(f"TRDG's environment: FAILED {error}", file=sys.stderr)
        else:
            python = Path(env["venv"]) / "bin" / "python"
            print("TRDG ...", file=sys.stderr, flush=True)
            # The comparison rests on this one: every run, however slow.
            add("trdg_cli_b0", "compare", bench.trdg("cli", python, 0, n["compare"], slow=float("inf")))
            add("trdg_cli_b2", "compare", bench.trdg("cli", python, 2, n["quasicrystal"]))
            if not args.quick:
                # Once each: as slow per image as -b 0 (CPU ms), and TRDG's minutes add up.
                add("trdg_cli_b3", "compare", bench.trdg("cli", python, 3, n["compare"], repeats=1))
                add("trdg_api_b0", "compare", bench.trdg("api", python, 0, n["compare"], repeats=1))

    print("hng: warm-up, then the same count ...", file=sys.stderr, flush=True)
    warm = bench.folder("warm-up")
    spec = {"count": 2_000, "shard_size": 1_000, "digits": DIGITS, "seed": SEED}
    hng.make_dataset(spec, warm, workers=args.workers, progress=False)
    shutil.rmtree(warm, ignore_errors=True)
    for style in styles:
        add(
            f"hng_cli_{style}_wds_jpeg",
            "compare",
            bench.hng("cli", style, n["compare"], "webdataset", "jpeg"),
        )
        if not args.quick:
            add(
                f"hng_api_{style}_wds_jpeg",
                "compare",
                bench.hng("api", style, n["compare"], "webdataset", "jpeg"),
            )

    print("hng: throughput ...", file=sys.stderr, flush=True)
    for style in styles:
        add(f"hng_api_{style}_npz", "throughput", bench.hng("api", style, n["throughput"]))
    for style in styles:
        if style == "mnist" or (args.quick and style != "paper"):
            continue
        for encoding in ("jpeg",) if args.quick else ("png", "jpeg"):
            row = bench.hng("api", style, n["webdataset"], "webdataset", encoding)
            add(f"hng_api_{style}_wds_{encoding}_large", "throughput", row)
    for style in styles:
        if style in TARGETS and not args.quick:
            add(f"hng_cli_{style}_npz", "throughput", bench.hng("cli", style, n["throughput"]))

    print("hng: label fidelity ...", file=sys.stderr, flush=True)
    if not usable(rows.get("hng_api_mnist_npz")):
        add("hng_api_mnist_npz_reference", "throughput", bench.hng("api", "mnist", n["verify"], repeats=1))
    for style in styles:
        for preset in PRESETS if not args.quick else ("none", "strong"):
            row = bench.hng("api", style, n["verify"], preset=preset, verify=True, repeats=1)
            add(f"verify_{style}_{preset}", "verify", row)
        if not args.quick:
            row = bench.hng("api", style, n["verify"], preset="strong", repeats=1)
            add(f"noverify_{style}_strong", "verify", row)


# --- printing ---------------------------------------------------------------------------------------------


def why(row: dict[str, Any]) -> str:
    """Why a row has no figures: its skip reason or its error's last line, shortened."""
    text = row.get("skipped") or row.get("error", "?").strip().splitlines()[-1]
    return text if len(text) <= 100 else text[:99] + "…"


def usable(row: dict[str, Any] | None) -> bool:
    return row is not None and "median" in row


def raw_mnist_fidelity(rows: dict[str, dict[str, Any]]) -> float | None:
    for key in ("hng_api_mnist_npz", "hng_api_mnist_npz_reference"):
        row = rows.get(key)
        if usable(row) and row["fidelity"]["read_as_label"] is not None:  # type: ignore[index]
            return float(row["fidelity"]["read_as_label"])  # type: ignore[index]
    return None


def table(figures: dict[str, Any]) -> None:
    rows, raw = figures["rows"], raw_mnist_fidelity(figures["rows"])
    trdg = rows.get("trdg_cli_b0")
    trdg_rate = trdg["median"]["images_per_s"] if usable(trdg) else None
    head = (
        f"{'engine':7}{'run (style / effects, format)':44}{'N':>8}{'images/s':>10}{'target':>8}{'ratio':>7}"
        f"{'×TRDG':>7}{'CPU ms':>8}{'others':>7}{'KB/img':>7}{'width':>6}{'fidelity':>9}{'×MNIST':>7}"
    )
    print(head)
    sections = (
        ("compare", "same count (TRDG: -b 0 is its cheapest background)"),
        ("throughput", "throughput (hng)"),
    )
    for section, title in sections:
        print(f"-- {title}")
        for row in rows.values():
            if row.get("section") != section:
                continue
            name = f"{row['engine']:7}{row['what'][:43]:44}{row['count']:>8,}"
            if not usable(row):
                print(f"{name}  {why(row)}")
                continue
            md = row["median"]
            rate = md["images_per_s"]
            target = TARGETS.get(row.get("style", "")) if row["engine"] == "hng" else None
            fid = row.get("fidelity", {}).get("read_as_label")
            cells = [
                f"{rate:>10,.0f}",
                f"{target:>8,}" if target else f"{'-':>8}",
                f"{rate / target:>7.2f}" if target else f"{'-':>7}",
                f"{rate / trdg_rate:>7.1f}" if trdg_rate and row["engine"] == "hng" else f"{'-':>7}",
                f"{md['cpu_ms_per_image']:>8.2f}",
                f"{max(r['other_load'] for r in row['all_runs']):>7.0%}",
                f"{md['bytes_per_image'] / 1e3:>7.1f}",
                f"{md['image_width']:>6.0f}" if md.get("image_width") else f"{'-':>6}",
                f"{fid:>9.3f}" if fid is not None else f"{'-':>9}",
                f"{fid / raw:>7.3f}" if fid is not None and raw else f"{'-':>7}",
            ]
            print(name + "".join(cells))
    print(
        "ratio: images/s over the issue's target; ×TRDG: over TRDG's CLI with -b 0; CPU ms: CPU time of the\n"
        "run's processes per image; width: the images' mean width in pixels (height 48; mnist 28);\n"
        "fidelity: the report's read_as_label on its sample; ×MNIST: over raw MNIST's (mnist, preset none)"
    )


def verify_table(figures: dict[str, Any]) -> None:
    rows, raw = figures["rows"], raw_mnist_fidelity(figures["rows"])
    keys = [k for k in rows if k.startswith("verify_")]
    if not keys:
        return
    print(
        f"\n-- label fidelity with --verify-labels (make_dataset, npz; target >= {VERIFIED_FIDELITY_TARGET})"
    )
    print(
        f"{'style':12}{'preset':8}{'N':>7}{'images/s':>10}{'fidelity':>9}{'×MNIST':>7}{'meets':>6}   report"
    )
    for key in keys:
        row = rows[key]
        name = f"{row['style']:12}{row['preset']:8}{row['count']:>7,}"
        if not usable(row):
            print(f"{name}  {why(row)}")
            continue
        fid = row["fidelity"]
        value = fid.get("read_as_label")
        extra = {k: v for k, v in fid.items() if k not in ("read_as_label", "numbers_read", "digits_read")}
        print(
            f"{name}{row['median']['images_per_s']:>10,.0f}"
            + (f"{value:>9.3f}" if value is not None else f"{'-':>9}")
            + (f"{value / raw:>7.3f}" if value is not None and raw else f"{'-':>7}")
            + f"{'yes' if value is not None and value >= VERIFIED_FIDELITY_TARGET else 'NO':>6}"
            + f"   {json.dumps(extra) if extra else 'no re-draw figures in the report'}"
        )
        if row["preset"] == "strong":
            plain = rows.get(f"noverify_{row['style']}_strong")
            if usable(plain):
                slower = plain["median"]["images_per_s"] / row["median"]["images_per_s"]  # type: ignore[index]
                print(
                    f"{'':20}  without --verify-labels: {plain['median']['images_per_s']:,.0f} images/s, "  # type: ignore[index]
                    f"fidelity {plain['fidelity']['read_as_label']:.3f}; verify takes {slower:.2f}× the time "  # type: ignore[index]
                    "(the issue: within 2×)"
                )
    if raw is not None:
        print(f"raw MNIST (style mnist, preset none): read_as_label {raw:.3f}")
    paper = figures["rows"].get("hng_api_paper_npz")
    if usable(paper) and raw:
        value = paper["fidelity"]["read_as_label"] / raw  # type: ignore[index]
        print(
            f"paper, preset none: {value:.3f} of raw MNIST's (target >= {FIDELITY_RATIO_TARGET['paper']}): "
            + ("meets it" if value >= FIDELITY_RATIO_TARGET["paper"] else "BELOW")
        )


def print_all(figures: dict[str, Any]) -> None:
    m = figures["machine"]
    print(
        f"\nhng {m['hng']} on {m['description']}; numpy {m['numpy']}, OpenCV {m['opencv']}\n"
        f"{figures['workers']} workers, {DIGITS}-digit numbers, height {HEIGHT}, RGB; seed {SEED}; "
        f"medians of runs; outputs in {figures['out_dir']}\n"
        "others: the most CPU other processes took during a run, as a share of the machine\n"
    )
    trdg = figures.get("trdg")
    if trdg:
        if "error" in trdg:
            print(f"TRDG: its environment failed: {trdg['error']}\n")
        else:
            made = f"made now in {trdg['setup_s']:.0f} s" if trdg["made_now"] else "reused"
            wanted = ("trdg", "pillow", "opencv", "numpy")
            picked = [p for p in trdg["packages"] if p.lower().startswith(wanted)]
            print(f"TRDG: {trdg['venv']} ({made}); Python {trdg['python']}; {', '.join(picked)}")
            for key in ("trdg_cli_b0", "trdg_api_b0"):
                if key in figures["rows"]:
                    print(f"  {figures['rows'][key]['command']}")
            print()
    table(figures)
    verify_table(figures)
    print(f"\nwhole benchmark: {figures['seconds']:.0f} s")


# --- main -------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller N, one run each (about 3 min)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument(
        "--styles", default=",".join(STYLES), help=f"hng styles to measure (default {','.join(STYLES)})"
    )
    parser.add_argument("--workers", type=int, default=2, help="workers of both engines (default 2)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per measurement (default 3, quick 1)")
    parser.add_argument("--out-dir", metavar="DIR", help="where the temporary outputs go (default: $TMPDIR)")
    parser.add_argument("--no-trdg", action="store_true", help="leave TRDG out")
    parser.add_argument(
        "--trdg-venv",
        default=str(TRDG_VENV),
        metavar="DIR",
        help="TRDG's virtual environment (made if absent)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    out_dir = Path(args.out_dir) if args.out_dir else Path(tempfile.gettempdir())
    out_dir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="hng-bench-styles-", dir=out_dir))
    figures: dict[str, Any] = {
        "machine": versions(),
        "workers": args.workers,
        "quick": args.quick,
        "out_dir": str(base),
        "rows": {},
    }
    try:
        run_all(args, base, figures)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    figures["seconds"] = time.perf_counter() - started
    print_all(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
