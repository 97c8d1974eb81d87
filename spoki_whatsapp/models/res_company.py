from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    spoki_help_training_url = fields.Char("WhatsApp training URL", default="https://spoki.it/formazione/")
    spoki_help_rules_url = fields.Char("WhatsApp rules URL", default="https://business.whatsapp.com/policy")
    spoki_help_videos_url = fields.Char("WhatsApp video tutorials URL", default="https://www.youtube.com/@spoki")
    spoki_optout_keywords = fields.Char(
        "Opt-out keywords",
        default="STOP, ANNULLA, DISISCRIVIMI, UNSUBSCRIBE",
        help="Comma-separated words: an incoming message made of one of them opts the contact out.",
    )
