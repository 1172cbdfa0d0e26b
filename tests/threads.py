"""A thread of someone else's, running for the length of a block (for the tests of what this process
may do while other threads run: fork, end without teardown)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def another_thread(name: str = "someone-else") -> Iterator[threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name=name)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join()
