"""Fee standards (F1, issue 8): an admin drafts a version and publishes it with its publication
period and channels; bad input changes nothing; the public page, the printable notice and the
owners' message follow; a period is billed under the version in force for it."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, date, datetime

import boto3
import pypdfium2
import pytest
import time_machine
from ops_support import drain, import_demo_units, sent_emails, sent_sms

import messenger.handler as messenger_handler
from api.handler import lambda_handler as api_handler
from infra.local.events import LambdaContext, sqs_event, staff_claims
from notices.handler import lambda_handler as notices_handler
from propdesk.domain.standards import StandardRefused
from propdesk.messaging.requests import parse_message
from propdesk.services import standards
from propdesk.store import ledger
from propdesk.store.standards import StandardRepository
from tests.route_events import route_event

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ADMIN = staff_claims("admin", sub="admin-zhao")
AGENT = staff_claims("agent", sub="agent-wu")

DRAFT = {
    "version": "SH-2027-01",
    "effective_from": "2027-03-01",
    "legal_basis": {
        "document": {
            "kind": "filing",
            "reference": "沪房物备〔2026〕第0412号",
            "issued_by": {"zh-CN": "上海市浦东新区房屋管理局", "en": "Pudong Housing Administration"},
        },
        "contract_clauses": [
            {
                "contract": {"zh-CN": "《锦绣花园物业服务合同》", "en": "Jinxiu Garden service contract"},
                "clause": {"zh-CN": "第五章第二十一条", "en": "chapter 5, clause 21"},
            }
        ],
    },
    "items": [
        {"code": "service", "name": {"zh-CN": "物业服务费", "en": "Property service fee"},
         "basis": "per_m2", "rate_minor": 295},
        {"code": "elevator", "name": {"zh-CN": "电梯运行维护费", "en": "Elevator upkeep"},
         "basis": "per_m2", "rate_minor": 45, "requires_elevator": True},
        {"code": "waste", "name": {"zh-CN": "生活垃圾清运费", "en": "Household waste removal"},
         "basis": "per_unit", "rate_minor": 1000},
    ],
    "cost_breakdown": [
        {"name": {"zh-CN": "公共区域保洁", "en": "Common-area cleaning"}, "share_bp": 3500},
        {"name": {"zh-CN": "安保服务", "en": "Security"}, "share_bp": 3000},
        {"name": {"zh-CN": "绿化养护", "en": "Landscaping"}, "share_bp": 1350},
        {"name": {"zh-CN": "电梯维保", "en": "Elevator upkeep"}, "share_bp": 1150, "item": "elevator"},
        {"name": {"zh-CN": "垃圾清运", "en": "Waste removal"}, "share_bp": 1000, "item": "waste"},
    ],
}  # fmt: skip
PUBLICATION = {
    "starts_on": "2026-12-05",
    "ends_on": "2027-01-31",
    "channels": ["notice_board", "building_doors", "website", "owner_message"],
}
VERSION = {"version": "SH-2027-01"}


def call(key: str, *, claims=ADMIN, **kwargs) -> tuple[int, dict | str, dict]:
    with time_machine.travel(NOW, tick=False):
        response = api_handler(route_event(key, claims=claims, **kwargs), LambdaContext())
    body = response["body"]
    if response["headers"].get("Content-Type", "").startswith("application/json"):
        body = json.loads(body or "null")
    return response["statusCode"], body, response["headers"]


def draft_body(**changes) -> dict:
    body = copy.deepcopy(DRAFT)
    body.pop("version")
    body.update(changes)
    return body


def state() -> tuple:
    """Everything fee standards write: the versions, their ledger entries, the queued work."""
    stored = [(s.version.model_dump_json(), s.row_version) for s in StandardRepository().all()]
    entries = [(e.key, e.data) for e in ledger.entries(ledger.standard_entity("SH-2027-01"))]
    return stored, entries


@pytest.fixture
def drafted(aws):
    status, body, _ = call("create_standard", body=DRAFT)
    assert status == 201 and body["status"] == "draft"
    return body


def test_a_draft_is_written_read_and_replaced_by_an_admin_and_read_by_staff(drafted):
    # GIVEN a draft
    assert drafted["created_by"] == "admin-zhao" and drafted["publication"] is None
    assert drafted["public_url"] is None
    # WHEN an admin replaces it
    status, replaced, _ = call(
        "replace_standard", params=VERSION, body=draft_body(effective_from="2027-04-01")
    )
    # THEN it is changed, and staff readers see it next to the launch standard
    assert status == 200 and replaced["effective_from"] == "2027-04-01"
    status, listed, _ = call("list_standards", claims=AGENT)
    assert status == 200 and listed["in_force"] == "SH-2026-01"
    assert [(v["version"], v["status"], v["launch"]) for v in listed["versions"]] == [
        ("SH-2026-01", "published", True),
        ("SH-2027-01", "draft", False),
    ]
    status, one, _ = call("get_standard", claims=AGENT, params=VERSION)
    assert status == 200 and one["legal_basis"]["document"]["reference"] == "沪房物备〔2026〕第0412号"
    # AND an agent may not write one
    assert call("replace_standard", claims=AGENT, params=VERSION, body=draft_body())[0] == 403
    assert call("get_standard", params={"version": "SH-2099-01"})[0] == 404


def _bad_drafts() -> dict[str, tuple[int, str | None, dict]]:
    short = draft_body()
    short["cost_breakdown"][0]["share_bp"] = 3499
    over = draft_body()
    over["cost_breakdown"][0]["share_bp"] = 3501
    negative = draft_body()
    negative["items"][0]["rate_minor"] = -1
    locale = draft_body()
    locale["items"][0]["name"]["fr"] = "Frais de service"
    basis_locale = draft_body()
    basis_locale["legal_basis"]["document"]["issued_by"] = {"zh-CN": "浦东房管局", "ja": "浦東"}
    duplicate = draft_body()
    duplicate["items"][2]["code"] = "service"
    building = draft_body()
    building["items"][0]["buildings"] = ["Z"]
    return {
        "shares under 100 %": (422, "invalid_request", short),
        "shares over 100 %": (422, "invalid_request", over),
        "a negative rate": (422, "invalid_request", negative),
        "an unknown locale": (422, "invalid_request", locale),
        "an unknown locale in the legal basis": (422, "invalid_request", basis_locale),
        "duplicate item codes": (422, "invalid_request", duplicate),
        "an unknown building": (422, "unknown_building", building),
        "an effective date not after the launch standard's": (
            409,
            "effective_date_not_after",
            draft_body(effective_from="2026-01-01"),
        ),
    }


@pytest.mark.parametrize("case", list(_bad_drafts()))
def test_bad_input_is_refused_clearly_and_changes_nothing(drafted, case):
    status_wanted, code, body = _bad_drafts()[case]
    before = state()
    # WHEN the draft is replaced, or a new version created, with bad input
    status, answer, _ = call("replace_standard", params=VERSION, body=body)
    created, made, _ = call("create_standard", body={**body, "version": "SH-2027-02"})
    # THEN each is refused with a code and a sentence, and nothing changed
    assert (status, answer["error"]) == (status_wanted, code), answer
    assert (created, made["error"]) == (status_wanted, code), made
    assert answer["message"]
    assert state() == before
    if code == "invalid_request":
        problems = " ".join(d["problem"] for d in answer["details"])
        assert any(word in problems for word in ("basis points", "greater than", "locale", "unique")), (
            problems
        )


def test_a_version_id_is_taken_once(drafted):
    before = state()
    status, answer, _ = call("create_standard", body=DRAFT)
    assert (status, answer["error"]) == (409, "version_exists")
    status, answer, _ = call("create_standard", body={**DRAFT, "version": "SH-2026-01"})
    assert (status, answer["error"]) == (409, "version_exists")
    assert state() == before


@pytest.mark.parametrize(
    ("publication", "code"),
    [
        ({**PUBLICATION, "ends_on": "2026-12-30"}, "publication_too_short"),  # 26 days
        ({**PUBLICATION, "starts_on": "2027-02-01", "ends_on": "2027-03-05"}, "publication_too_late"),
        ({**PUBLICATION, "starts_on": "2026-11-20"}, "publication_in_the_past"),
        ({**PUBLICATION, "ends_on": "2026-12-01"}, "publication_ends_before_start"),
        ({**PUBLICATION, "channels": []}, "invalid_request"),
        ({**PUBLICATION, "channels": ["wechat_moments"]}, "invalid_request"),
        ({**PUBLICATION, "channels": ["website", "website"]}, "invalid_request"),
    ],
)
def test_a_publication_too_short_too_late_or_elsewhere_is_refused_and_changes_nothing(
    drafted, aws, publication, code
):
    before = state()
    status, answer, _ = call("publish_standard", params=VERSION, body=publication)
    assert status == (422 if code == "invalid_request" else 409) and answer["error"] == code, answer
    assert answer["message"]
    assert state() == before
    assert drain(aws["NOTICES_QUEUE_URL"]) == []


def test_publishing_records_the_period_and_channels_and_fixes_the_version(drafted, aws):
    # WHEN an admin publishes the draft
    status, published, _ = call("publish_standard", params=VERSION, body=PUBLICATION)
    # THEN the version carries its publication, also in the ledger
    assert status == 200 and published["status"] == "published"
    assert published["public_url"] == "/standards/SH-2027-01"
    publication = published["publication"]
    assert (publication["starts_on"], publication["ends_on"]) == ("2026-12-05", "2027-01-31")
    assert publication["channels"] == PUBLICATION["channels"]
    assert publication["published_by"] == "admin-zhao"
    [entry] = ledger.entries(ledger.standard_entity("SH-2027-01"), "published")
    assert entry.data["channels"] == PUBLICATION["channels"] and entry.data["by"] == "admin-zhao"
    assert (entry.data["starts_on"], entry.data["ends_on"]) == ("2026-12-05", "2027-01-31")
    # AND it is in force from its effective date on
    status, listed, _ = call("list_standards")
    assert [v["version"] for v in listed["versions"] if v["status"] == "published"] == [
        "SH-2026-01",
        "SH-2027-01",
    ]
    queued = drain(aws["NOTICES_QUEUE_URL"])
    # AND publishing again, or editing it, is refused and changes nothing
    before = state()
    status, again, _ = call("publish_standard", params=VERSION, body=PUBLICATION)
    assert (status, again["error"]) == (409, "standard_published")
    status, edited, _ = call("replace_standard", params=VERSION, body=draft_body())
    assert (status, edited["error"]) == (409, "standard_published")
    assert "new version with its effective date" in edited["message"]
    status, launch, _ = call("replace_standard", params={"version": "SH-2026-01"}, body=draft_body())
    assert (status, launch["error"]) == (409, "standard_published")
    assert state() == before
    assert len(queued) == 1 and drain(aws["NOTICES_QUEUE_URL"]) == []
    # AND a later draft must take effect after it
    status, refused, _ = call(
        "create_standard", body={**DRAFT, "version": "SH-2027-02", "effective_from": "2027-03-01"}
    )
    assert (status, refused["error"]) == (409, "effective_date_not_after")


class _StaleRepository(StandardRepository):
    """Reads the draft as it was before another publish landed (two publishes at once)."""

    def __init__(self, stale) -> None:
        self.stale = stale

    def get(self, version):
        return self.stale


def test_two_publishes_at_once_cannot_both_win(drafted, demo_config):
    # GIVEN two admins who both read the draft
    read = StandardRepository().get("SH-2027-01")

    def publish(repo, staff_id):
        return standards.publish(
            "SH-2027-01", starts_on=date(2026, 12, 5), ends_on=date(2027, 1, 31), channels=["website"],
            config=demo_config, staff_id=staff_id, now=NOW, today=date(2026, 12, 2),
            base_url="https://pay.example.test", repo=repo, store_notice=lambda *_: None,
        )  # fmt: skip

    # WHEN both publish
    publish(_StaleRepository(read), "admin-zhao")
    with pytest.raises(StandardRefused) as refused:
        publish(_StaleRepository(read), "admin-qian")
    # THEN the second is refused, and the first one's publication stands alone
    assert refused.value.code == "standard_published"
    assert StandardRepository().get("SH-2027-01").version.publication.published_by == "admin-zhao"
    assert len(ledger.entries(ledger.standard_entity("SH-2027-01"), "published")) == 1


@pytest.fixture
def published(drafted, aws):
    status, body, _ = call("publish_standard", params=VERSION, body=PUBLICATION)
    assert status == 200
    return body


def test_the_public_page_in_chinese_and_english(published):
    # WHEN anyone opens the public page, in the property's language and in English
    status, zh, headers = call("standard_page", claims=None, params=VERSION)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    status, en, _ = call("standard_page", claims=None, params=VERSION, query={"lang": "en"})
    assert status == 200
    # THEN each shows the property, version, effective date, legal basis, items, costs, publication
    for text in (
        '<html lang="zh-CN">', "锦绣花园", "SH-2027-01", "2027年3月1日", "沪房物备〔2026〕第0412号",
        "《锦绣花园物业服务合同》 第五章第二十一条", "物业服务费", "服务项目与收费标准", "¥2.95/平方米/月", "¥10.00/户/月",
        "仅限有电梯的楼栋", "公共区域保洁", "35%", "13.5%", "100%", "2026年12月5日 至 2027年1月31日",
        "各楼栋单元门口", "/standards/SH-2027-01/notice?lang=zh-CN",
    ):  # fmt: skip
        assert text in zh, text
    for text in (
        '<html lang="en">', "Fee standard", "1 March 2027", "Pudong Housing Administration",
        "Service items and rates", "¥2.95/m²/month", "¥10.00/unit/month", "Landscaping", "11.5%",
        "5 December 2026 to 31 January 2027", "each building&#39;s door",
    ):  # fmt: skip
        assert text in en, text
    # AND the earlier version is listed with its date, linked, and marked in force today
    assert '<a href="/standards/SH-2026-01?lang=en">SH-2026-01</a>' in en
    assert "1 January 2026" in en and "In force" in en and "Upcoming" in en
    # AND the launch version has its own page
    status, launch, _ = call("standard_page", claims=None, params={"version": "SH-2026-01"})
    assert status == 200 and "上海市住宅物业服务收费备案" in launch and "70%" in launch


def test_an_unknown_language_shows_the_property_s_own_and_tracking_parameters_are_ignored(published):
    # An owner's link forwarded in a chat group: lang=fr, and the app's own parameters
    status, page, _ = call(
        "standard_page", claims=None, params=VERSION, query={"lang": "fr", "from": "groupmessage"}
    )
    assert status == 200 and '<html lang="zh-CN">' in page and "收费标准公示" in page


def test_a_draft_or_unknown_version_is_the_not_found_page(drafted):
    for version in ("SH-2027-01", "SH-2099-09"):
        status, page, headers = call("standard_page", claims=None, params={"version": version})
        assert status == 404 and headers["Content-Type"].startswith("text/html")
        assert "未找到该收费标准" in page and "/standards/SH-2026-01" in page and "SH-2027-01" not in page
        status, _, _ = call("standard_notice", claims=None, params={"version": version})
        assert status == 404
    status, page, _ = call("standard_page", claims=None, params={"version": "<script>"})
    assert status == 422 and page.startswith("<!DOCTYPE html>")


def _pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    assert len(document) == 1
    width, height = document[0].get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    return document[0].get_textpage().get_text_range()


def test_the_printable_notice_is_an_a4_pdf_in_the_documents_bucket_with_chinese_text(published, aws):
    # GIVEN the notices stored when the version was published
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=aws["DOCUMENTS_BUCKET"])["Contents"]]
    assert sorted(keys) == ["standards/demo/SH-2027-01.en.pdf", "standards/demo/SH-2027-01.zh-CN.pdf"]
    # WHEN the public page's link is followed
    status, _, headers = call("standard_notice", claims=None, params=VERSION)
    # THEN it leads to the Chinese PDF, whose text reads back
    assert status == 303 and "SH-2027-01.zh-CN.pdf" in headers["Location"]
    zh = s3.get_object(Bucket=aws["DOCUMENTS_BUCKET"], Key="standards/demo/SH-2027-01.zh-CN.pdf")
    pdf = zh["Body"].read()
    assert pdf.startswith(b"%PDF-") and zh["ContentType"] == "application/pdf"
    text = _pdf_text(pdf)
    for words in (
        "锦绣花园",
        "收费标准公示",
        "SH-2027-01",
        "2027年3月1日",
        "物业服务费",
        "公共区域保洁",
        "35%",
    ):
        assert words in text, words
    en = s3.get_object(Bucket=aws["DOCUMENTS_BUCKET"], Key="standards/demo/SH-2027-01.en.pdf")
    english = _pdf_text(en["Body"].read())
    assert "Household waste removal" in english and "1 March 2027" in english


def _run_notices(bodies: list[str]) -> None:
    with time_machine.travel(NOW, tick=False):
        answer = notices_handler(
            sqs_event(bodies, queue_arn="arn:aws:sqs:ap-southeast-1:123456789012:propdesk-demo-notices"),
            LambdaContext(),
        )
    assert answer == {"batchItemFailures": []}


def test_every_owner_is_told_once_in_batches(aws, demo_config, monkeypatch):
    units = import_demo_units(demo_config, 120)
    monkeypatch.setattr(standards, "BATCH_SIZE", 50)
    status, _, _ = call("create_standard", body=DRAFT)
    status, _, _ = call("publish_standard", params=VERSION, body=PUBLICATION)
    assert status == 200
    # WHEN the notices worker takes the announcement: it plans batches of units, then each batch
    [plan] = drain(aws["NOTICES_QUEUE_URL"])
    _run_notices([plan])
    batches = drain(aws["NOTICES_QUEUE_URL"])
    assert [len(json.loads(b)["unit_ids"]) for b in batches] == [50, 50, 20] and units == 120
    _run_notices(batches)
    first = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    # THEN one message per owner, keyed on the version and the owner, linking the public page
    owners = {m.owner_id for m in first}
    assert len(first) == len(owners) > 0
    assert {m.message_id for m in first} == {f"standard_published#SH-2027-01#{o}" for o in owners}
    assert {m.context["page_url"] for m in first} == {"https://pay.example.test/standards/SH-2027-01"}
    # AND a rerun of the same batches queues the same ids again, which the messenger sends once
    _run_notices(batches)
    again = [parse_message(b) for b in drain(aws["MESSAGES_QUEUE_URL"])]
    assert sorted(m.message_id for m in again) == sorted(m.message_id for m in first)
    messenger_handler.messenger.cache_clear()
    some = [m for m in first if m.owner_id in ("O0001", "O0003")]
    bodies = [m.model_dump_json() for m in some]
    with time_machine.travel(NOW, tick=False):
        messenger_handler.lambda_handler(sqs_event(bodies + bodies), LambdaContext())
        messenger_handler.lambda_handler(sqs_event(bodies), LambdaContext())
    messenger_handler.messenger.cache_clear()
    emails = sent_emails()
    assert len(emails) == 1 and "SH-2027-01" in emails[0].subject  # O0001 (O0003 has no e-mail)
    assert "https://pay.example.test/standards/SH-2027-01" in emails[0].body
    texts = [text for _, text in sent_sms()]
    assert len(texts) == 2 and all("SH-2027-01" in text for text in texts)


def test_a_version_published_without_owner_message_queues_nothing(drafted, aws):
    body = {**PUBLICATION, "channels": ["notice_board", "website"]}
    assert call("publish_standard", params=VERSION, body=body)[0] == 200
    assert drain(aws["NOTICES_QUEUE_URL"]) == []


def test_standard_for_picks_the_version_in_force_for_each_period(published, demo_config):
    # GIVEN the launch standard (from 2026-01) and SH-2027-01 (from 2027-03), and a draft after both
    call("create_standard", body={**DRAFT, "version": "SH-2028-01", "effective_from": "2028-01-01"})
    # THEN each period is billed under the one in force on its first day; none before the first
    assert standards.standard_for("2025-12", demo_config) is None
    assert standards.standard_for("2026-01", demo_config) == demo_config.fee_standard
    assert standards.standard_for("2027-02", demo_config).version == "SH-2026-01"
    march = standards.standard_for("2027-03", demo_config)
    assert march.version == "SH-2027-01" and march.effective_from == date(2027, 3, 1)
    assert [item.rate_minor for item in march.items] == [295, 45, 1000]
    assert march.items[1].requires_elevator and march.items[2].cost_share_bp == 1000
    assert standards.standard_for("2028-06", demo_config).version == "SH-2027-01"  # a draft bills nothing
    # AND a bill's version is found by its id, the draft's is not
    assert standards.standard_by_version("SH-2027-01", demo_config) == march
    assert standards.standard_by_version("SH-2028-01", demo_config) is None


def test_a_bill_s_items_are_named_as_its_own_version_names_them(published, demo_config):
    from datetime import timedelta

    from propdesk.domain.billing import Bill, BillLine
    from propdesk.messaging.templates import render
    from propdesk.services.checkout import checkout_request

    # GIVEN a bill computed under SH-2027-01, whose elevator item has another name than the launch one's
    bill = Bill(
        "A-101#2027-03", "A-101", "O0001", "2027-03", "SH-2027-01",
        (BillLine("elevator", "per_m2", 45, 8937, 4022),), 4022, "CNY", date(2027, 3, 15), "open", NOW,
    )  # fmt: skip
    # WHEN its notice is rendered and its checkout asked for
    notice = render(
        "bill_notice",
        locale="en",
        context={
            "bill_id": "A-101#2027-03", "unit_id": "A-101", "period": "2027-03", "lines": [{"code": "elevator", "amount_minor": 4022}],
            "total_minor": 4022, "currency": "CNY", "due_date": "2027-03-15",
            "pay_url": "https://pay.example.test/pay/tok", "fee_standard_version": "SH-2027-01",
        },
        recipient_name="Anna",
        config=demo_config,
    )  # fmt: skip
    request = checkout_request(
        bill, config=demo_config, now=NOW + timedelta(days=90), page_url="https://x.test/pay/t", locale="en"
    )
    # THEN both name the item as SH-2027-01 does
    assert (
        "Elevator upkeep: ¥40.22" in notice.text
    )  # the launch standard: "Elevator operation and maintenance"
    assert [line.name for line in request.lines] == ["Elevator upkeep · 2027-03"]


class _QueueDown:
    def send(self, bodies):
        raise RuntimeError("SQS unavailable")


def test_a_publication_cut_short_is_finished_by_asking_again(drafted, aws, demo_config):
    # GIVEN a publish whose announcement could not be queued (the version was fixed before)
    with pytest.raises(RuntimeError):
        standards.publish(
            "SH-2027-01", starts_on=date(2026, 12, 5), ends_on=date(2027, 1, 31),
            channels=PUBLICATION["channels"], config=demo_config, staff_id="admin-zhao", now=NOW,
            today=date(2026, 12, 2), base_url="https://pay.example.test", notices=_QueueDown(),
        )  # fmt: skip
    assert StandardRepository().get("SH-2027-01").version.published
    assert drain(aws["NOTICES_QUEUE_URL"]) == []
    # WHEN the admin asks again, twice
    first = call("publish_standard", params=VERSION, body=PUBLICATION)
    second = call("publish_standard", params=VERSION, body=PUBLICATION)
    # THEN both are told it is published, and the owners' announcement is queued once
    assert [first[1]["error"], second[1]["error"]] == ["standard_published", "standard_published"]
    [queued] = drain(aws["NOTICES_QUEUE_URL"])
    assert json.loads(queued)["version"] == "SH-2027-01"
    assert ledger.keys(ledger.standard_entity("SH-2027-01"), "announced") == ["announced"]
