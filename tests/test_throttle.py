"""Live refresh throttle (spoki_whatsapp/tools/throttle.py)."""

from spoki_whatsapp.tools.throttle import RecentlySent


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_once_per_window_per_key():
    clock = Clock()
    sent = RecentlySent(1.0, clock=clock)
    assert sent.due(["a", "b"]) == ["a", "b"]
    clock.now += 0.5
    assert sent.due(["a", "c"]) == ["c"], "a was sent 0.5 s ago; c never"
    clock.now += 0.5
    assert sent.due(["a", "b", "c"]) == ["a", "b"], "the window of a and b is over, c's is not"
    sent.clear()
    assert sent.due(["c"]) == ["c"]


def test_memory_bounded():
    clock = Clock()
    sent = RecentlySent(1.0, clock=clock, max_size=10)
    sent.due(range(11))
    clock.now += 2
    assert sent.due([99]) == [99]
    assert len(sent._sent) == 1, "the expired keys were dropped"
