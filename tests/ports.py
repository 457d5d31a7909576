"""Free TCP ports on loopback for tests that start local clusters."""

import socket


def free_ports(count):
    """``count`` distinct ports that were free a moment ago (all held open together, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports
