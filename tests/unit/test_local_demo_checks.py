from infra.local.demo import Owner, personal_data_in

OWNERS = [
    Owner(
        unit_id="A-101", owner_id="O1", email="li.na@mail.example.com", phone="+8613800001111", locale="zh-CN"
    ),
    Owner(unit_id="A-102", owner_id="O2", email=None, phone="+8613800002222", locale="en"),
]


def test_clean_log_lines_have_no_personal_data():
    log = '{"message":"message sent","message_id":"bill_notice#A-101#2027-01","channels":["email","sms"]}\n'
    assert personal_data_in(log, OWNERS) == 0


def test_an_email_or_phone_in_a_log_line_is_found():
    log = (
        '{"message":"send failed","to":"Li.Na@mail.example.com"}\n{"message":"sms","phone":"8613800002222"}\n'
    )
    assert personal_data_in(log, OWNERS) == 2
