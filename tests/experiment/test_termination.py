"""SIGTERM raised as an interrupt for the command line (recarena.experiment.termination)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from recarena.experiment.termination import Terminated, sigterm_as_interrupt


def test_sigterm_raises_terminated_inside_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)  # handled before the next statement
        pytest.fail("SIGTERM did not interrupt the block")
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_second_sigterm_while_cleaning_up_is_not_caught() -> None:
    seen = None
    with sigterm_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except Terminated:
            seen = signal.getsignal(signal.SIGTERM)
    assert seen is signal.SIG_DFL


def test_terminated_is_an_interrupt() -> None:
    assert issubclass(Terminated, KeyboardInterrupt)


def test_outside_the_main_thread_the_block_runs_unchanged() -> None:
    result: list[object] = []

    def body() -> None:
        with sigterm_as_interrupt():
            result.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert result == [signal.getsignal(signal.SIGTERM)]
