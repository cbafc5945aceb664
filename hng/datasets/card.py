"""The dataset card (README.md) of a generated dataset, in the Hugging Face Hub's format.

It is rendered from the manifest alone, so ``hng dataset`` can write it last and anyone can render it
again from ``manifest.json``. The YAML front matter carries what the Hub indexes (licence, task, size)
and, for the formats the Hub can read, the ``configs`` its viewer loads; the body says where the digits
come from, how the dataset was made and how to make it again byte for byte, how to load it, what the
report measured, and lists the shards with their checksums. The YAML is written by hand (PyYAML is not a
dependency of hng); every string in it is a JSON-quoted scalar, which YAML reads as the same string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

LICENSE = "cc-by-sa-3.0"  # MNIST's licence; the generated images are derived from its digits
TASK_CATEGORIES = ("image-to-text",)  # OCR: the image in, its digit string out
TAGS = ("ocr", "mnist", "synthetic", "handwritten-digits")
MAX_LISTED_SHARDS = 20
MNIST_URL = "http://yann.lecun.com/exdb/mnist/"

# The Hub's size buckets (huggingface_hub.DatasetCardData.size_categories): upper bound (exclusive), name.
SIZE_CATEGORIES: tuple[tuple[int | None, str], ...] = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
    (None, "n>1T"),
)

# Default shard file names per format, when the manifest lists no shard to take the pattern from.
_DEFAULT_SHARD_NAMES = {
    "npz": "shard-00000.npz",
    "webdataset": "shard-00000.tar",
    "imagefolder": "shard-00000",
}


def size_category(count: int) -> str:
    """The Hub's size bucket for ``count`` examples: 999 is "n<1K", 1,000 is "1K<n<10K"."""
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    return next(name for bound, name in SIZE_CATEGORIES if bound is None or count < bound)


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is a subset of it)."""
    return json.dumps(value)


def _shard_glob(manifest: Mapping[str, Any]) -> str:
    """The shard names with their index replaced by ``*``: "shard-*.tar" for "shard-00000.tar"."""
    fmt = manifest["spec"]["format"]
    shards = manifest.get("shards") or []
    name = str(shards[0]["name"]) if shards else _DEFAULT_SHARD_NAMES.get(fmt, "shard-00000")
    return re.sub(r"\d+", "*", name.rstrip("/"), count=1)


def _brace_pattern(manifest: Mapping[str, Any]) -> str:
    """webdataset's brace pattern for the shard files: "shard-{00000..00009}.tar"."""
    shards = manifest.get("shards") or []
    if not shards:
        return _shard_glob(manifest)
    first, last = str(shards[0]["name"]), str(shards[-1]["name"])
    match = re.search(r"\d+", first)
    end = re.search(r"\d+", last)
    if match is None or end is None or len(shards) == 1:
        return first
    return f"{first[: match.start()]}{{{match.group()}..{end.group()}}}{first[match.end() :]}"


def hub_data_files(manifest: Mapping[str, Any]) -> str | None:
    """The ``data_files`` pattern the Hub loads, or None for a format it has no loader for (npz)."""
    fmt = manifest["spec"]["format"]
    glob = _shard_glob(manifest)
    if fmt == "webdataset" and glob.endswith(".tar"):
        return glob
    if fmt == "imagefolder":
        # The images and each shard folder's metadata file (imagefolder pairs them by folder).
        return f"{glob}/*"
    return None


def _front_matter(manifest: Mapping[str, Any]) -> list[str]:
    spec = manifest["spec"]
    lines = [
        "---",
        f"license: {LICENSE}",
        "task_categories:",
        *(f"- {task}" for task in TASK_CATEGORIES),
        "tags:",
        *(f"- {tag}" for tag in TAGS),
        "size_categories:",
        f"- {_q(size_category(int(manifest['images'])))}",
        f"pretty_name: {_q(_title(manifest))}",
    ]
    data_files = hub_data_files(manifest)
    if data_files is not None:
        lines += [
            "configs:",
            "- config_name: default",
            "  data_files:",
            f"  - split: {_q(str(spec['split']))}",
            f"    path: {_q(data_files)}",
        ]
    return [*lines, "---"]


def _digits_phrase(spec: Mapping[str, Any]) -> str:
    if spec.get("numbers"):
        return "listed numbers"
    digits = spec.get("digits")
    if isinstance(digits, list | tuple) and len(digits) == 2:
        low, high = digits
        return f"{low} digits" if low == high else f"{low}-{high} digits"
    return "numbers"


def _title(manifest: Mapping[str, Any]) -> str:
    spec = manifest["spec"]
    return f"hng handwritten numbers: {int(manifest['images']):,} images of {_digits_phrase(spec)}"


def _value(value: Any) -> str:
    """A spec value as inline code, in JSON spelling (null, true, [3, 8])."""
    return f"`{json.dumps(value)}`"


