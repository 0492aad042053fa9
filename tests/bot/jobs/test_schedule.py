"""The runner's timing pieces on their own: the submission gate's backoff, and the due-time heap
keeping its garbage bounded without compacting on every reschedule."""

from __future__ import annotations

from bot.jobs.schedule import DueHeap, RunnerConfig, SubmissionGate


def test_the_gate_backoff_starts_over_once_a_slot_was_free() -> None:
    now = 1_760_000_000.0
    woken: list[bool] = []
    config = RunnerConfig(queue_retry_first=5.0, queue_retry_max=120.0)
    gate = SubmissionGate(config, lambda: now, wake=lambda: woken.append(True))
    assert gate.is_open(now)
    gate.close()
    gate.close()
    assert gate.closed_until == now + 10.0 and not gate.is_open(now + 9.9)
    gate.open()  # a job at Kling finished: its slot is free
    assert gate.is_open(now) and woken == [True]
    gate.close()  # full again: the first wait, not the third
    assert gate.closed_until == now + 5.0
    for _ in range(10):
        gate.close()
    assert gate.closed_until == now + 120.0


def test_the_heap_keeps_at_most_four_entries_per_job_plus_64_and_compacts_only_then() -> None:
    """Rescheduling leaves the old entry behind; the garbage is swept in one go when it reaches
    the bound (so a reschedule costs O(log n) on average, never a walk of all jobs each time)."""
    heap = DueHeap()
    jobs = [f"job{n}" for n in range(10)]
    for n, job_id in enumerate(jobs):
        heap.schedule(job_id, 100.0 + n)
    sizes = []
    for turn in range(1000):
        heap.schedule(jobs[turn % 3], 200.0 + turn)  # three jobs rescheduled over and over
        sizes.append(len(heap._heap))
    bound = 4 * len(jobs) + 64
    assert max(sizes) == bound
    assert sizes.count(len(jobs)) >= 10  # swept back to one entry per job, now and then
    assert len(heap) == len(jobs)
    # The garbage never shows: each job comes out once, at its latest time.
    due = heap.pop_due(10_000.0)
    assert sorted(due) == sorted(jobs) and heap.next_due() is None
    assert due[:7] == jobs[3:]  # the untouched ones (100..109) before the rescheduled ones
