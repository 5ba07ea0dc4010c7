"""While the worker waits for verification samples it must not hold up webhooks."""

from __future__ import annotations

import threading

from arf.api.server import WaitingClock, WriterLock


def test_the_worker_lets_go_of_the_writer_lock_while_it_waits() -> None:
    lock = WriterLock()
    clock = WaitingClock(lock)
    waiting = threading.Event()

    def worker() -> None:
        with lock:
            waiting.set()
            clock.sleep(2.0)

    thread = threading.Thread(target=worker)
    thread.start()
    waiting.wait(5)
    with lock:
        still_waiting = thread.is_alive()  # acquired while the worker still waits
    thread.join(5)
    assert still_waiting


def test_a_thread_that_does_not_hold_the_lock_just_sleeps() -> None:
    lock = WriterLock()
    WaitingClock(lock).sleep(0.01)
    with lock:  # still usable: nothing was released that was not held
        pass
