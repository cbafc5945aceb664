"""Are generated digits still readable as their label? A fidelity benchmark, with and without augmentation.

A 3-nearest-neighbour classifier (numpy only, cosine similarity) is fitted on MNIST *train* digits; it
then reads digits cut out of generated images by their boxes, for numbers drawn from the *test* split,
so it never saw those samples. Every digit, training or cut out, is normalised alike: cropped to its ink,
resized to 20 × 20 ignoring the aspect ratio (so a stretched or squeezed digit normalises like the
original), padded to 24 × 24, blurred slightly (sigma 1) and L2-normalised. The classifier lives in
``hng.quality.readability`` (``hng dataset`` uses it to check label fidelity). Two readings are reported:

- robust (``accuracy``, the figure that counts): only pixels at least 35 % of the cut-out's brightest
  count as ink, and the digit is deskewed (sheared upright by its moments) before resizing: it reads
  the visible digit, as a person would, ignoring faint halos and noise around it;
- plain (``accuracy_plain``): crops to every non-zero pixel, as the boxes do, and does not deskew; it
  drops when faint pixels widen the crops (halos, noise, an unmasked background).

Figures, for each preset and each width (the natural strip, stretched 1.5×, squeezed 0.75×, and a batch
at one fixed width, which goes through ``generate_batch``'s vectorised path):

- accuracy; ``baseline`` is the classifier's accuracy on raw MNIST test digits, ``paired`` on the very
  test samples the generated numbers used (the plain natural-width cut-outs are exactly those samples,
  so the two agree); ``numbers``: images whose every digit is read right;
- ``clipped``: boxes whose ink touches the image's top or bottom row (an augmented digit pushed or grown
  past the 28-pixel height loses the ink beyond it); ``cut``: a visible stroke there; ``empty``: boxes
  with no ink;
- ``outside``: the share of the image's ink that lies in no box; ``rows``: boxes whose rows are not the
  ink rows of their columns; ``order``: images whose boxes, left to right, do not spell the label;
  ``slack``: mean pixels (width + height) by which a box exceeds the visible ink.

Run from the repository root: ``python bench/readability.py [--numbers N] [--seed S] [--examples DIR]``
(about a minute with the defaults: 1,000 numbers, 10,000 training digits).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# Run as a script from a checkout, hng may not be installed: import it from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

import hng
from hng.quality.readability import BLUR_SIGMA, INK_SHARE, PAD, SIZE, K, fit_classifier

# Widths: None is the natural strip; a float scales the natural width of the same image; an int (batch)
# is one width shared by the whole batch, generated with generate_batch.
DEFAULT_WIDTHS: tuple[tuple[str, float | int | None], ...] = (
    ("natural", None),
    ("x1.5", 1.5),
    ("x0.75", 0.75),
    ("batch@140", 140),
)


def random_numbers(n: int, lengths: tuple[int, int], rng: np.random.Generator) -> list[str]:
    sizes = rng.integers(lengths[0], lengths[1] + 1, size=n)
    return ["".join(map(str, rng.integers(0, 10, size=int(s)))) for s in sizes]


def cut_outs(image: np.ndarray, boxes: Sequence[hng.DigitBox]) -> list[np.ndarray]:
    """Each box's pixels, boxes as given (half-open ranges)."""
    return [image[b.y0 : b.y1, b.x0 : b.x1] for b in boxes]


def box_facts(result: hng.GeneratedNumber) -> list[dict[str, int]]:
    """Facts about each box of one image that need no classifier.

    ``empty``: no ink in the box; ``clipped``: ink in the image's top or bottom row within the box's
    columns; ``cut``: a visible stroke there (at least INK_SHARE of the digit's brightest pixel);
    ``row_mismatch``: the box's rows are not the ink rows of its columns; ``slack``: how many pixels
    (width + height) the box exceeds the visible ink by (faint halos, noise and stray specks widen it).
    """
    image = result.image
    last = image.shape[0] - 1
    facts = []
    for b in result.boxes:
        columns = image[:, b.x0 : b.x1]
        patch = image[b.y0 : b.y1, b.x0 : b.x1]
        if b.x1 <= b.x0 or b.y1 <= b.y0 or not patch.any():
            facts.append({"empty": 1, "clipped": 0, "cut": 0, "row_mismatch": 0, "slack": 0})
            continue
        ink_rows = np.flatnonzero(columns.any(axis=1))
        visible = patch >= INK_SHARE * int(patch.max())
        rows, cols = np.flatnonzero(visible.any(axis=1)), np.flatnonzero(visible.any(axis=0))
        edge = np.concatenate([columns[0], columns[last]])
        facts.append(
            {
                "empty": 0,
                "clipped": int(edge.any()),
                "cut": int((edge >= INK_SHARE * int(patch.max())).any()),
                "row_mismatch": int((int(ink_rows[0]), int(ink_rows[-1]) + 1) != (b.y0, b.y1)),
                "slack": int(b.y1 - b.y0 - (rows[-1] - rows[0] + 1) + b.x1 - b.x0 - (cols[-1] - cols[0] + 1)),
            }
        )
    return facts


