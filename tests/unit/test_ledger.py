"""The suite's ledger of stacks (validation/conformance/ledger.py)."""

from edge_refarch.validation.conformance import ledger


def test_recorded_gives_each_entry_of_a_kind_once_in_order(tmp_path):
    path = tmp_path / "state" / "ledger.jsonl"
    ledger.record(path, "stack", "edge1", "http://e1/v1/p/stacks/a/1")
    ledger.record(path, "stack", "edge2", "http://e2/v1/p/stacks/b/2")
    ledger.record(path, "other", "edge1", "http://e1/x")
    ledger.record(path, "stack", "edge1", "http://e1/v1/p/stacks/a/1")
    assert [e["url"] for e in ledger.recorded(path, "stack")] == [
        "http://e1/v1/p/stacks/a/1", "http://e2/v1/p/stacks/b/2"]
    assert ledger.recorded(path, "stack")[1]["site"] == "edge2"
    assert (path.stat().st_mode & 0o777) == 0o600


def test_a_line_cut_by_a_killed_writer_is_passed_over(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger.record(path, "stack", "edge1", "http://e1/s/1")
    with open(path, "a") as fh:
        fh.write('{"kind": "stack", "site": "ed')
    assert [e["url"] for e in ledger.recorded(path, "stack")] == [
        "http://e1/s/1"]
    # The next entry starts on a line of its own.
    ledger.record(path, "stack", "edge2", "http://e2/s/2")
    assert [e["url"] for e in ledger.recorded(path, "stack")] == [
        "http://e1/s/1", "http://e2/s/2"]


def test_no_ledger_is_an_empty_one_and_forget_empties_it(tmp_path):
    path = tmp_path / "ledger.jsonl"
    assert ledger.recorded(path, "stack") == []
    ledger.forget(path)
    ledger.record(path, "stack", "edge1", "http://e1/s/1")
    ledger.forget(path)
    assert ledger.recorded(path, "stack") == []


def test_stack_url_is_the_self_link():
    stack = {"id": "1", "links": [
        {"href": "http://h/v1/p/stacks/s/1/events", "rel": "events"},
        {"href": "http://h/v1/p/stacks/s/1", "rel": "self"}]}
    assert ledger.stack_url(stack) == "http://h/v1/p/stacks/s/1"
