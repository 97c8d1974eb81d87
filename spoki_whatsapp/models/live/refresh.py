"""Live refresh: tell the open web clients that records changed.

One bus notification ``spoki_whatsapp/refresh`` with ``{model, ids}`` per
model and company per transaction (the ids of the whole batch), sent on the
company's channel (``ir.websocket`` subscribes WhatsApp users to their
companies) when the transaction commits. The web client reloads an open
form or list showing one of those records unless it has unsaved edits, at
most once a second, and once more ``SETTLE`` later (``static/src/live/``).

A provider event (status, send outcome: ``throttled``) about a record this
process notified less than ``THROTTLE`` seconds ago is not notified again
(``tools/throttle.py``): the client's settle reload shows its changes. A
user's action is always notified. A webhook storm on one campaign then costs one notification a
second, not one per request."""

from ...tools.throttle import RecentlySent

REFRESH = "spoki_whatsapp/refresh"
_KEY = "spoki_whatsapp.refresh"
#: seconds; shorter than the web client's settle reload (2.5 s, live_refresh.js)
THROTTLE = 1.0
_recently_sent = RecentlySent(THROTTLE)


def notify_refresh(records, throttled=False):
    """Queue a refresh of ``records`` (company-bound: ``company_id``).
    ``throttled``: a provider event (status, send outcome) — skipped for a
    record this process notified less than ``THROTTLE`` ago; a user's action
    is always notified."""
    if not records:
        return
    env = records.env
    pending = env.cr.precommit.data.get(_KEY)
    if pending is None:
        pending = env.cr.precommit.data[_KEY] = {}
        su_env = env(su=True)

        @env.cr.precommit.add
        def send():
            _send(su_env, env.cr.precommit.data.pop(_KEY, {}))

    for record in records.sudo():
        ids = pending.setdefault((records._name, record.company_id.id), {})
        ids[record.id] = ids.get(record.id, True) and throttled


def _send(env, pending):
    Bus = env["bus.bus"]
    dbname = env.cr.dbname
    for (model, company_id), ids in pending.items():
        due = set(_recently_sent.due([(dbname, model, record_id) for record_id in sorted(ids)]))
        ids = [
            record_id
            for record_id, throttled in sorted(ids.items())
            if (dbname, model, record_id) in due or not throttled
        ]
        if not ids:
            continue
        target = env["res.company"].browse(company_id) if company_id else env.ref("spoki_whatsapp.group_spoki_user")
        Bus._sendone(target, REFRESH, {"model": model, "ids": ids})


def reset_throttle():
    """Forget what was sent (tests: each starts with nothing sent)."""
    _recently_sent.clear()
