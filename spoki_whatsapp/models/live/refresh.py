"""Live refresh: tell the open web clients that records changed.

One bus notification ``spoki_whatsapp/refresh`` with ``{model, ids}`` per
model and company per transaction (the ids of the whole batch), sent on the
company's channel (``ir.websocket`` subscribes WhatsApp users to their
companies) when the transaction commits. The web client reloads an open
form or list showing one of those records unless it has unsaved edits, at
most once a second (``static/src/live/``)."""

REFRESH = "spoki_whatsapp/refresh"
_KEY = "spoki_whatsapp.refresh"


def notify_refresh(records):
    """Queue a refresh of ``records`` (company-bound: ``company_id``)."""
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
        pending.setdefault((records._name, record.company_id.id), set()).add(record.id)


def _send(env, pending):
    Bus = env["bus.bus"]
    for (model, company_id), ids in pending.items():
        target = env["res.company"].browse(company_id) if company_id else env.ref("spoki_whatsapp.group_spoki_user")
        Bus._sendone(target, REFRESH, {"model": model, "ids": sorted(ids)})
