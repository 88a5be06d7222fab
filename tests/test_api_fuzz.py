"""Schemathesis fuzzes every route of the app's own OpenAPI spec, against the real app on a loopback port,
with valid and invalid data: no 5xx, and every response matches what the spec declares.

Lite mode is on, so chat routes answer "local models are off" (a 4xx) instead of generating: the fuzz
stays fast; generation is covered by test_api_openai.py.
"""

from __future__ import annotations

import pytest
import schemathesis

from api_server import api_settings, running
from chatchat.service import Services
from conftest import UNSTRUCTURED_DOCS

MAX_EXAMPLES = 8  # per route and mode: enough to hit every validator, small enough for ~1 minute
CONFIG = {
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
    "operations": [
        {   # chunk_overlap must stay below chunk_size: a rule between two fields that JSON Schema cannot state
            "include-path": "/api/knowledge_bases",
            "include-method": "POST",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "409"]}},
        }
    ],
}


@pytest.fixture(scope="module")
def fuzz_schema(tmp_path_factory):
    settings = api_settings(tmp_path_factory.mktemp("api-fuzz") / "home", lite=True, max_upload_mb=1)
    services = Services.open(settings)
    services.create_kb("samples")
    services.add_files("samples", [UNSTRUCTURED_DOCS / "fake-text.txt"])
    with running(settings, services) as base:
        yield schemathesis.openapi.from_url(base + "/openapi.json", config=schemathesis.Config.from_dict(CONFIG))


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
def test_no_route_fails_on_any_input(case):
    case.call_and_validate()
