"""The scanners people run on a SAM application: checkov on template.yaml, bandit on hng/ and functions/.

Each runs from its own virtual environment (`make scanners`: .venv-checkov, .venv-bandit; without them
these tests skip locally and fail in CI). Every finding is fixed or skipped where it stands with its
reason, so a new resource or call that fails a check fails here: each scanner is also shown a file
that breaks its rules, to prove it is really looking.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.scanners

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
BANDIT = REPO / ".venv-bandit" / "bin" / "bandit"
CODE = ("hng", "functions")
NOSEC = re.compile(r"#\s*nosec\b(.*)$")
REASON = re.compile(r"^\s*# Security \((B\d{3}(?:, B\d{3})*)\): \S.{10,}$")


def tool(path: Path) -> Path:
    if not path.is_file():
        what = f"{path.name} is not installed in {path.parent.parent.name}"
        if os.environ.get("CI"):
            pytest.fail(f"{what} (required in CI; `make scanners` installs it)")
        pytest.skip(f"{what}; `make scanners` installs it")
    return path


def checkov(template: Path) -> dict:
    completed = subprocess.run(
        [str(tool(CHECKOV)), "-f", str(template), "--framework", "cloudformation", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.stdout.strip(), completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    return report[0] if isinstance(report, list) else report


def bandit(*paths: str | Path, cwd: Path = REPO) -> dict:
    completed = subprocess.run(
        [str(tool(BANDIT)), "-r", *map(str, paths), "-f", "json", "-q"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    return json.loads(completed.stdout)


def test_checkov_passes_the_template_and_every_skip_says_why():
    report = checkov(REPO / "template.yaml")
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["parsing_errors"] == 0 and summary["passed"] > 0
    for check in report["results"]["skipped_checks"]:
        comment = check.get("check_result", {}).get("suppress_comment", "")
        assert len(comment) >= 40, f"{check['check_id']} on {check['resource']} is skipped without a reason"


def test_checkov_fails_a_resource_that_breaks_its_checks(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  Logs:\n"
        "    Type: AWS::Logs::LogGroup\n"
        "    Properties:\n"
        "      RetentionInDays: 7\n"
    )
    report = checkov(template)
    assert "CKV_AWS_158" in {check["check_id"] for check in report["results"]["failed_checks"]}


def test_bandit_finds_nothing_in_the_code():
    report = bandit(*CODE)
    findings = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]
    ]
    assert not findings, "\n".join(findings)
    assert not report["errors"], report["errors"]


def test_every_nosec_names_its_tests_under_a_comment_that_says_why():
    for path in sorted(p for folder in CODE for p in (REPO / folder).rglob("*.py")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            found = NOSEC.search(line)
            if found is None:
                continue
            where = f"{path.relative_to(REPO)}:{number}"
            ids = found.group(1).split()
            assert ids and all(re.fullmatch(r"B\d{3},?", i) for i in ids), f"{where}: nosec names no test id"
            reason = REASON.match(lines[number - 2]) if number > 1 else None
            assert reason, f"{where}: the line above must say `# Security (BXXX): why`"
            assert {i.rstrip(",") for i in ids} <= set(reason.group(1).split(", ")), where


def test_bandit_flags_code_that_breaks_its_rules(tmp_path):
    (tmp_path / "unsafe.py").write_text(
        "import subprocess\n\n\ndef run(command):\n    assert command\n"
        "    return subprocess.run(command, shell=True)\n"
    )
    found = {result["test_id"] for result in bandit(tmp_path)["results"]}
    assert {"B101", "B602"} <= found
