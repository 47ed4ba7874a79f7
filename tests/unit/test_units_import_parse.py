"""Units CSV validation: every bad line reported with its number and reason (no I/O)."""

from __future__ import annotations

import pytest

from infra.config import units_csv_path
from propdesk.services.units import COLUMNS, parse_units_csv

HEADER = ",".join(COLUMNS)
GOOD = "A-101,A,1,101,89.37,O0001,Anna Liu,+8613872620224,owner0001@mail.example.com,en,yes"


def _csv(*lines: str) -> str:
    return "\n".join((HEADER, *lines)) + "\n"


def test_the_demo_file_parses_clean(demo_config):
    # GIVEN the demo property's units file
    text = units_csv_path(demo_config).read_text(encoding="utf-8")
    # WHEN parsed
    units, owners, errors = parse_units_csv(text, config=demo_config)
    # THEN every unit is accepted
    assert errors == []
    assert len(units) == 312
    assert len(owners) <= 312
    first = units[0]
    assert (first.unit_id, first.area_centi_m2, first.owner_id) == ("A-101", 8937, "O0001")


def test_area_becomes_integer_centi_square_metres(demo_config):
    units, _, errors = parse_units_csv(_csv(GOOD.replace("89.37", "90")), config=demo_config)
    assert errors == []
    assert units[0].area_centi_m2 == 9000


@pytest.mark.parametrize(
    ("replace", "by", "reason"),
    [
        (",A,1,", ",Z,1,", "unknown building"),
        ("89.37", "0", "area_m2 must be a positive"),
        ("89.37", "-3", "area_m2 must be a positive"),
        ("89.37", "89.375", "at most 2 decimal places"),
        ("89.37", "abc", "area_m2 must be a number"),
        ("89.37", "NaN", "area_m2 must be a positive"),
        ("+8613872620224", "13872620224", "E.164"),
        ("owner0001@mail.example.com", "not-an-email", "email is not a valid"),
        ("+8613872620224,owner0001@mail.example.com", ",", "at least one contact"),
        (",en,", ",fr,", "locale must be one of"),
        (",yes", ",maybe", "sms_consent must be yes or no"),
        (",A,1,", ",A,99,", "floor must be between 1 and 20"),
        (",Anna Liu,", ",,", "owner_name is required"),
    ],
)
def test_each_bad_field_is_reported_with_its_line(demo_config, replace, by, reason):
    # GIVEN a good line, then a line with one bad field
    bad = GOOD.replace("A-101", "A-102").replace(replace, by)
    _, _, errors = parse_units_csv(_csv(GOOD, bad), config=demo_config)
    # THEN the error names line 3 (header is line 1) and the reason
    assert len(errors) == 1
    line, message = errors[0]
    assert line == 3
    assert reason in message


def test_every_bad_line_is_reported_not_only_the_first(demo_config):
    text = _csv(
        GOOD.replace(",en,", ",xx,"),
        GOOD.replace("A-101", "A-102"),
        GOOD.replace("A-101", "A-103").replace(",A,", ",Q,"),
    )
    _, _, errors = parse_units_csv(text, config=demo_config)
    assert [line for line, _ in errors] == [2, 4]


def test_errors_never_echo_contact_details(demo_config):
    bad = GOOD.replace("+8613872620224", "+86 138").replace("owner0001@mail.example.com", "x@y")
    _, _, errors = parse_units_csv(_csv(bad), config=demo_config)
    message = errors[0][1]
    assert "+86 138" not in message and "x@y" not in message and "Anna" not in message


def test_duplicate_unit_and_conflicting_owner_are_errors(demo_config):
    other_unit_same_owner_new_name = GOOD.replace("A-101", "A-102").replace("Anna Liu", "Someone Else")
    _, _, errors = parse_units_csv(_csv(GOOD, GOOD, other_unit_same_owner_new_name), config=demo_config)
    assert [line for line, _ in errors] == [3, 4]
    assert "already appears on line 2" in errors[0][1]
    assert "owner O0001" in errors[1][1]


def test_wrong_header_is_one_clear_error(demo_config):
    text = HEADER.replace("area_m2", "area") + "\n" + GOOD + "\n"
    _, _, errors = parse_units_csv(text, config=demo_config)
    assert len(errors) == 1
    assert errors[0][0] == 1
    assert "missing columns: area_m2" in errors[0][1]


def test_empty_file_and_extra_fields_are_errors(demo_config):
    assert parse_units_csv(_csv(), config=demo_config)[2] == [(1, "the file has no units")]
    _, _, errors = parse_units_csv(_csv(GOOD + ",extra"), config=demo_config)
    assert errors == [(2, "too many fields")]


def test_byte_order_mark_and_blank_lines_are_tolerated(demo_config):
    units, _, errors = parse_units_csv(
        "\ufeff" + _csv(GOOD, "", GOOD.replace("A-101", "A-102")), config=demo_config
    )
    assert errors == []
    assert [u.unit_id for u in units] == ["A-101", "A-102"]


def test_a_line_the_csv_reader_cannot_read_is_reported_not_raised(demo_config):
    # GIVEN a field beyond even the raised field-size limit, after one good line
    from propdesk.services.units import MAX_FIELD_CHARS

    text = _csv(GOOD, "A-102,A,1," + "z" * (MAX_FIELD_CHARS + 1))
    # WHEN parsed
    units, _, errors = parse_units_csv(text, config=demo_config)
    # THEN the failure is one reported error (not an exception) without the field's content
    assert len(errors) == 1
    assert errors[0][1].startswith("not readable as CSV")
    assert "zzzz" not in errors[0][1]
    assert [u.unit_id for u in units] == ["A-101"]
