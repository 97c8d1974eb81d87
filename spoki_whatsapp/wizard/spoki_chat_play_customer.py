"""Sandbox: a WhatsApp user "plays the customer" of a chat, to try the
24-hour window, quick replies and opt-out on a fresh install. Each choice
goes through the webhook path of the sandbox (``_sandbox_simulate_incoming``),
handled like a real customer's message."""

from odoo import api, fields, models
from odoo.exceptions import UserError


class SpokiChatPlayCustomer(models.TransientModel):
    _name = "spoki.chat.play.customer"
    _description = "Play the customer (sandbox)"

    chat_id = fields.Many2one("spoki.chat", "Chat", required=True, ondelete="cascade")
    choice = fields.Selection(
        [
            ("text", "Reply with a text"),
            ("button", "Tap a quick-reply button"),
            ("stop", "Send STOP (opt out)"),
            ("photo", "Send a photo"),
        ],
        "The customer",
        required=True,
        default="text",
    )
    text = fields.Char("Text", help="What the customer writes: it opens the 24-hour window.")
    last_template_id = fields.Many2one("spoki.template", "Last template sent", compute="_compute_last_template")
    button_id = fields.Many2one(
        "spoki.template.button",
        "Button",
        domain="[('template_id', '=', last_template_id), ('button_type', '=', 'quick_reply')]",
        help="A quick-reply button of the last template sent to this contact.",
    )

    @api.depends("chat_id")
    def _compute_last_template(self):
        for wizard in self:
            wizard.last_template_id = wizard.chat_id._sandbox_last_template()

    def action_apply(self):
        self.ensure_one()
        chat = self.chat_id
        chat.check_access("write")
        if self.choice == "text":
            if not (self.text or "").strip():
                raise UserError(self.env._("Write the customer's text."))
            chat._sandbox_simulate_incoming("text", self.text)
        elif self.choice == "button":
            if not self.button_id or self.button_id.template_id != self.last_template_id:
                raise UserError(self.env._("Choose a quick-reply button of the last template sent."))
            chat._sandbox_simulate_incoming("button", self.button_id.text)
        elif self.choice == "stop":
            keywords = (chat.partner_id or self.env["res.partner"])._spoki_optout_keywords()
            chat._sandbox_simulate_incoming("text", "STOP" if "STOP" in keywords or not keywords else min(keywords))
        else:
            chat._sandbox_simulate_incoming("image")
        return {"type": "ir.actions.act_window_close"}
