"""Ctrl-C and SIGTERM during training: finish the step, save, exit cleanly; a second Ctrl-C aborts."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm


@contextmanager
def stop_on_signals(stopping: Callable[[], bool], request_stop: Callable[[], None]) -> Iterator[None]:
    """Turns SIGINT and SIGTERM into `request_stop()`; SIGINT while `stopping()` raises KeyboardInterrupt."""
    def handle(signum: int, frame: object) -> None:
        if stopping() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request_stop()
        tqdm.write(f"{signal.Signals(signum).name}: stopping after this step and saving a checkpoint "
                   "(Ctrl-C again aborts without saving)")

    try:
        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread, where signals cannot be caught
        previous = {}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
