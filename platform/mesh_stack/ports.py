"""Is a TCP port free on loopback, and if not, who holds it."""

from __future__ import annotations

import socket

import psutil


def is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def holder_of(port: int) -> str:
    """A description of the process listening on ``port``, as precise as permissions allow."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return "another process (run as root to see which)"
    for conn in connections:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            if conn.pid is None:
                return "a process of another user"
            try:
                proc = psutil.Process(conn.pid)
                cmd = " ".join(proc.cmdline()[:3])[:120]
                return f"pid {conn.pid} ({proc.name()}: {cmd})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return "another process (it may be closing the port)"
