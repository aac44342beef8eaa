"""One PDF renderer for a whole instance: a process with WeasyPrint loaded and warm, on a Unix
socket, forking a child for each PDF.

gunicorn's master starts it once (gunicorn.conf.py), and every worker it forks uses it; a
process without one (the development server, a test) starts its own at its first PDF. It
stops when the process that started it is gone (the end of a pipe it holds closes).

The protocol, one connection per PDF: the child first sends its process id (8 bytes,
big-endian), so that the client can stop it at the time limit; the client sends the seconds of
CPU it may use, the HTML's length and the HTML in UTF-8; the child answers the PDF's length
and the PDF, or closes the connection without one when rendering failed or ran out of CPU
time. No Flask here: run as ``python -m checker.exports.pdf_server SOCKET ALIVE_FD``.
"""

from __future__ import annotations

import gc
import os
import selectors
import signal
import socket
import struct
import sys

LENGTH = struct.Struct(">Q")
LARGEST_HTML = 16 * 1024 * 1024  # a summary page is tens of kilobytes


def read_exactly(connection: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``connection``; ``EOFError`` if it closes first."""
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _serve_one(connection: socket.socket) -> None:
    """In the forked child: read the limit and the HTML, render under the limit, answer the PDF."""
    import resource

    from .pdf_render import render

    connection.sendall(LENGTH.pack(os.getpid()))
    (cpu_seconds,) = LENGTH.unpack(read_exactly(connection, LENGTH.size))
    (size,) = LENGTH.unpack(read_exactly(connection, LENGTH.size))
    if size > LARGEST_HTML:
        return
    html = read_exactly(connection, size).decode("utf-8", "surrogatepass")
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))  # past it the kernel stops the child
    pdf = render(html)
    connection.sendall(LENGTH.pack(len(pdf)) + pdf)


def serve(address: str, alive_fd: int) -> None:
    """Listen at ``address`` until ``alive_fd`` reads end-of-file; fork a child for each PDF."""
    from .pdf_render import warm_up

    warm_up()  # before listening: whoever can connect gets a warm renderer
    gc.freeze()  # the children share the warm pages instead of copying them at each collection
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(address)
    os.chmod(address, 0o600)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    watching = selectors.DefaultSelector()
    watching.register(listener, selectors.EVENT_READ)
    watching.register(alive_fd, selectors.EVENT_READ)
    while True:
        for key, _ in watching.select():
            if key.fd == alive_fd:  # the process that started this one is gone
                os.unlink(address)
                os.rmdir(os.path.dirname(address))  # its private folder, made for it
                return
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                try:
                    _serve_one(connection)
                except BaseException:  # noqa: S110  # the client sees the connection close
                    pass
                finally:
                    os._exit(0)
            connection.close()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
