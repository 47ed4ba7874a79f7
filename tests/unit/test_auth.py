import pytest

from propdesk.auth import NotAllowed, NotAuthenticated, require_roles, roles_of


def _event(claims):
    return {"requestContext": {"authorizer": {"jwt": {"claims": claims, "scopes": None}}}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[admin cashier]", {"admin", "cashier"}),
        ("[admin, dept-cleaning]", {"admin", "dept-cleaning"}),
        (["agent"], {"agent"}),
        ("[]", set()),
        (None, set()),
    ],
)
def test_groups_claim_is_read_in_api_gateway_and_list_forms(raw, expected):
    claims = {} if raw is None else {"cognito:groups": raw}
    assert roles_of(claims) == expected


def test_missing_claims_are_not_authenticated():
    with pytest.raises(NotAuthenticated):
        require_roles({"requestContext": {}}, ["admin"])


def test_a_role_without_the_right_is_not_allowed():
    with pytest.raises(NotAllowed):
        require_roles(_event({"sub": "u1", "cognito:groups": "[cashier]"}), ["admin"])
    assert (
        require_roles(_event({"sub": "u1", "cognito:groups": "[cashier]"}), ["admin", "cashier"])["sub"]
        == "u1"
    )
