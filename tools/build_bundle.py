"""Build build/bundle/: exactly what the generator function's container image holds, without Docker.

    build/bundle/task/  -> ${LAMBDA_TASK_ROOT} (/var/task): requirements.txt installed for CPython 3.12 on
                           x86_64 Linux (the Lambda python:3.12 base image: Amazon Linux 2023, glibc 2.34),
                           plus copies of hng/ and functions/ (no caches, no tests)
    build/bundle/opt/   -> /opt: the layer content, layers/mnist/ (so opt/mnist/mnist.npz)

functions/api/Dockerfile only copies these two folders into the base image, so the image's content can be
built and tested on a machine without Docker (tests/integration/test_bundle.py runs the handler from it).

    python tools/build_bundle.py [--out build/bundle] [--force]

The dependency install (about 100 MB of wheels) is redone only when requirements.txt or the target
platform changes: a stamp file records their hash. hng/, functions/ and opt/ are synced on every run
(a second or less). Sizes are printed in MB of 10^6 bytes, summed over the files (unpacked).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "bundle"
MNIST_RELPATH = Path("layers/mnist/mnist/mnist.npz")
LAYER_RELPATH = Path("layers/mnist")
CODE_PACKAGES = ("hng", "functions")
STAMP_NAME = ".bundle-stamp.json"
BUNDLE_FORMAT = 1  # bump when the bundle's layout or the install recipe changes

# Wheels are picked for the image, not for this machine: CPython 3.12 on x86_64 with glibc 2.34 (Amazon
# Linux 2023). pip takes only the exact platform tags it is given, so every manylinux tag that glibc 2.34
# can run is listed, newest first (numpy 2.3+ ships manylinux_2_28 wheels only, which manylinux2014 alone
# would miss).
PYTHON_VERSION = "3.12"
ABI = "cp312"
GLIBC_MINOR = 34
PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC_MINOR, 4, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
)
IGNORED_IN_CODE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "tests", "*.egg-info", ".*")


class BundleError(RuntimeError):
    """The bundle cannot be built; the message says what to do."""


@dataclass(frozen=True)
class Size:
    bytes: int
    files: int

    @property
    def mb(self) -> float:
        return self.bytes / 1e6


def pip_install_args(requirements: Path, target: Path) -> list[str]:
    platform_args = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        "install",
        "--target",
        str(target),
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--abi",
        ABI,
        *platform_args,
        "--only-binary=:all:",
        "--no-compile",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "--quiet",
        "-r",
        str(requirements),
    ]


def deps_fingerprint(requirements: Path) -> str:
    recipe = json.dumps([BUNDLE_FORMAT, PYTHON_VERSION, ABI, PLATFORMS])
    return hashlib.sha256(requirements.read_bytes() + recipe.encode()).hexdigest()


def read_stamp(out: Path) -> dict[str, str]:
    try:
        return json.loads((out / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}


def write_stamp(out: Path, fingerprint: str) -> None:
    (out / STAMP_NAME).write_text(json.dumps({"deps": fingerprint}, indent=2) + "\n")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(requirements: Path) -> dict[str, str]:
    """{normalized name: version} of the `name==version` lines of a requirements file."""
    pins = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalize(name.split("[", 1)[0])] = version.split(";", 1)[0].strip()
    return pins


def installed_distributions(target: Path) -> dict[str, str]:
    """{normalized name: version} of the *.dist-info folders pip left in `target`."""
    found = {}
    for info in target.glob("*.dist-info"):
        fields = dict(
            line.split(": ", 1) for line in (info / "METADATA").read_text().splitlines() if ": " in line
        )
        if "Name" in fields:
            found[normalize(fields["Name"])] = fields.get("Version", "?")
    return found


def check_fully_pinned(requirements: Path, target: Path) -> None:
    pins = pinned_requirements(requirements)
    unpinned = {name: v for name, v in installed_distributions(target).items() if name not in pins}
    if unpinned:
        lines = ", ".join(f"{name}=={version}" for name, version in sorted(unpinned.items()))
        raise BundleError(
            f"{requirements.name} must pin every package of the image; pip also installed: {lines}. "
            "Add these lines to it."
        )


def install_dependencies(requirements: Path, task: Path) -> None:
    partial = task.with_name(task.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    print(
        f"bundle: installing {requirements.name} for CPython {PYTHON_VERSION}, manylinux x86_64", flush=True
    )
    command = [sys.executable, "-m", "pip", *pip_install_args(requirements, partial)]
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise BundleError(f"pip could not install {requirements} for the image (exit {result.returncode})")
    shutil.rmtree(partial / "bin", ignore_errors=True)  # console scripts, with this machine's shebangs
    check_fully_pinned(requirements, partial)
    clashes = [name for name in CODE_PACKAGES if (partial / name).exists()]
    if clashes:
        raise BundleError(f"a dependency installs a top-level package named {clashes}, which hng's code uses")
    shutil.rmtree(task, ignore_errors=True)
    partial.rename(task)


def sync_code(root: Path, task: Path) -> None:
    for name in CODE_PACKAGES:
        source = root / name
        if not (source / "__init__.py").is_file():
            raise BundleError(f"{source} is not a Python package")
        shutil.rmtree(task / name, ignore_errors=True)
        shutil.copytree(source, task / name, ignore=IGNORED_IN_CODE)


def remove_bytecode(tree: Path) -> None:
    """Drop __pycache__ folders that running Python on the bundle may have written: the image gets none."""
    for cache in sorted(tree.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)


def same_file(source: Path, copy: Path) -> bool:
    """Whether `copy` is an up-to-date copy2 of `source` (same size and modification time)."""
    if not copy.is_file():
        return False
    a, b = source.stat(), copy.stat()
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def mirror(source: Path, dest: Path) -> None:
    """Make `dest` a copy of `source`: copy new or changed files (size or mtime), delete the rest."""
    wanted = set()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        hidden = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
        if hidden or not path.is_file():
            continue
        wanted.add(relative)
        target = dest / relative
        if same_file(path, target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    for path in sorted(dest.rglob("*"), reverse=True):
        relative = path.relative_to(dest)
        if path.is_file() and relative not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def make_readable(tree: Path) -> None:
    """Lambda runs the image as a non-root user: every file must be readable, every folder searchable."""
    for dirpath, _dirs, names in os.walk(tree):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o555)
        for name in names:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode) and mode & 0o444 != 0o444:
                os.chmod(path, mode | 0o444)


def tree_size(tree: Path) -> Size:
    total = files = 0
    for dirpath, _dirs, names in os.walk(tree):
        for name in names:
            total += os.lstat(os.path.join(dirpath, name)).st_size
            files += 1
    return Size(total, files)


def build_bundle(root: Path = ROOT, out: Path = DEFAULT_OUT, force: bool = False) -> dict[str, Size]:
    """Build or update the bundle; return the sizes of task/ and opt/."""
    requirements = root / "requirements.txt"
    if not (root / MNIST_RELPATH).is_file():
        raise BundleError(
            f"{MNIST_RELPATH} is missing: build the MNIST data first with `make setup` (or `hng data fetch`)"
        )
    if not requirements.is_file():
        raise BundleError(f"{requirements} is missing")
    out.mkdir(parents=True, exist_ok=True)
    task = out / "task"
    fingerprint = deps_fingerprint(requirements)
    if force or not task.is_dir() or read_stamp(out).get("deps") != fingerprint:
        (out / STAMP_NAME).unlink(missing_ok=True)
        install_dependencies(requirements, task)
        write_stamp(out, fingerprint)
    else:
        print("bundle: dependencies up to date", flush=True)
    remove_bytecode(task)
    sync_code(root, task)
    mirror(root / LAYER_RELPATH, out / "opt")
    for tree in (task, out / "opt"):
        make_readable(tree)
    return {"task": tree_size(task), "opt": tree_size(out / "opt")}


def report(out: Path, sizes: dict[str, Size]) -> str:
    lines = [f"bundle: {out} (unpacked, MB = 10^6 bytes)"]
    for name, where in (("task", "/var/task"), ("opt", "/opt")):
        size = sizes[name]
        lines.append(f"  {name + '/':6}{size.mb:8.1f} MB  {size.files:6d} files  -> {where}")
    total = sum(size.bytes for size in sizes.values()) / 1e6
    lines.append(f"  {'total':6}{total:8.1f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle folder (default: build/bundle)")
    parser.add_argument("--force", action="store_true", help="reinstall the dependencies even if up to date")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    try:
        sizes = build_bundle(ROOT, out, force=args.force)
    except BundleError as error:
        print(f"bundle: error: {error}", file=sys.stderr)
        return 1
    print(report(out, sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
