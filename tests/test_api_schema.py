"""Property-based conformance of the API to its own OpenAPI schema (schemathesis, bounded in examples)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.specs.openapi.schemas import APIOperation

from tests.api_support import harness

MAX_EXAMPLES = 8
# A schema-valid request may still name a scoring that is not served (410, `score-gone`): the schema
# cannot know which score ids exist, so 410 counts as a correct answer to valid data.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 410]}}}
)


def _check_operation(
    operation: APIOperation, headers: dict[str, str], mode: schemathesis.GenerationMode
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
    )
    def check(case: Case) -> None:
        case.call_and_validate(headers=headers)

    check()


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode",
    [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    ids=["positive", "negative"],
)
def test_api_conforms_to_its_openapi_schema(tmp_path: Path, mode: schemathesis.GenerationMode) -> None:
    # given the app and a key holding every scope
    api = harness(tmp_path, units=30)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    # when schemathesis generates requests for every operation
    # then no server errors, only documented statuses, bodies and content types that match the schema
    # (problem types included), and the required ETag and Cache-Control on every successful read
    assert len(operations) == 9, [f"{op.method} {op.path}" for op in operations]
    for operation in operations:
        has_input = len(operation.query) + len(operation.path_parameters) + len(operation.body) > 0
        if mode is schemathesis.GenerationMode.NEGATIVE and not has_input:
            continue  # nothing to make invalid (e.g. /healthz)
        _check_operation(operation, api.auth(), mode)
