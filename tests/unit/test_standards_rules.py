"""The rules of publishing a fee standard version (F1), pure: the period's length and start, and
which version is in force on a day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from propdesk.domain.standards import StandardRefused, check_publication, in_force, launch_version
from propdesk.formatting import format_share

TODAY = date(2026, 12, 2)
EFFECTIVE = date(2027, 3, 1)


@pytest.fixture
def versions(demo_config):
    launch = launch_version(demo_config.fee_standard)
    draft = launch.model_copy(
        update={"version": "SH-2027-01", "status": "draft", "effective_from": EFFECTIVE}
    )
    return launch, draft


def test_a_publication_of_exactly_the_minimum_starting_exactly_in_time_is_accepted(versions):
    launch, draft = versions
    starts = EFFECTIVE - timedelta(days=30)
    check_publication(
        draft,
        [launch, draft],
        starts_on=starts,
        ends_on=starts + timedelta(days=29),
        today=TODAY,
        min_days=30,
    )


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "code"),
    [
        (EFFECTIVE - timedelta(days=30), EFFECTIVE - timedelta(days=2), "publication_too_short"),  # 29 days
        (EFFECTIVE - timedelta(days=29), EFFECTIVE + timedelta(days=5), "publication_too_late"),
        (TODAY - timedelta(days=1), EFFECTIVE, "publication_in_the_past"),
        (TODAY, TODAY - timedelta(days=1), "publication_ends_before_start"),
    ],
)
def test_a_publication_one_day_off_is_refused(versions, starts_on, ends_on, code):
    launch, draft = versions
    with pytest.raises(StandardRefused) as refused:
        check_publication(
            draft, [launch, draft], starts_on=starts_on, ends_on=ends_on, today=TODAY, min_days=30
        )
    assert refused.value.code == code and refused.value.status == 409


def test_the_version_in_force_is_the_latest_published_on_or_before_the_day(versions):
    launch, draft = versions
    published = draft.model_copy(update={"status": "published"})
    assert in_force([launch, draft], EFFECTIVE) == launch  # a draft is never in force
    assert in_force([launch, published], EFFECTIVE - timedelta(days=1)) == launch
    assert in_force([published, launch], EFFECTIVE) == published
    assert in_force([launch, published], launch.effective_from - timedelta(days=1)) is None


@pytest.mark.parametrize(
    ("bp", "text"), [(10_000, "100%"), (7000, "70%"), (850, "8.5%"), (805, "8.05%"), (1, "0.01%")]
)
def test_shares_are_shown_as_percentages(bp, text):
    assert format_share(bp) == text
