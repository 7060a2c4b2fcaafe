"""A helper for GIL-release tests: a Python thread that counts while the test blocks."""

import threading
import time
from contextlib import contextmanager


@contextmanager
def ticker(interval=0.01):
    """Yields a list that another Python thread appends to every `interval` seconds; it can
    only grow while the calling thread has released the GIL or is between bytecodes."""
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(1)
            time.sleep(interval)

    thread = threading.Thread(target=count)
    thread.start()
    try:
        yield ticks
    finally:
        done.set()
        thread.join()
