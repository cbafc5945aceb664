"""The documentation site builds with `mkdocs build --strict`: no broken link between pages, no unknown
anchor, and every `::: hng...` directive of the Python reference rendered from the docstrings.

mkdocstrings reads the code statically (griffe), so this needs the docs extra only, not hng's imports.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import REPO as ROOT


def test_site_builds_strictly_with_the_reference_and_every_section(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "index.html").is_file()
    reference = site / "reference" / "python" / "index.html"
    assert "generate_batch" in reference.read_text(encoding="utf-8")
    assert (site / "aws" / "deploy" / "index.html").is_file()