def _count(value: Any) -> str:
    return f"{int(value):,}" if value is not None else "—"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def _histogram(title: str, key_name: str, count_name: str, counts: Mapping[str, int]) -> list[str]:
    total = sum(int(v) for v in counts.values())
    rows = sorted(counts.items(), key=lambda item: int(item[0]))
    return [
        f"{title}:",
        "",
        f"| {key_name} | {count_name} | share |",
        "| ---: | ---: | ---: |",
        *(f"| {key} | {int(count):,} | {_share(int(count), total)} |" for key, count in rows),
        "",
    ]


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _loading(manifest: Mapping[str, Any]) -> list[str]:
    from hng.datasets.formats import get_format, image_phrase, spec_image_kind

    spec = manifest["spec"]
    fmt = spec["format"]
    split = str(spec["split"])
    shards = manifest.get("shards") or []
    first = str(shards[0]["name"]) if shards else _DEFAULT_SHARD_NAMES.get(fmt, "shard-00000")
    kind = spec_image_kind(spec)
    phrase = image_phrase(spec)
    lines = ["## Loading", ""]
    if fmt == "npz":
        shape = f"(N, {kind.height}, W)" if kind.channels == 1 else f"(N, {kind.height}, W, 3) RGB"
        lines += [
            f"Each shard is a numpy `.npz` of arrays: `images` {shape} uint8, zero-padded past each "
            "image's `widths[i]`; `labels`; `lengths`; `boxes` (N, L, 4) x0, y0, x1, y1 with -1 past a "
            "label's length; `seeds`; `indices` (the MNIST samples). With numpy:",
            "",
            "```python",
            "import numpy as np",
            f'shard = np.load("{first}", allow_pickle=False)',
            'image, label = shard["images"][0, :, : shard["widths"][0]], str(shard["labels"][0])',
            "```",
            "",
            "The Hugging Face `datasets` library has no loader for `.npz` files.",
        ]
    elif fmt == "webdataset":
        member = kind.suffix.lstrip(".")
        decoder = "l8" if kind.channels == 1 else "rgb8"
        lines += [
            "Each shard is a tar of three members per image, named by its 9-digit key: "
            f"`KEY.{member}` ({phrase}), `KEY.json` (key, label, width, boxes, seed, MNIST indices, split) "
            "and `KEY.txt` (the label). With `webdataset`:",
            "",
            "```python",
            "import webdataset as wds",
            f'dataset = wds.WebDataset("{_brace_pattern(manifest)}", shardshuffle=False)'
            f'.decode("{decoder}").to_tuple("{member}", "json")',
            "```",
            "",
            "With Hugging Face `datasets` (the folder, or the Hub repository it was uploaded to; columns "
            f"`{member}`, `json`, `txt`, `__key__`, `__url__`):",
            "",
            "```python",
            "from datasets import load_dataset",
            f'dataset = load_dataset("path/to/dataset", split="{split}")',
            "```",
        ]
    elif fmt == "imagefolder":
        lines += [
            f"Each shard is a folder of `KEY{kind.suffix}` files ({phrase}, named by a 9-digit key) with "
            "a `metadata.jsonl` (file name, key, label, width, boxes, seed, MNIST indices, split per image). "
            "With Hugging Face `datasets` (the folder, or the Hub repository it was uploaded to):",
            "",
            "```python",
            "from datasets import load_dataset",
            f'dataset = load_dataset("path/to/dataset", split="{split}")',
            "```",
            "",
            "Shards may load in any order (rows within a shard keep theirs): sort by `key` for the "
            "dataset's order.",
        ]
    else:
        lines += get_format(fmt).card_lines(manifest)
    if spec.get("masks") and not get_format(fmt).uses_masks:  # coco's masks are its RLEs, described above
        lines += [
            "",
            "Masks (`--masks`): one per image, 8-bit grey (lossless PNG files in the formats that store "
            "files), 0 for the background and k for the pixels of the k-th digit (1-based, left to right); "
            "each digit's box is the bounding box of its label.",
        ]
    return [*lines, ""]


