"""check(...) in a notebook has a per-exercise time limit: a student's endless loop is stopped and
reported as "timeout" (with the seed), the kernel keeps working, and nothing of the alarm is left."""
from __future__ import annotations

import signal
import threading
import time

import pytest
import torch

from ppo_grpo_lab.grade import EXERCISES, check, grade
from ppo_grpo_lab.grade.time_limit import DEFAULT_TIMEOUT, TimeLimitExceeded, time_limit

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no SIGALRM on this platform")


def kl_k3(log_probs, ref_log_probs):  # a correct answer written by hand
    log_ratio = ref_log_probs - log_probs
    return torch.exp(log_ratio) - 1 - log_ratio


def endless(log_probs, ref_log_probs):
    while True:
        pass


def stubborn(log_probs, ref_log_probs):
    """Swallows the first alarm (a bare except), then loops again."""
    try:
        while True:
            pass
    except BaseException:  # noqa: BLE001
        pass
    while True:
        pass


def _alarm_is_off():
    return signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getsignal(signal.SIGALRM) in (
        signal.SIG_DFL, signal.default_int_handler, None)


def test_check_stops_an_endless_loop_and_says_so():
    t0 = time.monotonic()
    with pytest.raises(AssertionError, match=r"kl_k3: TIMEOUT: still running after 0.5 s") as info:
        check("kl_k3", endless, seed=3, timeout=0.5)
    assert time.monotonic() - t0 < 5
    assert "seed 3" in str(info.value).lower() and "timeout=1" in str(info.value)
    assert _alarm_is_off()


def test_a_timeout_can_be_returned_instead_of_raised(capsys):
    result = check("kl_k3", endless, seed=4, timeout=0.3, raise_on_fail=False)
    assert (result.status, result.passed, result.seed, result.points) == ("timeout", False, 4, 0.0)
    assert "TIMEOUT" in capsys.readouterr().out


def test_a_loop_that_swallows_the_first_alarm_is_stopped_by_the_next():
    t0 = time.monotonic()
    result = grade("kl_k3", stubborn, seed=0, timeout=0.3)
    assert result.status == "timeout" and 1.2 < time.monotonic() - t0 < 5
    assert _alarm_is_off()


def test_a_correct_answer_passes_within_the_default_limit(capsys):
    assert DEFAULT_TIMEOUT == 20.0  # the command line's --timeout default
    assert all(ex.timeout >= DEFAULT_TIMEOUT for ex in EXERCISES.values())
    assert check("kl_k3", kl_k3, seed=1).passed
    assert check("kl_k3", kl_k3, seed=1, timeout=0).passed  # no limit
    assert _alarm_is_off()


def test_the_kernel_works_after_a_timeout():
    grade("kl_k3", endless, seed=0, timeout=0.2)
    time.sleep(1.5)  # a leftover interval timer would fire here
    assert grade("kl_k3", kl_k3, seed=0, timeout=5).passed


def test_time_limit_itself():
    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.1):
            time.sleep(2)
    with time_limit(None):
        time.sleep(0.05)
    with time_limit(5):
        pass
    assert _alarm_is_off()
    with pytest.raises(ValueError, match="positive finite"):
        with time_limit(float("inf")):
            pass


def test_outside_the_main_thread_there_is_no_limit_and_no_error():
    out = []

    def work():
        with time_limit(0.05):
            time.sleep(0.2)
        out.append(grade("kl_k3", kl_k3, seed=2, timeout=0.05).status)

    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    assert out == ["passed"]


def test_check_uses_the_exercise_s_own_limit(monkeypatch):
    monkeypatch.setattr(EXERCISES["kl_k3"], "timeout", 0.4)
    result = check("kl_k3", endless, seed=5, raise_on_fail=False, verbose=False)
    assert result.status == "timeout" and "after 0.4 s" in result.message
    assert grade("kl_k3", kl_k3, seed=5).passed  # grade() itself has no limit unless asked
