"""Live refresh throttle (spoki_whatsapp/tools/throttle.py)."""

from spoki_whatsapp.tools.throttle import RecentlySent, WakeUps


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


def test_wake_ups_now_then_at_the_end_of_the_window():
    """The apply cron's triggers (spoki.webhook.inbox._trigger_apply): a
    burst costs two wake-ups a window, and nothing stored waits longer than
    the window (before: a body stored within the second after a trigger had
    none, and waited for the cron's minute if the run had already read)."""
    clock = Clock()
    wake = WakeUps(1.0, clock=clock)
    assert wake.due("db") == 0.0  # the first body: now
    clock.now += 0.3
    assert abs(wake.due("db") - 0.7) < 1e-9  # within the second: at its end
    clock.now += 0.2
    assert wake.due("db") is None  # that end-of-second run will see it too
    assert wake.due("other db") == 0.0
    clock.now += 0.5  # the second is over
    assert wake.due("db") == 0.0
    assert wake.due("db") == 1.0
    wake.clear()
    assert wake.due("db") == 0.0
