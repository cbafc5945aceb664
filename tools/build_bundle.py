"""Build build/bundle/: exactly what the generator function's container image holds, without Docker.

    build/bundle/task/  -> ${LAMBDA_TASK_ROOT} (/var/task): requirements.txt installed for CPython 3.12 on
                           Linux x86_64 or arm64 (the Lambda python:3.12 base image: Amazon Linux 2023,
                           glibc 2.34), plus copies of hng/ and functions/ (no caches, no tests), and
                           .bundle-arch, the architecture the wheels are for (the Dockerfile checks it)
    build/bundle/opt/   -> /opt: the layer content, layers/mnist/ (so opt/mnist/mnist.npz)

functions/api/Dockerfile only copies these two folders into the base image, so the image's content can be
built and tested on a machine without Docker (tests/deploy/test_bundle.py runs the handler from it).

    python tools/build_bundle.py [--arch x86_64|arm64] [--out build/bundle] [--force]
    python tools/build_bundle.py --check [--arch x86_64|arm64]   # exit 1 unless the bundle is for that arch

--arch is the template's Architecture parameter (default x86_64; arm64 for AWS Graviton). The dependency
install (about 100 MB of wheels) is redone only when requirements.txt or the target platform changes,
switching architectures included: a stamp file records their hash and the architecture. hng/, functions/
and opt/ are synced on every run (a second or less). Sizes are printed in MB of 10^6 bytes, summed over the
files (unpacked).
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
ARCH_MARKER = ".bundle-arch"  # in task/, so the image holds it too
BUNDLE_FORMAT = 1  # bump when the bundle's layout or the install recipe changes

# Wheels are picked for the image, not for this machine: CPython 3.12 with glibc 2.34 (Amazon Linux 2023,
# the same on both architectures). pip takes only the exact platform tags it is given, so every manylinux
# tag that glibc 2.34 can run is listed, newest first (numpy 2.3+ ships manylinux_2_28 wheels only, which
# manylinux2014 alone would miss), down to the oldest that exists for the machine, as the `packaging`
# library's own manylinux tags go: glibc 2.5 (manylinux1) on x86_64, 2.17 (manylinux2014) on aarch64.
PYTHON_VERSION = "3.12"
ABI = "cp312"
GLIBC_MINOR = 34
ARCHITECTURES = ("x86_64", "arm64")  # Lambda's names, as in the template's Architecture parameter
DEFAULT_ARCH = "x86_64"
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}  # what wheel tags (and uname -m) call them
OLDEST_GLIBC_MINOR = {"x86_64": 5, "arm64": 17}
LEGACY_MANYLINUX = {"x86_64": ("manylinux2014", "manylinux2010", "manylinux1"), "arm64": ("manylinux2014",)}
IGNORED_IN_CODE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "tests", "*.egg-info", ".*")


class BundleError(RuntimeError):
    """The bundle cannot be built (or is not for the architecture asked); the message says what to do."""


def check_arch(arch: str) -> str:
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
    return arch


def platforms(arch: str = DEFAULT_ARCH) -> tuple[str, ...]:
    """The manylinux platform tags pip may pick wheels for, for the image of `arch`, newest first."""
    machine = MACHINES[check_arch(arch)]
    newest_first = range(GLIBC_MINOR, OLDEST_GLIBC_MINOR[arch] - 1, -1)
    return (
        *(f"manylinux_2_{minor}_{machine}" for minor in newest_first),
        *(f"{legacy}_{machine}" for legacy in LEGACY_MANYLINUX[arch]),
    )


@dataclass(frozen=True)
class Size:
    bytes: int
    files: int

    @property
    def mb(self) -> float:
        return self.bytes / 1e6


def pip_install_args(requirements: Path, target: Path, arch: str = DEFAULT_ARCH) -> list[str]:
    """pip's arguments that install `requirements` into `target` for the image of `arch` (wheels only)."""
    platform_args = [arg for platform in platforms(arch) for arg in ("--platform", platform)]
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


def deps_fingerprint(requirements: Path, arch: str = DEFAULT_ARCH) -> str:
    recipe = json.dumps([BUNDLE_FORMAT, PYTHON_VERSION, ABI, platforms(arch)])
    return hashlib.sha256(requirements.read_bytes() + recipe.encode()).hexdigest()


