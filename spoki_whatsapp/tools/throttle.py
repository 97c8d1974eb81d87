"""Notifications about the same thing, at most once per window (plain Python).

A storm of status webhooks on one campaign would otherwise send one live
refresh per request, each a ``bus.bus`` row and a new PostgreSQL connection
for the NOTIFY (Odoo never pools connections to the ``postgres`` database).
The web client reloads once more after a burst (``static/src/live/``), so the
changes of a suppressed notification still reach the screen.
"""

import threading
import time


class RecentlySent:
    """Remembers for ``window`` seconds what this process sent.

    :meth:`due` returns the keys not sent within the window, in order, and
    records them as sent now; thread-safe (Odoo's threaded server)."""

    def __init__(self, window, clock=time.monotonic, max_size=50_000):
        self.window = window
        self.clock = clock
        self.max_size = max_size
        self._sent = {}
        self._lock = threading.Lock()

    def due(self, keys):
        now = self.clock()
        with self._lock:
            if len(self._sent) > self.max_size:
                self._sent = {key: at for key, at in self._sent.items() if now - at < self.window}
            due = [key for key in keys if key not in self._sent or now - self._sent[key] >= self.window]
            for key in due:
                self._sent[key] = now
        return due

    def clear(self):
        with self._lock:
            self._sent.clear()


class WakeUps:
    """When to wake a job up for work that keeps arriving, per key: at most
    one wake-up *now* per ``window`` seconds, plus one at the end of the
    window for whatever arrived meanwhile — so that nothing waits more than
    ``window`` for a run, and a burst costs at most two wake-ups a window.

    :meth:`due` returns 0 (wake it up now), a delay in seconds (wake it up
    then), or None (a wake-up already asked covers this arrival: it comes
    after it). Thread-safe (Odoo's threaded server)."""

    def __init__(self, window, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self._next = {}  # key → end of the window of the last wake-up "now"
        self._deferred = {}  # key → the end-of-window wake-up asked already
        self._lock = threading.Lock()

    def due(self, key):
        now = self.clock()
        with self._lock:
            end = self._next.get(key)
            if end is None or now >= end:
                self._next[key] = now + self.window
                return 0.0
            if self._deferred.get(key) == end:
                return None
            self._deferred[key] = end
            return end - now

    def clear(self):
        with self._lock:
            self._next.clear()
            self._deferred.clear()
