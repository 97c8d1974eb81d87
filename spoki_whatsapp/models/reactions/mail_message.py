"""An agent's reaction in a WhatsApp channel goes to the customer.

Only on the customer's messages (WhatsApp lets a business react to messages
it received), only inside the 24-hour customer-service window (Meta's rule)
and never to an opted-out contact: otherwise the reaction is refused with a
translated reason and nothing changes. The business has one reaction per
message on WhatsApp (a new one replaces the previous), so adding one removes
the other agents' reactions on that message in Discuss; removing it sends an
empty emoji (Meta's removal).

Sent directly, not through the send queue: the queue exists to send each
*message* exactly once and to count it (tier limit, reports,
conversations). A reaction is neither counted nor billed as a message, and
it is idempotent on WhatsApp — the same reaction sent twice leaves the same
single reaction, a lost answer is repaired by reacting again — so the
queue's crash protocol (attempt recorded and committed before the call,
reconciliation by key) protects nothing here, while a ledger row of its own
would have to be kept out of every report and counter. Sending it in the
agent's request gives an immediate answer instead: a reaction the provider
refuses is not shown (the transaction rolls back). The call is made last,
after every database change of the request."""

from odoo import models
from odoo.exceptions import UserError

from ...tools.providers import ProviderError


class MailMessage(models.Model):
    _inherit = "mail.message"

    def _message_reaction(self, content, action, partner, guest, store=None):
        target = self._spoki_reaction_target(partner)
        if not target:
            return super()._message_reaction(content, action, partner, guest, store=store)
        self._spoki_check_reaction(target)
        mirror = self.with_context(spoki_mirror=True)
        if action == "add":  # one business reaction per message: it replaces the others of the agents
            customer = target._spoki_customer_partner()
            for reaction in self.sudo().reaction_ids.filtered(
                lambda r: r.partner_id != customer and (r.partner_id, r.content) != (partner, content)
            ):
                mirror._message_reaction(reaction.content, "remove", reaction.partner_id, reaction.guest_id)
        result = super(MailMessage, mirror)._message_reaction(content, action, partner, guest, store=store)
        self._spoki_send_reaction(target, content if action == "add" else "")
        return result

    def _spoki_reaction_target(self, partner):
        """The ledger row an agent's reaction on ``self`` goes to WhatsApp
        for, or None (not a WhatsApp message, the customer's own reaction
        being mirrored, an internal note). An agent's reaction on a message
        WhatsApp can't take one for (ours) is refused."""
        self.ensure_one()
        if self.env.context.get("spoki_mirror") or self.model != "discuss.channel" or not partner:
            return None
        # sudo: spoki.message - the ledger row shown by a message the user reacts to
        ledger = self.sudo().spoki_message_id
        if not ledger or self.env["discuss.channel"].sudo().browse(self.res_id).channel_type != "whatsapp":
            return None
        if ledger.direction != "incoming" or not ledger.provider_message_id:
            raise UserError(self.env._("On WhatsApp you can react only to the customer's messages."))
        return ledger

    def _spoki_check_reaction(self, ledger):
        """The agent may write the chat, the provider carries reactions, the
        contact didn't opt out, the customer-service window is open."""
        _ = self.env._
        chat = self.env["spoki.chat"].sudo()._get_or_create(ledger.account_id, ledger.wa_phone, ledger.partner_id)
        chat.with_user(self.env.user).check_access("write")
        chat._check_can_send()
        account = ledger.account_id.sudo()
        if not account._provider_class().supports_reactions:
            label = account._provider_class().label
            raise UserError(_("%(provider)s doesn't carry reactions: answer with a message.", provider=label))
        if not account._open_window_numbers([ledger.wa_phone], self.env["spoki.message"]._now()):
            raise UserError(
                _(
                    "The 24-hour customer-service window with %(number)s is closed: WhatsApp takes reactions only "
                    "inside it.",
                    number=ledger.wa_phone,
                )
            )

    def _spoki_send_reaction(self, ledger, emoji):
        """The provider call (``emoji`` '' removes the reaction)."""
        Message = self.env["spoki.message"].sudo()
        provider = ledger.account_id.sudo()._get_provider(clock=Message._clock())
        try:
            provider.send_reaction(ledger.wa_phone, ledger.provider_message_id, emoji)
        except ProviderError as exc:
            raise UserError(
                self.env._("WhatsApp didn't take the reaction: %(reason)s", reason=Message._reason(exc.code, str(exc)))
            ) from exc
