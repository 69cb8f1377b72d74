"""The benchmarks' paced consumer: tasks held to their slots."""

from huey import MemoryHuey

from benchmarks import paced


def test_no_pace_leaves_the_instance_as_it_is(monkeypatch):
    monkeypatch.delenv("HUEY_DESK_BENCH_PACE", raising=False)
    huey = MemoryHuey("unpaced")
    assert paced.paced(huey) is huey and huey._pre_execute == {}


def test_tasks_are_held_to_slots_of_the_rate(monkeypatch):
    monkeypatch.setenv("HUEY_DESK_BENCH_PACE", "100")
    clock = [50.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        clock[0] += seconds

    monkeypatch.setattr(paced.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(paced.time, "sleep", sleep)
    huey = paced.paced(MemoryHuey("paced"))
    hook = huey._pre_execute["bench_pace"]
    for _ in range(3):  # a backlog: each task is held until 10 ms after the one before
        hook(None)
    assert slept == [0.01, 0.01]
    clock[0] += 1.0  # idle for a second: the next task starts at once, no burst follows
    hook(None)
    hook(None)
    assert slept == [0.01, 0.01, 0.01]
