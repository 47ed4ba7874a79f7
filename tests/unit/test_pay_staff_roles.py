"""The api function's role checks agree with the manifest the authorizer and Cognito use."""

from api.staff import STAFF_ROUTES
from infra import manifest


def test_route_roles_match_the_manifest():
    # GIVEN the manifest's staff routes of the api function
    declared = {
        (route.method, route.path): route.roles
        for route in manifest.function("api").routes
        if route.auth == "staff"
    }
    # THEN the function checks exactly those routes with exactly those roles
    assert declared == STAFF_ROUTES


def test_owner_pages_are_not_staff_routes():
    owner_routes = {(r.method, r.path) for r in manifest.function("api").routes if r.auth == "owner_link"}
    assert owner_routes == {
        ("GET", "/pay/{token}"),
        ("POST", "/pay/{token}/checkout"),
        ("GET", "/pay/{token}/return"),
    }
    assert not owner_routes & set(STAFF_ROUTES)
