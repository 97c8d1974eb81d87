"""Reactions and quoted replies of WhatsApp messages (issue 12).

**Quoted replies** are ledger data: ``reply_to_id`` is the message a row
quotes — an incoming reply names it in the provider's ``context``, an agent's
reply in Discuss (``parent_id``) is queued with it and the send queue passes
its provider id as ``reply_to`` (Cloud API ``context.message_id``). In Discuss
the mirrored message's ``parent_id`` is the quoted message's, so it shows as
a reply.

**Customer reactions are not ledger rows.** A reaction is not a message: it
doesn't count for the tier limit, the reports or the conversations, and we
don't let it open (or keep open) the customer-service window. Meta defines
the window as opened by the customer's *messages*, reports reactions only on
the business's own messages (so the customer is already talking to us) and
never promises free text after a bare reaction; a window wrongly believed open
makes the send queue send free text Meta refuses (131047), whereas a window
believed closed only asks the agent for a template — we take the safe side.
The customer's current reaction is kept on the reacted-to row
(``customer_reaction``, with its time so that late or repeated webhooks
don't undo a newer one) and shown as the customer's reaction on its
``mail.message`` — when that message is mirrored later (a campaign message,
once the conversation becomes a chat), the reaction comes along.

**The agent's reactions** (``reactions/mail_message.py``) go straight to the
provider, not through the send queue: see there why."""

import logging

from odoo import api, fields, models

_logger = logging.getLogger(__name__)


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    # indexed (the few non-null values): deleting messages (a cancelled campaign's
    # queued ones) looks up the replies to each of them
    reply_to_id = fields.Many2one(
        "spoki.message",
        "Reply to",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
        help="The message this one quotes.",
    )
    customer_reaction = fields.Char(
        "Customer's reaction", readonly=True, copy=False, help="The emoji the customer reacted with (WhatsApp)."
    )
    customer_reaction_at = fields.Datetime("Reacted on", readonly=True, copy=False)

    # ------------------------------------------------------------
    # INBOUND (called by ``_receive_inbound``)
    # ------------------------------------------------------------

    @api.model
    def _spoki_split_reactions(self, account, inbound):
        """Apply the reactions among ``inbound`` (provider items) and return
        the other items (messages). Reactions to a message we don't know are
        logged and ignored."""
        reactions = [item for item in inbound if item.reaction_to]
        if reactions:
            self._spoki_receive_reactions(account, reactions)
        return [item for item in inbound if not item.reaction_to]

    @api.model
    def _spoki_receive_reactions(self, account, reactions):
        rows = (
            self.sudo()
            .with_context(active_test=False)
            .search(
                [("account_id", "=", account.id), ("provider_message_id", "in", [r.reaction_to for r in reactions])]
            )
        )
        by_id = {row.provider_message_id: row for row in rows}
        for item in sorted(reactions, key=lambda r: r.timestamp):
            row = by_id.get(item.reaction_to)
            if not row:
                _logger.info(
                    "WhatsApp: reaction %s of %s to unknown message %s on account %s ignored",
                    item.message_id,
                    item.from_number,
                    item.reaction_to,
                    account.id,
                )
                continue
            if row.customer_reaction_at and item.timestamp < row.customer_reaction_at:
                continue  # an older event than the reaction we show
            row.write({"customer_reaction": item.text or False, "customer_reaction_at": item.timestamp})
            row._spoki_show_customer_reaction()

    @api.model
    def _spoki_reply_to_ids(self, account, inbound):
        """{provider id of an item: id of the row it quotes} for the quoted
        messages we know."""
        quoted = {item.reply_to for item in inbound if item.reply_to}
        if not quoted:
            return {}
        rows = (
            self.sudo()
            .with_context(active_test=False)
            .search([("account_id", "=", account.id), ("provider_message_id", "in", list(quoted))])
        )
        ids = {row.provider_message_id: row.id for row in rows}
        return {item.message_id: ids[item.reply_to] for item in inbound if item.reply_to in ids}

    # ------------------------------------------------------------
    # DISCUSS
    # ------------------------------------------------------------

    def _spoki_customer_partner(self):
        self.ensure_one()
        chat = (
            self.env["spoki.chat"]
            .sudo()
            .search([("account_id", "=", self.account_id.id), ("wa_phone", "=", self.wa_phone)], limit=1)
        )
        return self.partner_id or chat.partner_id

    def _spoki_show_customer_reaction(self):
        """The customer's reaction on the ``mail.message`` of each row (one
        emoji at most, like WhatsApp: a new one replaces the previous), live
        over the bus like any Discuss reaction."""
        for row in self.sudo().filtered("mail_message_id"):
            partner = row._spoki_customer_partner()
            if not partner:
                continue
            message = row.mail_message_id.with_context(spoki_mirror=True)
            guest = self.env["mail.guest"]
            wanted = row.customer_reaction or ""
            for reaction in message.reaction_ids.filtered(lambda r, p=partner: r.partner_id == p):
                if reaction.content != wanted:
                    message._message_reaction(reaction.content, "remove", partner, guest)
            if wanted:
                message._message_reaction(wanted, "add", partner, guest)

    def _spoki_parent_mail_message(self):
        """The ``mail.message`` a mirrored row replies to (its quoted row's)."""
        self.ensure_one()
        return self.sudo().reply_to_id.mail_message_id
