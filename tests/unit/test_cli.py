"""The CLI answers bad input with one line and a non-zero exit."""

from __future__ import annotations

import pytest

from edge_refarch.validation import cli


@pytest.mark.parametrize("argv, words", [
    (["testbed", "up", "--edges", "0"], "at least 1"),
    (["testbed", "up", "--edges", "-3"], "at least 1"),
    (["testbed", "up", "--edges", "1e9"], "whole number"),
    # The topology's own bound (MAX_SITES), before anything is locked.
    (["testbed", "up", "--edges", "5000"], "too many sites: at most 250"),
    (["testbed"], "required"),
    (["nothing"], "invalid choice"),
    (["--model-file", "/nonexistent/model.yaml", "testbed", "status"],
     "model file not found"),
    # Checked before any bring-up or run.
    (["conformance", "run", "--requirement", "EDGE-NOPE-X"],
     "no such requirement"),
    (["conformance", "run", "--expect", "/nonexistent/expected.yaml"],
     "expected-verdicts file not found"),
    (["conformance", "run", "--strict", "--fail-on", "not-run"],
     "--strict means --fail-on fail"),
    (["conformance", "run", "--fail-on", "sometimes"], "invalid choice"),
    (["conformance", "run", "--expect", "x.yaml", "--no-expect"],
     "give one of them"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, words):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert words in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_unknown_deployment_model_is_bad_input(capsys, tmp_path,
                                               monkeypatch):
    monkeypatch.setenv("EDGE_REFARCH_STATE", str(tmp_path / "state"))
    code = cli.main(["testbed", "up", "--model", "hybrid"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown deployment model 'hybrid'" in err
