from pathlib import Path

import pytest
import yaml

from infra.config import PROPERTIES_DIR, ConfigError, load_config, load_config_file


def _write(tmp_path: Path, data: dict, name: str = "demo.yaml") -> Path:
    (tmp_path / "demo-units.csv").write_text((PROPERTIES_DIR / "demo-units.csv").read_text("utf-8"), "utf-8")
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


@pytest.fixture
def demo_raw() -> dict:
    return yaml.safe_load((PROPERTIES_DIR / "demo.yaml").read_text("utf-8"))


def test_demo_property_loads_with_its_fee_items_and_time_zone():
    config = load_config("demo")
    assert config.time_zone == "Asia/Shanghai"
    assert config.currency == "CNY"
    assert [item.code for item in config.fee_standard.items] == [
        "service",
        "common_energy",
        "elevator",
        "waste",
    ]
    assert config.fee_standard.items[0].rate_minor == 280
    assert {d.code for d in config.departments} == {"engineering", "cleaning", "security", "landscaping"}


def test_demo_units_file_has_a_few_hundred_units():
    lines = (PROPERTIES_DIR / "demo-units.csv").read_text("utf-8").splitlines()
    assert 200 <= len(lines) - 1 <= 1000


def test_wrong_field_names_the_file_and_the_field(tmp_path, demo_raw):
    # GIVEN a fee item with a rate that is not a whole number of minor units
    demo_raw["fee_standard"]["items"][0]["rate_minor"] = "2.80"
    path = _write(tmp_path, demo_raw)
    # WHEN it is loaded THEN the error names the file and the field
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(path) in str(err.value)
    assert "fee_standard.items.0.rate_minor" in str(err.value)


def test_unknown_field_is_refused(tmp_path, demo_raw):
    demo_raw["billing"]["due_dya"] = 15
    with pytest.raises(ConfigError, match=r"billing\.due_dya"):
        load_config_file(_write(tmp_path, demo_raw))


def test_unknown_time_zone_is_refused(tmp_path, demo_raw):
    demo_raw["time_zone"] = "Asia/Shangai"
    with pytest.raises(ConfigError, match="unknown time zone"):
        load_config_file(_write(tmp_path, demo_raw))


def test_fee_item_for_unknown_building_is_refused(tmp_path, demo_raw):
    demo_raw["fee_standard"]["items"][0]["buildings"] = ["Z"]
    with pytest.raises(ConfigError, match="unknown buildings: Z"):
        load_config_file(_write(tmp_path, demo_raw))


def test_property_id_must_match_file_name(tmp_path, demo_raw):
    with pytest.raises(ConfigError, match="does not match the file name"):
        load_config_file(_write(tmp_path, demo_raw, name="other.yaml"))


def test_missing_units_file_is_refused(tmp_path, demo_raw):
    demo_raw["units_source"] = "missing.csv"
    with pytest.raises(ConfigError, match="units_source"):
        load_config_file(_write(tmp_path, demo_raw))


def test_missing_config_file_and_bad_id_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="no such property configuration file"):
        load_config("nowhere", properties_dir=tmp_path)
    with pytest.raises(ConfigError, match="invalid property id"):
        load_config("../etc/passwd")


def test_config_round_trips_through_the_functions_environment():
    from propdesk.config import PropertyConfig

    config = load_config("demo")
    assert PropertyConfig.model_validate_json(config.to_env_json()) == config


def test_a_rail_that_cannot_take_the_property_s_currency_is_refused(tmp_path, demo_raw):
    # GIVEN a property billing in Hong Kong dollars that offers WeChat Pay's mainland rail
    demo_raw["currency"] = "HKD"
    demo_raw["payment"]["rails"] = ["stripe", "wechat_pay"]
    # WHEN it is loaded THEN the error names the rail and what it takes
    with pytest.raises(ConfigError, match=r"'wechat_pay' cannot take HKD \(it takes CNY\)"):
        load_config_file(_write(tmp_path, demo_raw))
    demo_raw["payment"]["rails"] = ["stripe"]
    assert load_config_file(_write(tmp_path, demo_raw)).payment.rails == ("stripe",)


def test_a_rail_listed_twice_is_refused(tmp_path, demo_raw):
    demo_raw["payment"]["rails"] = ["wechat_pay", "alipay", "wechat_pay"]
    with pytest.raises(ConfigError, match="lists a rail twice"):
        load_config_file(_write(tmp_path, demo_raw))


def test_card_autopay_needs_stripe_among_the_rails(demo_raw, tmp_path):
    # GIVEN the Shanghai demo (WeChat Pay and Alipay) asking for card autopay
    demo_raw["payment"]["direct_debit"] = False
    demo_raw["payment"]["card_autopay"] = {"notice_days_before": 3}
    # THEN it is refused with what to do
    with pytest.raises(ConfigError, match=r"add stripe to payment\.rails"):
        load_config_file(_write(tmp_path, demo_raw))


def test_card_autopay_and_direct_debit_are_not_offered_together(demo_raw, tmp_path):
    demo_raw["payment"]["rails"] = ["stripe", "wechat_pay", "alipay"]
    demo_raw["payment"]["card_autopay"] = {"notice_days_before": 3}
    with pytest.raises(ConfigError, match="collect the same bills"):
        load_config_file(_write(tmp_path, demo_raw))
