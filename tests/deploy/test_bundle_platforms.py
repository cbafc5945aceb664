"""The bundle for both Lambda architectures, `make deploy`'s recipe and the image's architecture check.

- every pinned requirement resolves, for CPython 3.12 on x86_64 and on arm64 (aarch64), to a wheel for
  that platform, with the very pip arguments tools/build_bundle.py installs with, in a dry run (pip reads
  the wheels' metadata from the index, PEP 658, and downloads almost nothing). It needs PyPI: skipped when
  unreachable, failed in CI;
- the bundle records its architecture (stamp and task/.bundle-arch): switching architecture reinstalls,
  `--check` refuses a bundle of the other one (these use a stand-in for pip);
- the Dockerfile's RUN stops the image build when the bundle's wheels are not for the image's platform
  (run here with this machine's Python in place of the image's);
- `make deploy` (dry run, make -n) bundles, builds and deploys for ARCH with the same parameter file for
  sam build and sam deploy, and stops with one line, having done nothing, without Docker on PATH;
- tools/sam_parameters.py writes samconfig.toml's deploy parameter overrides with the architecture, as the
  SAM CLI reads them (needs .venv-sam, `make sam-cli`).
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from tests.support.bundle import load_builder, missing_prerequisite
from tests.support.paths import REPO as ROOT

REQUIREMENTS = ROOT / "requirements.txt"
DOCKERFILE = ROOT / "functions" / "api" / "Dockerfile"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
ARCHES = ("x86_64", "arm64")
# Packages with compiled code: each must resolve to a wheel for the machine, never a pure one.
NATIVE = {"numpy", "scipy", "opencv-python-headless", "pydantic-core", "pyyaml", "simsimd", "stringzilla"}
NETWORK_ERRORS = (
    "NewConnectionError",
    "ConnectTimeout",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Could not fetch URL",
    "ProxyError",
)


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    return load_builder()


# --- every wheel resolves for both architectures -----------------------------------------------------------


INDEX = "https://pypi.org/simple"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def pinned_files(name: str, version: str) -> list[dict[str, Any]]:
    """The files of one release on PyPI, from its simple JSON page (PEP 691), as pip reads it."""
    request = urllib.request.Request(f"{INDEX}/{canonicalize_name(name)}/", headers={"Accept": SIMPLE_JSON})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    wanted = Version(version)
    found = []
    for file in files:
        filename = file["filename"]
        if f"-{wanted}" not in filename and f"-{version}" not in filename:
            continue  # most files: cheaper than parsing every name of thousands of releases
        try:
            parsed = parse_wheel_filename(filename)[1] if filename.endswith(".whl") else None
            parsed = parsed or parse_sdist_filename(filename)[1]
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        if parsed == wanted:
            found.append(file)
    return found


def anchor(file: dict[str, Any]) -> str:
    """A simple-index link (PEP 503) with its PEP 658 metadata hash, so pip reads only the metadata."""
    attributes = {}
    if file.get("requires-python"):
        attributes["data-requires-python"] = file["requires-python"]
    metadata = file.get("core-metadata") or file.get("dist-info-metadata")
    if metadata:
        value = "true" if metadata is True else "sha256=" + metadata["sha256"]
        attributes["data-core-metadata"] = attributes["data-dist-info-metadata"] = value
    if file.get("yanked"):
        attributes["data-yanked"] = "" if file["yanked"] is True else file["yanked"]
    url = file["url"] + "#sha256=" + file["hashes"]["sha256"]
    rendered = "".join(f' {key}="{html.escape(value)}"' for key, value in attributes.items())
    return f'<a href="{html.escape(url)}"{rendered}>{html.escape(file["filename"])}</a>'


@pytest.fixture(scope="module")
def resolutions(builder, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """pip's installation report for each architecture: the bundle's own pip arguments plus --dry-run.

    pip sees only the files of the pinned releases (a find-links page made from PyPI's simple index):
    matching every link of an index page (botocore's: tens of thousands) against the 19-33 platform tags
    takes pip about 20 s of CPU per architecture, for candidates a pinned requirement rules out anyway. An
    unpinned dependency then finds no file at all, so it fails as the bundle's own check would."""
    workdir = tmp_path_factory.mktemp("resolve")
    pins = builder.pinned_requirements(REQUIREMENTS)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            releases = dict(zip(pins, pool.map(lambda pin: pinned_files(*pin), pins.items()), strict=True))
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        missing_prerequisite(f"PyPI is unreachable: {error}")
    page = workdir / "pinned.html"
    links = [anchor(file) for files in releases.values() for file in files]
    page.write_text("<!DOCTYPE html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    running = {}
    for arch in ARCHES:
        report = workdir / f"{arch}.json"
        args = builder.pip_install_args(REQUIREMENTS, workdir / f"target-{arch}", arch)
        extra = ["--dry-run", "--ignore-installed", "--report", str(report), "--no-index"]
        command = [sys.executable, "-m", "pip", *args, *extra, "--find-links", str(page), "--retries", "1"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        running[arch] = (process, report)
    results = {}
    for arch, (process, report) in running.items():
        try:
            _stdout, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail(f"pip's dry run for {arch} did not finish in 600 s")
        if process.returncode != 0:
            if any(marker in stderr for marker in NETWORK_ERRORS):
                missing_prerequisite(f"PyPI is unreachable: {stderr.strip().splitlines()[-1]}")
            pytest.fail(
                f"requirements.txt does not resolve for {arch} (exit {process.returncode}):\n{stderr}"
            )
        results[arch] = json.loads(report.read_text())
    return results


def wheel_platforms(url: str) -> tuple[str, set[str], set[str]]:
    """(canonical name, platform tags, abi tags) of a wheel file's URL."""
    filename = url.rsplit("/", 1)[-1].split("#", 1)[0]
    assert filename.endswith(".whl"), f"{filename} is not a wheel"
    name, _version, _build, tags = parse_wheel_filename(filename)
    return str(name), {tag.platform for tag in tags}, {tag.abi for tag in tags}


@pytest.mark.network  # PyPI's index
@pytest.mark.parametrize("arch", ARCHES)
def test_every_requirement_resolves_to_a_wheel_for_the_architecture(resolutions, builder, arch):
    pins = {
        canonicalize_name(name): version
        for name, version in builder.pinned_requirements(REQUIREMENTS).items()
    }
    installs = resolutions[arch]["install"]
    resolved = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}
    assert resolved == pins  # exactly the pinned set: nothing left out, nothing unpinned pulled in
    allowed = set(builder.platforms(arch))
    native = set()
    for item in installs:
        url = item["download_info"]["url"]
        name, platforms, abis = wheel_platforms(url)  # asserts a wheel: never an sdist to build
        assert abis <= {"cp312", "abi3", "none"}, (url, abis)
        if platforms != {"any"}:
            assert platforms & allowed, f"{url} is for {platforms}, none of {arch}'s platforms"
            native.add(name)
    assert native >= NATIVE, NATIVE - native


@pytest.mark.network  # PyPI's index
def test_the_architectures_resolve_to_different_wheels_of_the_same_versions(resolutions):
    urls = {arch: {item["download_info"]["url"] for item in resolutions[arch]["install"]} for arch in ARCHES}
    native = {arch: {u for u in urls[arch] if not u.endswith("-any.whl")} for arch in ARCHES}
    assert native["x86_64"] and native["arm64"] and not native["x86_64"] & native["arm64"]
    assert all("aarch64" in url and "x86_64" not in url for url in native["arm64"]), native["arm64"]
    assert all("x86_64" in url and "aarch64" not in url for url in native["x86_64"]), native["x86_64"]


def test_platform_tags_of_each_architecture(builder):
    x86 = builder.platforms("x86_64")
    expected_x86 = [f"manylinux_2_{minor}_x86_64" for minor in range(34, 4, -1)]
    assert list(x86) == [*expected_x86, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    arm = builder.platforms("arm64")
    assert list(arm) == [
        *(f"manylinux_2_{minor}_aarch64" for minor in range(34, 16, -1)),
        "manylinux2014_aarch64",
    ]
    assert builder.platforms() == x86  # the default is today's x86_64 bundle
    assert builder.deps_fingerprint(REQUIREMENTS) == builder.deps_fingerprint(REQUIREMENTS, "x86_64")
    assert builder.deps_fingerprint(REQUIREMENTS, "arm64") != builder.deps_fingerprint(REQUIREMENTS)
    with pytest.raises(ValueError, match="arch must be one of x86_64, arm64, not 'aarch64'"):
        builder.platforms("aarch64")


# --- the bundle records its architecture ---------------------------------------------------------------


@pytest.fixture
def fake_root(tmp_path) -> Path:
    """A repository with what build_bundle reads: requirements, the MNIST layer, hng/ and functions/."""
    root = tmp_path / "repo"
    (root / "layers" / "mnist" / "mnist").mkdir(parents=True)
    (root / "layers" / "mnist" / "mnist" / "mnist.npz").write_bytes(b"npz")
    for package in ("hng", "functions"):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    (root / "requirements.txt").write_text("numpy==2.4.6\n")
    return root


@pytest.fixture
def installs(builder, monkeypatch) -> list[str]:
    """Stands in for pip: records the architecture of each install and leaves a wheel's files."""
    calls: list[str] = []

    def install(requirements: Path, task: Path, arch: str = builder.DEFAULT_ARCH) -> None:
        calls.append(arch)
        shutil.rmtree(task, ignore_errors=True)
        (task / "numpy").mkdir(parents=True)
        (task / "numpy" / "machine.txt").write_text(builder.MACHINES[arch])

    monkeypatch.setattr(builder, "install_dependencies", install)
    return calls


def test_switching_architecture_reinstalls_and_the_bundle_records_it(builder, fake_root, installs):
    out = fake_root / "build" / "bundle"
    builder.build_bundle(fake_root, out)
    assert installs == ["x86_64"] and builder.bundle_arch(out) == "x86_64"
    builder.build_bundle(fake_root, out, arch="x86_64")
    assert installs == ["x86_64"]  # up to date
    builder.build_bundle(fake_root, out, arch="arm64")
    assert installs == ["x86_64", "arm64"]
    assert (out / "task" / "numpy" / "machine.txt").read_text() == "aarch64"
    assert (out / "task" / ".bundle-arch").read_text() == "arm64\n"
    assert json.loads((out / ".bundle-stamp.json").read_text())["arch"] == "arm64"
    builder.require_arch(out, "arm64")
    with pytest.raises(
        builder.BundleError, match=r"holds arm64 wheels, not x86_64: .*make bundle ARCH=x86_64"
    ):
        builder.require_arch(out, "x86_64")
    builder.build_bundle(fake_root, out, arch="x86_64")
    assert installs == ["x86_64", "arm64", "x86_64"]
    with pytest.raises(ValueError, match="arch must be one of"):
        builder.build_bundle(fake_root, out, arch="amd64")


def test_a_stamp_from_before_architectures_is_reused_as_x86_64(builder, fake_root, installs):
    out = fake_root / "build" / "bundle"
    builder.build_bundle(fake_root, out)
    (out / ".bundle-stamp.json").write_text(
        json.dumps({"deps": builder.deps_fingerprint(fake_root / "requirements.txt")})
    )
    (out / "task" / ".bundle-arch").unlink()
    assert builder.bundle_arch(out) is None
    builder.build_bundle(fake_root, out)
    assert installs == ["x86_64"] and builder.bundle_arch(out) == "x86_64"


def test_check_refuses_a_bundle_of_the_other_architecture_or_none(builder, fake_root, installs, capsys):
    out = fake_root / "build" / "bundle"
    assert builder.main(["--check", "--arch", "arm64", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"bundle: error: {out} holds no complete bundle: build it with `make bundle ARCH=arm64`"
    )
    builder.build_bundle(fake_root, out)
    capsys.readouterr()
    assert builder.main(["--check", "--arch", "arm64", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds x86_64 wheels, not arm64" in err, err
    assert builder.main(["--check", "--arch", "x86_64", "--out", str(out)]) == 0
    assert installs == ["x86_64"]  # --check builds nothing


# --- the Dockerfile's check ------------------------------------------------------------------------------


def dockerfile_run_command() -> str:
    """The shell command of the Dockerfile's RUN, its line continuations joined as Docker joins them."""
    text = DOCKERFILE.read_text()
    logical = re.sub(r"\\\n", "", "\n".join(line for line in text.splitlines() if not line.startswith("#")))
    runs = [line[len("RUN ") :] for line in logical.splitlines() if line.startswith("RUN ")]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("matches", [True, False])
def test_dockerfile_stops_when_the_bundle_is_for_another_architecture(tmp_path, matches):
    machine = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())
    if machine is None:
        pytest.skip(f"this machine is {platform.machine()}, neither x86_64 nor aarch64")
    other = "arm64" if machine == "x86_64" else "x86_64"
    task = tmp_path / "task"
    task.mkdir()
    (task / "module.py").write_text("VALUE = 1\n")
    (task / ".bundle-arch").write_text((machine if matches else other) + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)  # the image's python3
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "LAMBDA_TASK_ROOT": str(task)}
    result = subprocess.run(
        ["/bin/sh", "-c", dockerfile_run_command()], env=env, capture_output=True, text=True, timeout=120
    )
    assert any(task.rglob("*.pyc"))  # compileall ran first
    if matches:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0
        assert result.stderr.strip() == (
            f"build/bundle holds {other} wheels but the image is {machine}: run make bundle ARCH={machine}, "
            f"or sam build with --parameter-overrides Architecture={other}"
        )


# --- make deploy -----------------------------------------------------------------------------------------


def make(*args: str, path: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    env.pop("ARCH", None)
    env.update({"PATH": path, **(extra_env or {})})
    make_bin = shutil.which("make")
    if make_bin is None:
        missing_prerequisite("make is not installed")
    return subprocess.run(
        [make_bin, "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def path_with_docker(tmp_path: Path) -> str:
    """PATH plus a `docker` that is never run (make -n only prints commands)."""
    fake = tmp_path / "fake-docker"
    fake.mkdir(exist_ok=True)
    (fake / "docker").write_text("#!/bin/sh\necho 'docker must not run' >&2\nexit 1\n")
    (fake / "docker").chmod(0o755)
    return f"{fake}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"


def path_without_docker() -> str:
    """PATH without any folder holding docker or finch."""
    folders = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    kept = [
        folder
        for folder in folders
        if folder and not any(os.access(os.path.join(folder, tool), os.X_OK) for tool in ("docker", "finch"))
    ]
    return os.pathsep.join(kept)


def recipe_lines(output: str) -> list[str]:
    """The commands of `make -n deploy` but those setting up the virtual environments."""
    return [line for line in output.splitlines() if "tools/" in line or "/bin/sam " in line]


@pytest.mark.parametrize("arch", ARCHES)
def test_make_deploy_builds_and_deploys_for_arch_with_one_parameter_file(tmp_path, arch):
    result = make("-n", "deploy", f"ARCH={arch}", "DEPLOY_ARGS=--guided", path=path_with_docker(tmp_path))
    assert result.returncode == 0, result.stderr
    params = "--parameter-overrides file://build/sam-parameters.yaml"
    assert recipe_lines(result.stdout) == [
        f".venv/bin/python tools/build_bundle.py --arch {arch}",
        f".venv/bin/python tools/build_bundle.py --check --arch {arch}",
        f".venv-sam/bin/python tools/sam_parameters.py --arch {arch} --config-env default "
        "--out build/sam-parameters.yaml",
        f"SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam build --config-env default {params}",
        f"SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam deploy --config-env default {params} --guided",
    ]
    assert "AWS_DEFAULT_REGION" not in result.stdout  # deploys go to the user's own region


def test_make_deploy_defaults_to_x86_64_whatever_arch_the_environment_exports(tmp_path):
    result = make("-n", "deploy", path=path_with_docker(tmp_path), extra_env={"ARCH": "amd64"})
    assert result.returncode == 0, result.stderr
    lines = recipe_lines(result.stdout)
    assert lines[0] == ".venv/bin/python tools/build_bundle.py --arch x86_64"
    assert lines[-1].rstrip().endswith(" --parameter-overrides file://build/sam-parameters.yaml")  # no args


def test_make_deploy_without_docker_stops_with_one_line_before_any_work():
    path = path_without_docker()
    assert shutil.which("docker", path=path) is None
    for args in (("deploy",), ("deploy", "ARCH=arm64"), ("-n", "deploy"), ("build-image",)):
        result = make(*args, path=path)
        assert result.returncode != 0
        assert result.stdout == ""  # nothing was run or even printed
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "needs Docker" in lines[0] and "docker is not on PATH" in lines[0], lines


def test_make_rejects_an_unknown_arch_with_one_line(tmp_path):
    for value in ("amd64", "", "x86_64 arm64"):
        result = make("-n", "bundle", f"ARCH={value}", path=path_with_docker(tmp_path))
        assert result.returncode != 0 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "ARCH must be one of: x86_64 arm64" in lines[0], lines


def test_make_bundle_builds_for_arch(tmp_path):
    result = make("-n", "bundle", "ARCH=arm64", path=path_without_docker())  # no Docker needed for a bundle
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == ".venv/bin/python tools/build_bundle.py --arch arm64"


# --- tools/sam_parameters.py -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sam_python() -> Path:
    if not SAM_PYTHON.is_file():
        missing_prerequisite("the SAM CLI is not installed in .venv-sam (`make sam-cli`)")
    return SAM_PYTHON


# Runs in .venv-sam: the parameter overrides `sam build` and `sam deploy` make of a --parameter-overrides
# value (given as JSON: a file:// reference, or samconfig.toml's list).
READ_AS_SAM = r"""
import json, sys
from samcli.cli.types import CfnParameterOverridesType
print(json.dumps(CfnParameterOverridesType().convert(json.loads(sys.argv[1]), None, None)))
"""


def sam_parameters(sam_python: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    command = [str(sam_python), str(ROOT / "tools" / "sam_parameters.py"), *args]
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def read_as_sam(sam_python: Path, value: Path | list[str]) -> dict[str, str]:
    argument = json.dumps([f"file://{value}"] if isinstance(value, Path) else value)
    result = subprocess.run(
        [str(sam_python), "-c", READ_AS_SAM, argument], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_parameter_file_is_samconfigs_overrides_with_the_architecture(sam_python, tmp_path):
    import tomllib

    out = tmp_path / "sam-parameters.yaml"
    result = sam_parameters(sam_python, "--arch", "arm64", "--out", str(out))
    assert result.returncode == 0, result.stderr
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    listed = read_as_sam(sam_python, config["default"]["deploy"]["parameters"]["parameter_overrides"])
    assert listed["Architecture"] == "x86_64" and len(listed) > 1
    assert read_as_sam(sam_python, out) == {**listed, "Architecture": "arm64"}
    assert result.stdout.strip().startswith(f"sam-parameters: {out}: Architecture=arm64 and ")


def test_parameter_file_reads_a_guided_string_and_the_global_section(sam_python, tmp_path):
    (tmp_path / "samconfig.toml").write_text(
        "version = 0.1\n"
        "[default.global.parameters]\n"
        'parameter_overrides = "LogLevel=DEBUG"\n'
        "[prod.global.parameters]\n"
        'parameter_overrides = ["LogLevel=WARNING"]\n'
        "[prod.deploy.parameters]\n"
        'parameter_overrides = "Stage=prod RequireApiKey=true Architecture=x86_64"\n'
    )
    out = tmp_path / "params.yaml"
    result = sam_parameters(
        sam_python, "--arch", "arm64", "--config-env", "prod", "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    # The deploy section's overrides replace the global section's, as the SAM CLI merges them.
    assert read_as_sam(sam_python, out) == {"Stage": "prod", "RequireApiKey": "true", "Architecture": "arm64"}
    result = sam_parameters(sam_python, "--arch", "x86_64", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert read_as_sam(sam_python, out) == {"LogLevel": "DEBUG", "Architecture": "x86_64"}


def test_parameter_file_bad_input_is_one_line_and_exit_2(sam_python, tmp_path):
    out = tmp_path / "params.yaml"
    result = sam_parameters(sam_python, "--arch", "aarch64", "--out", str(out))
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.strip() == (
        "sam-parameters: error: samconfig.toml [default]: arch must be one of x86_64, arm64, not 'aarch64'"
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("version = 0.1\n[default.deploy.parameters\n")
    result = sam_parameters(sam_python, "--arch", "arm64", "--config-file", str(broken), "--out", str(out))
    assert result.returncode == 2 and not out.exists()
    assert len(result.stderr.strip().splitlines()) == 1 and str(broken) in result.stderr, result.stderr
