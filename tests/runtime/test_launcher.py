"""`make up` waits for every process to be up: SERVING, or for a placeholder process
(one whose issue has not landed; none is left since the gateway landed) NOT_SERVING,
which its table shows as "placeholder"."""

from __future__ import annotations

from deploy import launcher


def test_a_placeholder_process_is_up_when_it_answers_not_serving(monkeypatch):
    monkeypatch.setattr(launcher, "PLACEHOLDERS", frozenset({"some-service"}))
    for name in ("some-service",):
        assert launcher._table_health(name, "NOT_SERVING") == "placeholder"
        assert launcher._is_up(launcher._table_health(name, "NOT_SERVING"))
        assert not launcher._is_up(launcher._table_health(name, "UNAVAILABLE"))  # not started yet


def test_a_real_process_is_up_only_when_serving():
    for name in ("gateway", "connector", "registry", "parser", "training", "prediction", "worker"):
        assert launcher._table_health(name, "NOT_SERVING") == "NOT_SERVING"
        assert not launcher._is_up("NOT_SERVING")
        assert launcher._is_up(launcher._table_health(name, "SERVING"))
