"""The labels catalog and the Jinja2 environment shared by the pages and the messages."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

import jinja2
import pytest

from propdesk import rendering
from propdesk.rendering import LOCALES, catalog, environment, render_template

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _flatten(section, prefix=""):
    for key, value in section.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{path}.")
        else:
            yield path, value


def _placeholders(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


def test_every_locale_has_the_same_labels_with_the_same_placeholders():
    # GIVEN the catalogs of both locales
    flat = {locale: dict(_flatten(catalog(locale))) for locale in LOCALES}
    # THEN they have exactly the same keys, none empty, and each sentence keeps its {placeholders}
    assert flat["zh-CN"].keys() == flat["en"].keys()
    for key, zh in flat["zh-CN"].items():
        en = flat["en"][key]
        assert isinstance(zh, str) and zh.strip() and isinstance(en, str) and en.strip(), key
        assert _placeholders(zh) == _placeholders(en), key
        # plain names only: no {x.attr} or {x[0]} reaching into the values
        assert all(name.isidentifier() for name in _placeholders(zh) | _placeholders(en)), key


def test_labels_are_plain_text_and_english_ones_are_translated():
    for locale in LOCALES:
        for key, value in _flatten(catalog(locale)):
            assert "<" not in value and "&" not in value, f"{locale} {key}: markup belongs in templates"
    untranslated = [
        key for key, value in _flatten(catalog("en")) if CJK.search(value) and key != "page.switch_language"
    ]
    assert untranslated == []


def test_label_keys_do_not_hide_behind_dict_methods():
    # Jinja looks up t.section.key as an attribute first: a key named "items" would be the method.
    for locale in LOCALES:
        for key, _ in _flatten(catalog(locale)):
            for part in key.split("."):
                assert not hasattr(catalog(locale), part), (
                    f"{locale}: label key {key!r} is shadowed by .{part}"
                )


def test_the_catalog_is_read_once_and_read_only():
    assert catalog("en") is catalog("en")
    with pytest.raises(TypeError):
        catalog("en")["page"]["pay"] = "Steal"  # type: ignore[index]
    with pytest.raises(ValueError):
        catalog("fr")


def test_the_environment_is_built_once_and_escapes_html_only():
    env = environment()
    assert environment() is env
    assert env.undefined is jinja2.StrictUndefined
    html = env.from_string("{{ v }}").render(v="<b>&")  # strings count as HTML
    assert html == "&lt;b&gt;&amp;"
    assert env.autoescape("pages/bill.html") is True
    assert env.autoescape("messages/bill_notice/text.txt") is False
    assert env.autoescape("messages/bill_notice/sms.txt") is False


def test_fill_escapes_sentence_and_values_in_html_and_leaves_text_alone(demo_config):
    # GIVEN a sentence with a placeholder, filled with markup
    sentence = "Dear {name} & co,"
    # WHEN filled in an HTML context, and in a plain-text template
    as_html = environment().from_string("{{ s | fill(name=n) }}").render(s=sentence, n="<script>&")
    plain = render_template(
        "messages/work_order/subject.txt",
        {
            "ticket_id": "T-1",
            "kind": "repair",
            "category": "<script>&",
            "recipient_name": "x",
            "dispatched_at": "2026-07-03T01:00:00+00:00",
            "due_at": "2026-07-03T03:00:00+00:00",
        },
        locale="en",
        config=demo_config,
    )
    # THEN HTML gets entities, plain text gets the characters
    assert as_html == "Dear &lt;script&gt;&amp; &amp; co,"
    assert "(<script>&)" in plain and "&lt;" not in plain and "&amp;" not in plain


def test_a_missing_value_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError):
        environment().from_string("{{ nothing }}").render()
    with pytest.raises(jinja2.UndefinedError):
        render_template("pages/error.html", {"message_key": "no_such_label"}, locale="en", config=None)


def test_templates_live_beside_the_package():
    # Found relative to propdesk/, so they are found from /opt/python in Lambda too.
    assert rendering.TEMPLATES_DIR.parent.name == "propdesk"
    assert (rendering.TEMPLATES_DIR / "pages" / "_base.html").is_file()
    for locale in LOCALES:
        assert (rendering.LABELS_DIR / f"{locale}.toml").is_file()
