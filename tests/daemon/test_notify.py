"""The sd_notify client against a real unix datagram socket standing in for systemd: a path and
an abstract name, the watchdog interval from WATCHDOG_USEC and WATCHDOG_PID, and nothing at all
outside systemd."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from pathlib import Path

from rara.daemon.notify import Notifier
from tests.daemon.supervised import FakeSystemd
from tests.kit.patience import patience


def test_messages_reach_a_socket_at_a_path() -> None:
    # a short directory of its own: a unix socket's path must fit in 108 bytes
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        path = str(Path(d) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
            systemd.bind(path)
            with Notifier.from_env({"NOTIFY_SOCKET": path}) as n:
                assert n.ready("reconciled 1 account\nand armed") is True
                n.watchdog()
                n.status("trading 2 strategies")
                n.stopping()
                assert n.sent == 4
            got = [systemd.recv(4096).decode() for _ in range(4)]
    assert got == [
        "READY=1\nSTATUS=reconciled 1 account and armed",  # a newline cannot start a new key
        "WATCHDOG=1",
        "STATUS=trading 2 strategies",
        "STOPPING=1",
    ]


def test_abstract_socket_and_the_watchdog_interval() -> None:
    with FakeSystemd() as systemd:
        env = {"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "60000000"}
        with Notifier.from_env(env) as n:
            assert n.watchdog_interval_s() == 60.0
            assert n.watchdog()
        assert systemd.drain() == ["WATCHDOG=1"]
    mine = {"WATCHDOG_USEC": "5000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier.from_env(mine).watchdog_interval_s() == 5.0
    # the watchdog belongs to another process (we are a child of the service): not ours
    other = {"WATCHDOG_USEC": "5000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier.from_env(other).watchdog_interval_s() is None
    assert Notifier.from_env({"WATCHDOG_USEC": "0"}).watchdog_interval_s() is None


def test_no_notify_socket_is_a_no_op() -> None:
    with Notifier.from_env({}) as n:
        assert not n.enabled
        assert n.ready("up") is False and n.watchdog() is False and n.sent == 0
        assert n.watchdog_interval_s() is None


def test_a_vanished_systemd_is_logged_not_raised() -> None:
    with FakeSystemd() as systemd:
        address = systemd.address
    with Notifier(address) as n:
        assert n.watchdog() is False and n.sent == 0


def test_a_reader_that_stopped_reading_never_blocks_the_sender() -> None:

    results: list[bool] = []
    with FakeSystemd() as systemd, Notifier(systemd.address) as n:
        # the kernel queues a few datagrams per unix socket (net.unix.max_dgram_qlen); past
        # that a blocking send would wait for a reader that never comes
        sender = threading.Thread(target=lambda: results.extend(n.watchdog() for _ in range(500)))
        sender.start()
        sender.join(patience(5.0))
        assert not sender.is_alive(), "a send blocked on a full queue"
        queued = systemd.drain()
    assert len(results) == 500 and results[0] is True and False in results
    assert n.sent == len(queued) == results.count(True)
