"""Text from reports and the catalog reaches the site as plain text.

The CI of 6ca635e failed on a generated page: evidence cut at 300
characters ended in ``load_to_``, which docutils reads as a reference to
an unknown target. Every cut of such text must parse without a message.
"""

from __future__ import annotations

import pytest
from docutils.core import publish_doctree
from docutils.utils import Reporter

from edge_refarch.validation.conformance.report import rst_text as esc

#: Evidence and reasons as the suite writes them, with every character
#: docutils treats as markup.
TEXTS = [
    "load_to_active_connected_s: 9.78; load_to_scaled_in_connected_s: 11.33",
    "GET http://127.0.0.2:9292/v2/images -> HTTP 500 [cell1] *stale* |x|",
    "`keystone-manage` said: error_1236 <binlog purged> \\ end_",
]


def _messages(rst: str) -> list[str]:
    doc = publish_doctree(rst, settings_overrides={
        "report_level": Reporter.SEVERE_LEVEL + 1, "halt_level": 5})
    return [m.astext() for m in doc.findall(
        lambda n: n.tagname == "system_message")]


@pytest.mark.parametrize("text", TEXTS)
def test_every_cut_parses_as_the_text_itself(text):
    for limit in range(1, len(text) + 1):
        rst = f"- **fail** -- evidence: {esc(text, limit)}"
        assert _messages(rst) == [], (limit, rst)
        shown = publish_doctree(rst).astext()
        want = " ".join(text.split())[:limit].rstrip()
        assert shown.endswith(want), (limit, shown)


def test_whitespace_is_folded():
    assert esc("a\n  b\tc") == "a b c"
