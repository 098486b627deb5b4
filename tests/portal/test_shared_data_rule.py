"""The rule for tests that read ../shared/data: in CI its absence is a failure, elsewhere a skip that says why."""
import pytest

import tests.conftest as suite


def test_absent_shared_data_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(suite, "SHARED_DATA", tmp_path / "missing")
    monkeypatch.setattr(suite, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        suite.shared_data_path("cwru")
    monkeypatch.setattr(suite, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="absent"):
        suite.shared_data_path("cwru")


def test_present_shared_data_is_returned(monkeypatch, tmp_path):
    (tmp_path / "cwru").mkdir()
    monkeypatch.setattr(suite, "SHARED_DATA", tmp_path)
    assert suite.shared_data_path("cwru") == tmp_path / "cwru"