def boxes_in_order(result: hng.GeneratedNumber) -> bool:
    """The boxes, left to right without overlap, spell the label."""
    boxes = result.boxes
    spelled = "".join(str(b.digit) for b in boxes) == result.label
    return spelled and all(a.x1 <= b.x0 for a, b in itertools.pairwise(boxes))


def ink_outside_boxes(result: hng.GeneratedNumber) -> tuple[int, int]:
    """(ink in no box, all ink), summed pixel values."""
    covered = np.zeros(result.image.shape, dtype=bool)
    for b in result.boxes:
        covered[b.y0 : b.y1, b.x0 : b.x1] = True
    image = result.image.astype(np.int64)
    return int(image[~covered].sum()), int(image.sum())


def _generate_cell(
    generator: hng.Generator,
    numbers: list[str],
    seeds: list[int],
    preset: str,
    width: float | int | None,
    natural: list[int],
    batch_seed: int,
) -> list[hng.GeneratedNumber]:
    if isinstance(width, int):
        batch = generator.generate_batch(
            numbers, image_width=width, augment=preset, seed=batch_seed, split="test"
        )
        return [batch[i] for i in range(len(batch))]
    results = []
    for number, seed, natural_width in zip(numbers, seeds, natural, strict=True):
        image_width = None if width is None else max(1, round(natural_width * width))
        results.append(
            generator.generate(number, image_width=image_width, augment=preset, seed=seed, split="test")
        )
    return results


class _Reader:
    """The robust classifier (the figures that count) and the plain one (crop to every non-zero pixel)."""

    def __init__(self, data: hng.MnistData, n_train: int, seed_sequence: np.random.SeedSequence) -> None:
        # Both fitted on the same training digits.
        self.classifiers = {
            robust: fit_classifier(data.train, n_train, seed_sequence, robust=robust)
            for robust in (True, False)
        }

    def read(self, patches: Sequence[np.ndarray], *, robust: bool = True) -> np.ndarray:
        """The digit read from each patch; -1 for a blank one."""
        return self.classifiers[robust].read(patches)


def _accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float((predicted == truth).mean()) if len(truth) else float("nan")


