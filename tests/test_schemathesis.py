"""Bad input never crashes a service: schemathesis against every service's own OpenAPI.

Each running service's ``/openapi.json`` is loaded, and every operation is called with input
schemathesis generates from it, valid (positive) and invalid (negative), carrying a valid token
of a role that works on that service. Checked on every response: no 5xx, and a response whose
status is documented matches its documented schema. Examples are bounded so the run stays short;
the case count per service is printed.

Schemathesis' own pytest loader for a schema from a fixture (``schemathesis.pytest.from_fixture``)
does not run under pytest 9.2 (it writes ``Function._nodeid``, which is gone), and the services'
URLs exist only once the session's stack runs; so each operation's strategy
(``operation.as_strategy``) is driven with Hypothesis directly, as schemathesis documents for
custom workflows, and every failing operation is collected before the test fails.
"""

from __future__ import annotations

from collections import Counter

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis.errors import FailedHealthCheck, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.support.stack import Stack, auth

# A role with real rights on each service (admin has few), so requests get past the 403.
USER_FOR: dict[str, str] = {
    "registration": "alice_receptionist",
    "triage": "nurse_sarah",
    "clinical": "dr_smith",
    "lab": "mike_lab_tech",
    "pharmacy": "lisa_pharmacist",
    "billing": "tom_cashier",
    "notifier": "nurse_sarah",
}
MAX_EXAMPLES = 15  # per operation and generation mode
CHECKS = [not_a_server_error, response_schema_conformance]
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure is reproducible
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure found
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)

CASES: Counter[str] = Counter()


def fuzz_operation(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    session: requests.Session,
    statuses: Counter[int],
) -> tuple[int, str | None]:
    """Run one operation's generated cases; (cases sent, failure or None)."""
    sent = 0

    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        response = case.call_and_validate(session=session, checks=CHECKS, timeout=15)
        statuses[response.status_code] += 1

    try:
        run()
    except (Unsatisfiable, FailedHealthCheck):  # nothing of this kind can be generated
        pass
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is the latter
        return sent, f"{operation.label} ({mode.value}): {str(exc)[:3000]}"
    return sent, None


def duty_roster(base: str, user: str) -> dict[str, bool]:
    """Who is on duty in a department (empty for services without a worklist)."""
    response = requests.get(f"{base}/duty", headers=auth(user), timeout=10)
    if response.status_code != 200:
        return {}
    return {shift["userId"]: shift["onDuty"] for shift in response.json()}


def restore_duty_roster(base: str, roster: dict[str, bool]) -> None:
    """Fuzzing POST /duty takes people off duty; put the roster back for the tests after."""
    for user_id, on_duty in roster.items():
        response = requests.post(
            f"{base}/duty",
            json={"onDuty": on_duty, "userId": user_id},
            headers=auth("admin"),
            timeout=10,
        )
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("service", list(USER_FOR))
def test_no_server_error_and_responses_match_their_schema(stack: Stack, service: str) -> None:
    base = stack.url(service)
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    schema.config.update(base_url=base)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    roster = duty_roster(base, USER_FOR[service])
    with requests.Session() as session:
        session.headers.update(auth(USER_FOR[service]))
        operations = [result.ok() for result in schema.get_all_operations()]
        assert operations, f"{service} documents no operation"
        try:
            for operation in operations:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    sent, failure = fuzz_operation(operation, mode, session, statuses)
                    CASES[service] += sent
                    if failure:
                        failures.append(failure)
        finally:
            restore_duty_roster(base, roster)
    by_status = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    print(
        f"\nschemathesis {service}: {len(operations)} operations, {CASES[service]} cases"
        f" (responses by status: {by_status})"
    )
    assert not failures, "\n\n".join(failures)
    assert statuses[401] == 0, "the token is valid: nothing may be refused as unauthenticated"


# What schemathesis found, pinned so it stays fixed: each was a 500 before.
FOUND: list[tuple[str, str, str, dict | None]] = [
    # A NUL character in a query parameter (PostgreSQL text cannot hold it): every service.
    ("registration", "GET", "/appointments?patientId=patient%00x", None),
    ("triage", "GET", "/encounters?visitId=visit%00x", None),
    ("lab", "GET", "/lab-requests?patientId=patient%00x", None),
    # ... and in a JSON body.
    (
        "registration",
        "POST",
        "/appointments",
        {"patientId": "p\u0000", "appointmentDate": "2030-01-01"},
    ),
    # A notification id beyond PostgreSQL's bigint.
    ("notifier", "POST", "/notifications/read", {"ids": [2**85]}),
    # An amount too large to round to cents (decimal.InvalidOperation).
    ("billing", "POST", "/visits/visit_x/payments", {"amount": 1e299, "paymentType": "CASH"}),
]


@pytest.mark.parametrize(("service", "method", "path", "body"), FOUND)
def test_what_schemathesis_found_is_refused_as_bad_input(
    stack: Stack, service: str, method: str, path: str, body: dict | None
) -> None:
    response = requests.request(
        method,
        f"{stack.url(service)}{path}",
        json=body,
        headers=auth(USER_FOR[service]),
        timeout=15,
    )
    assert response.status_code == 422, response.text
