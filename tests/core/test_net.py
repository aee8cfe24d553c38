"""core.net.free_port: a port free to listen on, never from the kernel's ephemeral range (where
any outgoing connection could take it before the server binds it)."""

from __future__ import annotations

import socket

from core.net import _ephemeral_low, free_port


def test_free_ports_are_below_the_ephemeral_range_and_bindable() -> None:
    low = _ephemeral_low()
    ports = {free_port() for _ in range(20)}
    assert all(10_000 <= p < low for p in ports)
    assert len(ports) > 1  # chosen at random, so two servers rarely pick the same one
    for p in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


def test_a_port_in_use_is_never_returned() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        taken = held.getsockname()[1]
        assert all(free_port() != taken for _ in range(200))
