"""The events page shows exactly the schemas the code and the tests use (docs/aws/other-services.md)."""

from __future__ import annotations

import json
import re

import jsonschema

from hng.service.events import DETAIL_SCHEMAS
from tests.support.paths import REPO

PAGE = REPO / "docs" / "aws" / "other-services.md"


def test_the_page_documents_each_detail_schema_as_the_code_has_it():
    text = PAGE.read_text()
    documented = {}
    for detail_type, block in re.findall(r"### The detail of `([^`]+)`.*?```json\n(.*?)```", text, re.DOTALL):
        documented[detail_type] = json.loads(block)
    assert documented == DETAIL_SCHEMAS
    # The example event is a valid event of its kind.
    example = json.loads(re.search(r"```json\n(\{\n  \"version\".*?)```", text, re.DOTALL).group(1))
    jsonschema.validate(example["detail"], DETAIL_SCHEMAS[example["detail-type"]])
