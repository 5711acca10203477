"""`make up` waits for every process to be up: SERVING."""

from __future__ import annotations

from deploy import launcher


def test_a_process_is_up_only_when_serving():
    assert launcher._is_up("SERVING")
    for health in ("NOT_SERVING", "UNAVAILABLE", "SERVICE_UNKNOWN", ""):
        assert not launcher._is_up(health)


def test_a_store_url_is_pointed_at_the_embedded_server_keeping_user_and_database():
    from deploy import stores

    assert stores.with_server("postgresql://postgres@127.0.0.1:5432/chatdb", "127.0.0.1", 41000) == \
        "postgresql://postgres@127.0.0.1:41000/chatdb"
    assert stores.with_server("postgresql://r:pw@db.example:5432/chatdb_demo?sslmode=disable", "127.0.0.1", 41000) == \
        "postgresql://r:pw@127.0.0.1:41000/chatdb_demo?sslmode=disable"
    assert stores.with_server("redis://127.0.0.1:6379/0", "127.0.0.1", 41001) == "redis://127.0.0.1:41001/0"
    assert stores.same_server("postgresql://a@localhost/x", "postgresql://b@127.0.0.1:5432/y", 5432)
    assert not stores.same_server("postgresql://a@127.0.0.1:5433/x", "postgresql://b@127.0.0.1:5432/y", 5432)


def test_a_closed_port_does_not_answer_and_a_remembered_port_is_reused(tmp_path):
    import socket

    from deploy import stores

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert stores.answers(f"redis://127.0.0.1:{port}/0", 6379)
        first = stores.remembered_port(tmp_path / "redis.port")
        assert stores.remembered_port(tmp_path / "redis.port") == first
        (tmp_path / "redis.port").write_text(str(port))  # taken now: another one is picked
        assert stores.remembered_port(tmp_path / "redis.port") != port
    assert not stores.answers(f"redis://127.0.0.1:{port}/0", 6379)


def test_a_pid_file_names_one_process_not_a_reused_pid(tmp_path):
    import os
    import subprocess
    import sys

    p = launcher.Paths(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        launcher._own(p, "worker", child)
        assert launcher.pid_of(p, "worker") == child.pid
        p.pid_file("worker").write_text(f"{os.getpid()} 1")  # our pid, another start time
        assert launcher.pid_of(p, "worker") is None
        assert not p.pid_file("worker").exists()
    finally:
        child.kill()
        child.wait()
        launcher._CHILDREN.clear()
        launcher._STARTED.clear()


def test_sigterm_during_up_stops_everything_like_ctrl_c(tmp_path, monkeypatch, capsys):
    """The foreground test sends SIGINT to a real `chatdb up`; SIGTERM takes the same
    path (checked here in-process: the handler is up's, and up restores the old one)."""
    import os
    import signal
    import time

    stopped = []
    monkeypatch.setattr(launcher, "paths", lambda: launcher.Paths(tmp_path))

    def prepare(p):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises Stop out of here
        raise AssertionError("SIGTERM did not stop up")

    monkeypatch.setattr(launcher, "prepare", prepare)
    monkeypatch.setattr(launcher, "down", lambda p=None, only=None: stopped.append(only) or 0)
    before = signal.getsignal(signal.SIGTERM)
    assert launcher.up(detach=False) == 0
    assert stopped == [None]  # everything, not only what this up started
    assert "SIGTERM: stopping the mesh" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGTERM) == before