def measure_readability(
    generator: hng.Generator | None = None,
    *,
    presets: Sequence[str] = ("none", "mild", "strong"),
    widths: Sequence[tuple[str, float | int | None]] = DEFAULT_WIDTHS,
    n_numbers: int = 1000,
    lengths: tuple[int, int] = (2, 7),
    n_train: int = 10_000,
    n_baseline: int = 5_000,
    seed: int = 0,
    keep_errors: int = 0,
) -> dict:
    """Classifier accuracy on generated digits cut out by their boxes, per preset and width.

    ``n_numbers`` numbers of ``lengths`` digits (uniform) are drawn from the test split, each with its
    own seed, so every preset and width uses the same MNIST samples (the draws do not depend on them)
    and the widths of one preset also share each digit's augmentation. Everything follows from ``seed``.

    Returns a dict with the set-up (``n_train``, ``n_numbers``, ``n_digits``, ``seed``...), ``seconds``,
    ``baseline`` and ``paired`` (``n``, ``accuracy``, ``accuracy_plain``) and ``results[preset][width]``:
    ``n_images``, ``n_digits``, ``accuracy`` (robust reading), ``accuracy_plain`` (plain reading),
    ``numbers_read`` (share of images whose every digit the robust reading gets right),
    ``per_digit`` (robust accuracy of each digit 0-9), ``accuracy_clipped`` (robust, on clipped boxes),
    ``empty``, ``clipped``, ``cut``, ``row_mismatch`` (counts of boxes), ``clipped_rate``, ``cut_rate``,
    ``mean_slack`` (pixels), ``order_errors`` (images whose boxes do not spell the label left to right),
    ``outside`` (share of the ink in no box), ``mean_width`` and, with ``keep_errors``, up to that many
    ``errors``: (cut-out, true digit, digit read, label, seed).
    """
    started = time.perf_counter()
    generator = hng.default_generator() if generator is None else generator
    data = generator.data
    train_seq, baseline_seq, number_seq = np.random.SeedSequence(seed).spawn(3)
    reader = _Reader(data, n_train, train_seq)

    def score(patches: Sequence[np.ndarray], truth: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        predicted = reader.read(patches)
        plain = reader.read(patches, robust=False)
        return predicted, {"accuracy": _accuracy(predicted, truth), "accuracy_plain": _accuracy(plain, truth)}

    picks = np.random.default_rng(baseline_seq).choice(
        len(data.test), size=min(n_baseline, len(data.test)), replace=False
    )
    _, figures = score([data.test.images[i] for i in picks], data.test.labels[picks].astype(np.int64))
    report: dict = {
        "seed": seed,
        "n_train": len(reader.classifiers[True].labels),
        "classifier": (
            f"{K}-NN by cosine similarity; ink (>= {INK_SHARE:.0%} of the brightest pixel) cropped, "
            f"deskewed, resized to {SIZE}x{SIZE}, padded to {SIZE + 2 * PAD}, blurred (sigma {BLUR_SIGMA})"
        ),
        "baseline": {"n": len(picks), **figures},
    }

    number_rng = np.random.default_rng(number_seq)
    numbers = random_numbers(n_numbers, lengths, number_rng)
    seeds = [int(s) for s in number_rng.integers(0, 2**53, size=n_numbers)]
    batch_seed = int(number_rng.integers(0, 2**53))
    report.update(n_numbers=n_numbers, lengths=lengths, n_digits=sum(map(len, numbers)))

    results: dict[str, dict[str, dict]] = {}
    for preset in presets:
        natural = [
            generator.generate(number, augment=preset, seed=s, split="test").width
            for number, s in zip(numbers, seeds, strict=True)
        ]
        results[preset] = {}
        for width_name, width in widths:
            generated = _generate_cell(generator, numbers, seeds, preset, width, natural, batch_seed)
            truth = np.array([int(c) for r in generated for c in r.label], dtype=np.int64)
            if "paired" not in report and not isinstance(width, int):
                # The raw MNIST samples behind these numbers: the same for every preset and width.
                indices = [k for r in generated for k in r.indices]
                _, figures = score([data.test.images[k] for k in indices], truth)
                report["paired"] = {"n": len(indices), **figures}
            patches = [p for r in generated for p in cut_outs(r.image, r.boxes)]
            predicted, figures = score(patches, truth)
            facts = [f for r in generated for f in box_facts(r)]
            totals = {key: sum(f[key] for f in facts) for key in facts[0]}
            clipped = np.array([f["clipped"] for f in facts], dtype=bool)
            outside, ink = np.sum([ink_outside_boxes(r) for r in generated], axis=0)
            per_image = np.split(predicted == truth, np.cumsum([len(r.label) for r in generated])[:-1])
            cell = {
                "n_images": len(generated),
                "n_digits": len(truth),
                **figures,
                "numbers_read": float(np.mean([bool(ok.all()) for ok in per_image])),
                "per_digit": [_accuracy(predicted[truth == d], truth[truth == d]) for d in range(10)],
                "accuracy_clipped": _accuracy(predicted[clipped], truth[clipped]),
                **{key: int(totals[key]) for key in ("empty", "clipped", "cut", "row_mismatch")},
                "clipped_rate": totals["clipped"] / len(truth),
                "cut_rate": totals["cut"] / len(truth),
                "mean_slack": totals["slack"] / len(truth),
                "order_errors": sum(not boxes_in_order(r) for r in generated),
                "outside": float(outside / max(ink, 1)),
                "mean_width": float(np.mean([r.width for r in generated])),
            }
            if keep_errors:
                owners = [(r.label, r.seed) for r in generated for _ in r.label]
                cell["errors"] = [
                    (patches[i], int(truth[i]), int(predicted[i]), *owners[i])
                    for i in np.flatnonzero(predicted != truth)[:keep_errors]
                ]
            results[preset][width_name] = cell
    report["results"] = results
    report["seconds"] = time.perf_counter() - started
    return report


def format_report(report: dict) -> str:
    """The figures as a text table."""
    baseline = report["baseline"]
    lines = [
        f"classifier: {report['classifier']}",
        f"fitted on {report['n_train']} MNIST train digits; 'plain' reads crops of every non-zero pixel, "
        "not deskewed",
        f"baseline, raw MNIST test digits: {baseline['accuracy']:.4f} "
        f"(plain {baseline['accuracy_plain']:.4f}) on {baseline['n']}",
    ]
    if "paired" in report:
        paired = report["paired"]
        lines.append(
            f"paired baseline, the test samples the numbers below use: {paired['accuracy']:.4f} "
            f"(plain {paired['accuracy_plain']:.4f}) on {paired['n']}"
        )
    lines.append(
        f"{report['n_numbers']} numbers of {report['lengths'][0]}-{report['lengths'][1]} digits "
        f"({report['n_digits']} digits) from the test split, seed {report['seed']}"
    )
    columns = (
        f"{'preset':<7} {'width':<10} {'mean w':>6} {'digits':>6} {'accuracy':>8} {'plain':>6} "
        f"{'numbers':>7} {'clipped':>7} {'cut':>6} {'acc|clip':>8} {'empty':>5} {'rows':>4} {'order':>5} "
        f"{'outside':>7} {'slack':>5}"
    )
    lines += ["", columns, "-" * len(columns)]
    for preset, cells in report["results"].items():
        for width_name, c in cells.items():
            lines.append(
                f"{preset:<7} {width_name:<10} {c['mean_width']:>6.1f} {c['n_digits']:>6} "
                f"{c['accuracy']:>8.4f} {c['accuracy_plain']:>6.3f} {c['numbers_read']:>7.3f} "
                f"{c['clipped_rate']:>7.2%} {c['cut_rate']:>6.2%} {c['accuracy_clipped']:>8.3f} "
                f"{c['empty']:>5} {c['row_mismatch']:>4} {c['order_errors']:>5} {c['outside']:>7.3%} "
                f"{c['mean_slack']:>5.2f}"
            )
    lines += [
        "",
        "accuracy: robust reading; plain: the plain reading; numbers: images read right in every digit;",
        "clipped: ink in the top or bottom row; cut: a visible stroke there; acc|clip: accuracy on clipped "
        "boxes;",
        "rows: boxes whose rows are not their columns' ink rows; order: images whose boxes do not spell the "
        "label;",
        "outside: share of the ink in no box; slack: mean pixels (w + h) a box exceeds the visible ink by",
        "",
        "per-digit accuracy, natural width:",
        f"{'preset':<7} " + " ".join(f"{d:>6}" for d in range(10)),
    ]
    for preset, cells in report["results"].items():
        per_digit = next(iter(cells.values()))["per_digit"]
        lines.append(f"{preset:<7} " + " ".join(f"{a:>6.3f}" for a in per_digit))
    lines.append(f"\n{report['seconds']:.1f} s")
    return "\n".join(lines)


def save_examples(report: dict, out: Path, per_row: int = 20) -> list[Path]:
    """A montage PNG of the misread cut-outs of each cell (scaled ×3), and their true -> read digits."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for preset, cells in report["results"].items():
        for width_name, cell in cells.items():
            errors = cell.get("errors") or []
            if not errors:
                continue
            tile_width = max(patch.shape[1] for patch, *_ in errors) + 2
            tiles = []
            for patch, *_ in errors:
                tile = np.zeros((30, tile_width), np.uint8)
                tile[1 : 1 + patch.shape[0], 1 : 1 + patch.shape[1]] = patch
                tiles.append(tile)
            tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % per_row)
            rows = [np.hstack(tiles[i : i + per_row]) for i in range(0, len(tiles), per_row)]
            montage = cv2.resize(np.vstack(rows), None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
            path = out / f"errors_{preset}_{width_name}.png"
            cv2.imwrite(str(path), montage)
            written.append(path)
            print(f"{path}: " + " ".join(f"{true}->{read}" for _, true, read, *_ in errors))
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1000, help="numbers per preset and width")
    parser.add_argument("--train", type=int, default=10_000, help="train digits the classifier is fitted on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=Path, help="write montages of misread cut-outs to this directory")
    args = parser.parse_args(argv)
    report = measure_readability(
        n_numbers=args.numbers, n_train=args.train, seed=args.seed, keep_errors=60 if args.examples else 0
    )
    print(format_report(report))
    if args.examples:
        save_examples(report, args.examples)


if __name__ == "__main__":
    main()