def _report(manifest: Mapping[str, Any]) -> list[str]:
    report = manifest.get("report") or {}
    lines = ["## Report", ""]
    seconds, rate = report.get("seconds"), report.get("images_per_second")
    timing = (
        f"in {seconds:.1f} s ({rate:,.0f} images/s)"
        if seconds is not None and rate is not None
        else "(time not measured: the dataset was finalized from shards made elsewhere)"
    )
    if seconds is not None and report.get("workers"):
        timing += f" with {int(report['workers'])} worker{'s' if int(report['workers']) > 1 else ''}"
    lines += [
        f"{_count(report.get('images', manifest['images']))} images in "
        f"{_count(report.get('shards', len(manifest.get('shards') or [])))} shards, made {timing}.",
        "",
    ]
    if report.get("label_lengths"):
        lines += _histogram("Label lengths", "digits", "images", report["label_lengths"])
    if report.get("digits"):
        lines += _histogram("Digits (every digit of every label)", "digit", "count", report["digits"])
    if report.get("duplicates") is not None:
        lines += [f"Duplicate images: {int(report['duplicates']):,}.", ""]
    fidelity = report.get("fidelity")
    if fidelity:
        sample = fidelity.get("sample_images")
        where = f" in {int(sample):,} sampled images" if sample is not None else ""
        other = "test" if manifest["spec"]["split"] == "train" else "train"
        lines += [
            f"Label fidelity: each digit{where} is cut out by its box and read by a 3-nearest-neighbour "
            f"classifier fitted on MNIST {other} digits (the split this dataset does not use, so it never "
            f"saw these samples). Of {int(fidelity['digits']):,} digits, "
            f"**{fidelity['read_as_label']:.1%}** read as their label; "
            f"**{fidelity['numbers_read']:.1%}** of the images read right in every digit; "
            f"{int(fidelity.get('blank_boxes', 0)):,} boxes held no ink. For reference, the classifier "
            "reads 97% of raw MNIST digits it was not fitted on.",
            "",
        ]
        per_digit = fidelity.get("per_digit") or {}
        if per_digit:
            keys = sorted(per_digit, key=int)
            lines += [
                "| digit | " + " | ".join(keys) + " |",
                "| --- |" + " ---: |" * len(keys),
                "| read as label | " + " | ".join(f"{per_digit[k]:.1%}" for k in keys) + " |",
                "",
            ]
    sheet = report.get("contact_sheet")
    if sheet:
        lines += [f"![contact sheet]({sheet})", ""]
    return lines


def _shards(manifest: Mapping[str, Any]) -> list[str]:
    shards = manifest.get("shards") or []
    lines = [
        "## Files",
        "",
        "`manifest.json` records the spec, the command, the report and every shard with its sha256.",
        "",
        "| # | file | images | bytes | sha256 |",
        "| ---: | --- | ---: | ---: | --- |",
    ]
    for shard in shards[:MAX_LISTED_SHARDS]:
        lines.append(
            f"| {int(shard['index'])} | `{shard['name']}` | {int(shard['images']):,} | "
            f"{_count(shard.get('bytes'))} | `{shard['sha256']}` |"
        )
    if len(shards) > MAX_LISTED_SHARDS:
        lines += ["", f"... {len(shards) - MAX_LISTED_SHARDS:,} more in manifest.json"]
    return [*lines, ""]


def _look(spec: Mapping[str, Any]) -> str:
    """The end of the card's first sentence: the images' height, ink and pixels as its spec says."""
    from hng.datasets.formats import spec_image_kind

    kind = spec_image_kind(spec)
    style = str(spec.get("style") or "mnist")
    if style == "mnist" and kind.channels == 1:
        ink = "White ink on black"
    elif style == "mnist":
        ink = "White ink on black, stored as RGB"
    elif style == "background":
        ink = "Style `background`: ink on crops of the user's background images"
    else:
        ink = f"Style `{style}`: ink on paper"
    pixels = "8-bit grey" if kind.channels == 1 else "8-bit RGB"
    return f" (height {kind.height}). {ink}, {pixels}"


def render_card(manifest: Mapping[str, Any]) -> str:
    """The dataset's README.md: YAML front matter for the Hub, then the card in Markdown."""
    spec = manifest["spec"]
    mnist = manifest.get("mnist") or {}
    command = str(manifest["command"])
    fence = _fence(command)
    lines = [
        *_front_matter(manifest),
        "",
        f"# {_title(manifest)}",
        "",
        f"Images of handwritten numbers, each composed from real MNIST digits by hng "
        f"{manifest.get('hng_version', '')}: a real MNIST sample for every digit, cropped to its ink, "
        f"laid side by side with random gaps and resized to the image width{_look(spec)}. Every image "
        "comes with its label (the digit string) and a box per digit, for training and testing OCR and "
        "digit-sequence models.",
        "",
        f"Created {manifest.get('created_at', '—')} "
        f"(manifest version {manifest.get('manifest_version', '—')}).",
        "",
        "## Source data",
        "",
        f"The digits are the MNIST database of handwritten digits ({MNIST_URL}) by Yann LeCun, Corinna "
        "Cortes and Christopher J. C. Burges, licensed under CC BY-SA 3.0; this dataset, derived from it, "
        "is under the same licence.",
        "",
        f"- MNIST split used: `{mnist.get('split', spec.get('split'))}`",
        f"- MNIST file (Keras layout `mnist.npz`, as `hng data fetch` builds it), sha256: "
        f"`{mnist.get('sha256', '—')}`",
        "",
        "## How it was made",
        "",
        "| setting | value |",
        "| --- | --- |",
        *(f"| `{key}` | {_value(value)} |" for key, value in spec.items()),
        "",
        "This command, with the same hng version and MNIST file and `--out` pointed at a new folder, makes "
        "the dataset again byte for byte (run as printed, it finds this dataset and only checks it):",
        "",
        f"{fence}bash",
        command,
        fence,
        "",
        *_loading(manifest),
        *_report(manifest),
        *_shards(manifest),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
