"""chatchat.jobs: a job function in its own thread, its progress, its result or error, its cancel event."""

import threading

import pytest

from chatchat.jobs import Job


def test_events_come_in_order_from_the_job_thread_then_the_result():
    seen_in: list[str] = []

    def work(progress, cancel):
        seen_in.append(threading.current_thread().name)
        for step in range(5):
            progress(step)
        return "finished"

    job = Job(work, name="test-job")
    assert list(job.events()) == [0, 1, 2, 3, 4]
    assert job.result() == "finished"
    assert job.done and seen_in == ["test-job"]


def test_the_error_is_raised_in_the_caller_after_the_events_before_it():
    def work(progress, cancel):
        progress("parse")
        raise ValueError("bad file")

    job = Job(work)
    assert list(job.events()) == ["parse"]
    with pytest.raises(ValueError, match="bad file"):
        job.result()


def test_a_keyboard_interrupt_in_the_job_still_ends_the_events_and_is_raised():
    def work(progress, cancel):
        raise KeyboardInterrupt

    job = Job(work)
    assert list(job.events()) == []
    with pytest.raises(KeyboardInterrupt):
        job.result()


def test_idle_ticks_while_a_long_stage_reports_nothing():
    release = threading.Event()

    def work(progress, cancel):
        progress("start")
        release.wait(10)
        progress("end")
        return 1

    job = Job(work)
    seen = []
    for event in job.events(idle=0.02):
        seen.append(event)
        if seen.count(None) == 3:
            release.set()
    assert seen[0] == "start" and seen[-1] == "end"
    assert seen.count(None) >= 3 and set(seen) == {"start", None, "end"}
    assert job.result() == 1


def test_cancel_is_the_event_the_job_sees():
    started = threading.Event()

    def work(progress, cancel):
        started.set()
        return "stopped" if cancel.wait(10) else "timed out"

    mine = threading.Event()
    job = Job(work, cancel=mine)
    assert job.cancel is mine
    started.wait(5)
    assert not job.done
    mine.set()
    assert job.result() == "stopped"


def test_leaving_the_loop_early_does_not_stop_the_job():
    def work(progress, cancel):
        for step in range(100):
            progress(step)
        return "all done"

    job = Job(work)
    for event in job.events():
        if event == 3:
            break
    assert not job.cancel.is_set()
    assert job.result() == "all done"
