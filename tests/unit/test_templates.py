"""Non-INI configuration files from templates (validation/testbed/
templates.py)."""

import string

import pytest

from edge_refarch.validation.testbed import templates


def test_every_placeholder_is_filled():
    text = templates.render("rabbitmq.conf", address="127.0.2.1",
                            port=5672, password="pa$$word")
    assert "listeners.tcp.default = 127.0.2.1:5672\n" in text
    # A value is inserted as it is, dollars included.
    assert "default_pass = pa$$word\n" in text


def test_a_missing_value_is_an_error_not_an_empty_option():
    with pytest.raises(KeyError, match="password"):
        templates.render("rabbitmq.conf", address="127.0.2.1", port=5672)


@pytest.mark.parametrize("name", sorted(
    p.name for p in templates.DIRECTORY.iterdir()))
def test_templates_hold_no_stray_dollar(name):
    """Every $ in a template starts a placeholder (a literal $ in Apache or
    Shibboleth syntax would need $$)."""
    text = (templates.DIRECTORY / name).read_text()
    pattern = string.Template.pattern
    for match in pattern.finditer(text):
        assert match.group("invalid") is None, (name, match.start())
