from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import pricing

SESSION = timedelta(hours=24)


class SpokiConversation(models.Model):
    """A 24-hour session: opens at the first message exchanged with a number
    (either direction) when none is open; every message inside its window
    links to it. A message the provider accepted and later reported failed
    was never exchanged: it leaves its session, and a session it opened is
    removed or starts at the next message that did go through
    (``_unlink_failed``).

    This is the reports' "conversazioni" (sessions of 24 h starting at the
    first message exchanged). It is distinct from the *customer-service
    window* that decides whether free text may be sent: that one is 24 h
    after the customer's last incoming message and is computed from the
    messages (``spoki.account._open_window_numbers``)."""

    _name = "spoki.conversation"
    _description = "WhatsApp conversation (24-hour session)"
    _order = "start_at desc, id desc"
    _rec_name = "wa_phone"

    account_id = fields.Many2one("spoki.account", required=True, ondelete="restrict", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    partner_id = fields.Many2one("res.partner", "Contact", ondelete="set null", index="btree_not_null")
    wa_phone = fields.Char("Number", required=True, index=True)
    start_at = fields.Datetime(required=True, index=True)
    end_at = fields.Datetime(required=True)
    opened_by = fields.Selection([("business", "Business"), ("customer", "Customer")], required=True)
    category = fields.Selection(
        [
            ("marketing", "Marketing"),
            ("utility", "Utility"),
            ("authentication", "Authentication"),
            ("service", "Service"),
        ],
        "Billing category",
        help="Meta bills a conversation by the category of the template that opened it, or as service when the "
        "customer opened it.",
    )
    message_ids = fields.One2many("spoki.message", "conversation_id")
    message_count = fields.Integer(compute="_compute_message_count")

    def init(self):
        from odoo.tools.sql import create_index

        create_index(
            self.env.cr, "spoki_conversation_account_phone_idx", self._table, ["account_id", "wa_phone", "end_at"]
        )

    def _compute_message_count(self):
        counts = {
            conversation.id: count
            for conversation, count in self.env["spoki.message"]._read_group(
                [("conversation_id", "in", self.ids)], ["conversation_id"], ["__count"]
            )
        }
        for conversation in self:
            conversation.message_count = counts.get(conversation.id, 0)

    def action_open_chat(self):
        self.ensure_one()
        chat = self.env["spoki.chat"]._get_or_create(self.account_id, self.wa_phone, self.partner_id)
        return chat._action_open()

    @api.model
    def _link_messages(self, messages):
        """Attach ``messages`` (sent or received, not linked yet) to the
        conversation open at their date, opening new ones as needed; in bulk
        (one search, one create, one update per call)."""
        if not messages:
            return self.browse()
        # read in one query (the ORM costs ~15 field reads a message here)
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """SELECT m.id, m.account_id, a.company_id, m.partner_id, m.wa_phone, m.message_date, m.direction,
                          CASE WHEN m.kind = 'template' THEN t.category END
                     FROM spoki_message m
                     JOIN spoki_account a ON a.id = m.account_id
                LEFT JOIN spoki_template t ON t.id = m.template_id
                    WHERE m.id = ANY(%s) AND m.conversation_id IS NULL
                      AND m.state NOT IN ('queued', 'sending', 'failed')
                 ORDER BY m.message_date, m.id""",
                messages.ids,
            )
        )
        if not rows:
            return self.browse()
        existing = self.env.execute_query(
            SQL(
                """SELECT account_id, wa_phone, start_at, end_at, id FROM spoki_conversation
                    WHERE account_id = ANY(%s) AND wa_phone = ANY(%s) AND end_at > %s
                 ORDER BY start_at, id""",
                list({row[1] for row in rows}),
                list({row[4] for row in rows}),
                rows[0][5],
            )
        )
        open_by_key = {}
        for account_id, wa_phone, start_at, end_at, conversation_id in existing:
            open_by_key.setdefault((account_id, wa_phone), []).append([start_at, end_at, conversation_id])
        to_create, assignments = [], []
        for message_id, account_id, company_id, partner_id, wa_phone, when, direction, category in rows:
            key = (account_id, wa_phone)
            slot = next((s for s in open_by_key.get(key, []) if s[0] <= when < s[1]), None)
            if slot is None:
                slot = [when, when + SESSION, None]
                open_by_key.setdefault(key, []).append(slot)
                opened_by = "customer" if direction == "incoming" else "business"
                to_create.append(
                    (
                        slot,
                        (
                            account_id,
                            company_id,
                            partner_id,
                            wa_phone,
                            when,
                            when + SESSION,
                            opened_by,
                            pricing.conversation_category(opened_by, category),
                            self.env.uid,
                        ),
                    )
                )
            assignments.append((message_id, slot))
        created = self.browse()
        if to_create:
            # a credit set earlier in this transaction marks the conversations before these
            self.env["spoki.account"].flush_model(["credit_mark"])
            # One multi-row INSERT (a campaign batch opens one conversation per
            # recipient): the ORM create costs ~1 ms a record here.
            rows = self.env.cr.execute_values(
                """INSERT INTO spoki_conversation (account_id, company_id, partner_id, wa_phone, start_at, end_at,
                                                   opened_by, category, create_uid, write_uid, create_date,
                                                   write_date)
                   SELECT v.account_id, v.company_id, v.partner_id, v.wa_phone, v.start_at, v.end_at, v.opened_by,
                          v.category, v.uid, v.uid, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                     FROM (VALUES %s) AS v(account_id, company_id, partner_id, wa_phone, start_at, end_at,
                                           opened_by, category, uid)
                RETURNING id, account_id, wa_phone, start_at""",
                [values for _slot, values in to_create],
                template="(%s::int, %s::int, %s::int, %s::varchar, %s::timestamp, %s::timestamp, %s::varchar, "
                "%s::varchar, %s::int)",
                page_size=max(len(to_create), 1),
                fetch=True,
            )
            ids = {(account_id, phone, start): cid for cid, account_id, phone, start in rows}
            for slot, values in to_create:
                slot[2] = ids[(values[0], values[3], values[4])]
            created = self.browse(sorted(ids.values()))
        self.env.cr.execute_values(
            """UPDATE spoki_message AS m SET conversation_id = v.cid
                 FROM (VALUES %s) AS v(id, cid) WHERE m.id = v.id""",
            [(message_id, slot[2]) for message_id, slot in assignments],
            template="(%s::int, %s::int)",
            page_size=1000,
        )
        self.env["spoki.message"].invalidate_model(["conversation_id"])
        return created

    @api.model
    def _unlink_failed(self, message_ids):
        """Messages ``message_ids`` failed after the provider accepted them
        (linked to a session when they were accepted): they were never
        exchanged. They leave their session, and the sessions of their
        numbers from the first one touched on are rebuilt from the messages
        that did go through (a session opened by a failed message disappears,
        or starts at the next message exchanged with that number).
        Set-based: three statements, then one ``_link_messages``."""
        if not message_ids:
            return
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """SELECT c.account_id, c.wa_phone, MIN(c.start_at)
                     FROM spoki_message m JOIN spoki_conversation c ON c.id = m.conversation_id
                    WHERE m.id = ANY(%s)
                 GROUP BY c.account_id, c.wa_phone""",
                list(message_ids),
            )
        )
        if not rows:
            return
        accounts, phones, starts = (list(column) for column in zip(*rows))
        # the sessions to rebuild: from the first touched one on, per number
        conversation_ids = [
            cid
            for (cid,) in self.env.execute_query(
                SQL(
                    """SELECT c.id FROM spoki_conversation c
                         JOIN unnest(%s::int[], %s::varchar[], %s::timestamp[]) AS k(account_id, wa_phone, since)
                           ON c.account_id = k.account_id AND c.wa_phone = k.wa_phone AND c.start_at >= k.since
                       FOR UPDATE OF c""",
                    accounts,
                    phones,
                    starts,
                )
            )
        ]
        relink = [
            mid
            for (mid,) in self.env.execute_query(
                SQL(
                    """UPDATE spoki_message SET conversation_id = NULL
                        WHERE conversation_id = ANY(%s) RETURNING id""",
                    conversation_ids,
                )
            )
        ]
        self.env.cr.execute(SQL("DELETE FROM spoki_conversation WHERE id = ANY(%s)", conversation_ids))
        self.invalidate_model()
        self.env["spoki.message"].invalidate_model()  # states and links were written in SQL
        self._link_messages(self.env["spoki.message"].sudo().browse(relink))
