"""The OpenAPI document fuzzed with schemathesis: a bounded number of generated requests per operation,
none of which may make the server fail (5xx) or break the one error shape."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from .conftest import bearer

EXAMPLES = 20


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_openapi_fuzz_no_server_errors(client, tokens):
    import schemathesis

    headers = bearer(tokens["admin"])
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app, headers=headers)
    failures, calls = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            nonlocal calls
            response = case.call(headers=headers)
            calls += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            elif response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body

        check()
    assert calls >= 15 * 5
    assert not failures, failures
