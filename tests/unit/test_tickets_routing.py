"""Ticket routing and deduplication as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from propdesk.domain.tickets import RECEIVED, Ticket, TicketRequest, route, ticket_id_for

NOW = datetime(2026, 7, 3, 1, 0, 20, tzinfo=UTC)


def _ticket(kind="repair", category="water", emergency=False) -> Ticket:
    return Ticket("T-1", kind, category, "hotline", "leak", "A-101", emergency, RECEIVED, NOW)


def test_known_category_goes_to_its_department_with_the_kinds_deadline(demo_config):
    routing = route(_ticket("repair", "water"), demo_config.departments)
    assert routing.status == "dispatched"
    assert routing.department == "engineering"
    assert routing.priority == "normal"
    assert routing.due_at == NOW + timedelta(hours=48)


def test_emergency_gets_the_short_deadline(demo_config):
    routing = route(_ticket("repair", "water", emergency=True), demo_config.departments)
    assert routing.priority == "urgent"
    assert routing.due_at == NOW + timedelta(hours=2)


def test_complaint_about_noise_goes_to_security(demo_config):
    routing = route(_ticket("complaint", "Noise"), demo_config.departments)
    assert (routing.department, routing.priority) == ("security", "high")


def test_unknown_category_is_out_of_scope(demo_config):
    routing = route(_ticket("consultation", "tax_advice"), demo_config.departments)
    assert routing.status == "out_of_scope"
    assert routing.department is None and routing.due_at is None


def test_same_request_within_a_minute_has_one_id():
    request = TicketRequest("repair", "water", "hotline", "Kitchen pipe leaking", "A-101", True)
    same_minute = NOW.replace(second=59)
    spaced = TicketRequest("repair", " Water ", "hotline", "Kitchen  pipe leaking ", "A-101", True)
    assert ticket_id_for(request, NOW) == ticket_id_for(request, same_minute) == ticket_id_for(spaced, NOW)
    assert ticket_id_for(request, NOW + timedelta(minutes=1)) != ticket_id_for(request, NOW)
    other = TicketRequest("repair", "water", "hotline", "Bathroom pipe leaking", "A-101", True)
    assert ticket_id_for(other, NOW) != ticket_id_for(request, NOW)