def read_stamp(out: Path) -> dict[str, str]:
    try:
        return json.loads((out / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}


def write_stamp(out: Path, fingerprint: str, arch: str) -> None:
    (out / STAMP_NAME).write_text(json.dumps({"deps": fingerprint, "arch": arch}, indent=2) + "\n")


def bundle_arch(out: Path) -> str | None:
    """The architecture the bundle in `out` holds wheels for; None without a complete bundle."""
    stamp = read_stamp(out).get("arch")
    try:
        marker = (out / "task" / ARCH_MARKER).read_text().strip()
    except OSError:
        return None
    return marker if marker == stamp else None


def require_arch(out: Path, arch: str) -> None:
    """Raise BundleError unless `out` holds a complete bundle for `arch`."""
    held = bundle_arch(out)
    if held is None:
        raise BundleError(f"{out} holds no complete bundle: build it with `make bundle ARCH={arch}`")
    if held != arch:
        raise BundleError(f"{out} holds {held} wheels, not {arch}: rebuild it with `make bundle ARCH={arch}`")


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


def install_dependencies(requirements: Path, task: Path, arch: str = DEFAULT_ARCH) -> None:
    partial = task.with_name(task.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    target = f"CPython {PYTHON_VERSION}, manylinux {MACHINES[arch]}"
    print(f"bundle: installing {requirements.name} for {target}", flush=True)
    command = [sys.executable, "-m", "pip", *pip_install_args(requirements, partial, arch)]
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


def mirror(source: Path, dest: Path, exclude: frozenset[str] = frozenset()) -> None:
    """Make `dest` a copy of `source` (but the relative paths in `exclude`): copy new or changed files (size
    or mtime), delete the rest."""
    wanted = set()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        hidden = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
        if hidden or not path.is_file() or relative.as_posix() in exclude:
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


def build_bundle(
    root: Path = ROOT, out: Path = DEFAULT_OUT, force: bool = False, arch: str = DEFAULT_ARCH
) -> dict[str, Size]:
    """Build or update the bundle for `arch`; return the sizes of task/ and opt/."""
    check_arch(arch)
    requirements = root / "requirements.txt"
    if not (root / MNIST_RELPATH).is_file():
        raise BundleError(
            f"{MNIST_RELPATH} is missing: build the MNIST data first with `make setup` (or `hng data fetch`)"
        )
    if not requirements.is_file():
        raise BundleError(f"{requirements} is missing")
    out.mkdir(parents=True, exist_ok=True)
    task = out / "task"
    fingerprint = deps_fingerprint(requirements, arch)
    if force or not task.is_dir() or read_stamp(out).get("deps") != fingerprint:
        (out / STAMP_NAME).unlink(missing_ok=True)
        install_dependencies(requirements, task, arch)
        write_stamp(out, fingerprint, arch)  # the marker below completes the bundle
    else:
        print(f"bundle: dependencies up to date ({arch})", flush=True)
    remove_bytecode(task)
    sync_code(root, task)
    (task / ARCH_MARKER).write_text(arch + "\n")
    write_stamp(out, fingerprint, arch)  # stamps of older builds lack the architecture
    mirror(root / LAYER_RELPATH, out / "opt", exclude=frozenset({"README.md"}))
    for tree in (task, out / "opt"):
        make_readable(tree)
    return {"task": tree_size(task), "opt": tree_size(out / "opt")}


def report(out: Path, sizes: dict[str, Size], arch: str = DEFAULT_ARCH) -> str:
    lines = [f"bundle: {out} for {arch} (unpacked, MB = 10^6 bytes)"]
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
    parser.add_argument(
        "--arch",
        choices=ARCHITECTURES,
        default=DEFAULT_ARCH,
        help="the functions' architecture, whose wheels to install (default: x86_64)",
    )
    parser.add_argument(
        "--check", action="store_true", help="build nothing; exit 1 unless the bundle is whole and for --arch"
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    try:
        if args.check:
            require_arch(out, args.arch)
            print(f"bundle: {out} holds {args.arch} wheels")
            return 0
        sizes = build_bundle(ROOT, out, force=args.force, arch=args.arch)
    except BundleError as error:
        print(f"bundle: error: {error}", file=sys.stderr)
        return 1
    print(report(out, sizes, args.arch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
