from datetime import datetime

import pytz

from odoo.addons.spoki_whatsapp.tests.common import SpokiCommon

ROME = pytz.timezone("Europe/Rome")
#: the fixed clock of the tests (naive UTC): 15 April 2025, 12:00 in Rome
NOW = datetime(2025, 4, 15, 10, 0, 0)


def rome(*args):
    """Naive UTC datetime of a wall-clock time in Europe/Rome."""
    return ROME.localize(datetime(*args)).astimezone(pytz.utc).replace(tzinfo=None)


class SpokiReportsCommon(SpokiCommon):
    """SpokiCommon + users in Europe/Rome and helpers writing message
    histories directly (batch create, no provider involved)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        (cls.manager | cls.agent | cls.agent_b).write({"tz": "Europe/Rome"})
        cls.Message = cls.env["spoki.message"].with_context(active_test=False)
        cls.Conversation = cls.env["spoki.conversation"]

    @classmethod
    def _msg(cls, account, phone, when, direction="outgoing", kind="template", state="sent", counts=None, **extra):
        """Values of one message (``counts`` defaults to: outgoing template)."""
        if counts is None:
            counts = direction == "outgoing" and kind == "template"
        if direction == "incoming":
            kind, state = "text", "received"
        vals = {
            "account_id": account.id,
            "wa_phone": phone,
            "direction": direction,
            "kind": kind,
            "state": state,
            "counts_for_limit": counts,
            "message_date": when,
        }
        if state in ("sent", "delivered", "read"):
            vals["sent_at"] = when
        if state in ("delivered", "read"):
            vals["delivered_at"] = when
        if state == "read":
            vals["read_at"] = when
        if state == "failed":
            vals["failed_at"] = when
        if state == "received":
            vals["received_at"] = when
        vals.update(extra)
        return vals

    @classmethod
    def _create_messages(cls, vals_list):
        return cls.env["spoki.message"].create(vals_list)

    @classmethod
    def _conv(cls, account, phone, start, opened_by="business"):
        from datetime import timedelta

        return {
            "account_id": account.id,
            "wa_phone": phone,
            "start_at": start,
            "end_at": start + timedelta(hours=24),
            "opened_by": opened_by,
        }

    @classmethod
    def _create_march_history(cls):
        """The hand-made March 2025 history of account A (see test_monthly_report
        for the expected figures), with neighbours in February/April and on
        account B that must not count."""
        a, b = cls.account, cls.account_b
        p = "+39347000000"
        cls.march_messages = cls._create_messages(
            [
                # 1..3: number 1 on 1 March from 00:00:00 local (still 28 Feb in UTC)
                cls._msg(a, p + "1", rome(2025, 3, 1, 0, 0, 0), state="read"),
                cls._msg(a, p + "1", rome(2025, 3, 1, 10, 0, 0), direction="incoming"),
                cls._msg(a, p + "1", rome(2025, 3, 1, 10, 5, 0), kind="text", state="delivered"),
                # 4, 5: 23:59:59 and 00:00:00 local land in different days
                cls._msg(a, p + "2", rome(2025, 3, 10, 23, 59, 59), state="sent"),
                cls._msg(a, p + "3", rome(2025, 3, 11, 0, 0, 0), state="delivered"),
                # 6, 7: failed and queued: not exchanged
                cls._msg(a, p + "4", rome(2025, 3, 15, 12, 0, 0), state="failed"),
                cls._msg(a, p + "5", rome(2025, 3, 20, 9, 0, 0), state="queued"),
                # 8, 9: last second of March in Rome (CEST, UTC+2)
                cls._msg(a, p + "2", rome(2025, 3, 31, 23, 59, 59), kind="text", state="read"),
                cls._msg(a, p + "6", rome(2025, 3, 31, 23, 59, 59), direction="incoming"),
                # outside March (local time) or on another account
                cls._msg(a, p + "7", rome(2025, 2, 28, 23, 59, 59), state="read"),
                cls._msg(a, p + "8", rome(2025, 4, 1, 0, 0, 0), direction="incoming"),
                cls._msg(b, "+34612000001", rome(2025, 3, 15, 12, 0, 0), state="read"),
            ]
        )
        cls.march_conversations = cls.Conversation.create(
            [
                cls._conv(a, p + "1", rome(2025, 3, 1, 0, 0, 0)),
                cls._conv(a, p + "2", rome(2025, 3, 10, 23, 59, 59)),
                cls._conv(a, p + "3", rome(2025, 3, 11, 0, 0, 0)),
                cls._conv(a, p + "6", rome(2025, 3, 31, 23, 59, 59), "customer"),
                cls._conv(a, p + "7", rome(2025, 2, 28, 23, 59, 59)),
                cls._conv(a, p + "8", rome(2025, 4, 1, 0, 0, 0), "customer"),
                cls._conv(b, "+34612000001", rome(2025, 3, 15, 12, 0, 0)),
            ]
        )


#: The page-side helpers of the dashboard browser tests: ``wait(selector,
#: predicate)`` for an element, ``text(el)``.
WAIT_JS = """
const wait = async (selector, predicate = () => true, timeout = 20000) => {
    const start = Date.now();
    while (Date.now() - start < timeout) {
        const el = document.querySelector(selector);
        if (el && predicate(el)) {
            return el;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`Timeout waiting for ${selector}`);
};
const text = (el) => el.textContent.trim();
"""
