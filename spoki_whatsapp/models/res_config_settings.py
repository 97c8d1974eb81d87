from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    spoki_help_training_url = fields.Char(related="company_id.spoki_help_training_url", readonly=False)
    spoki_help_rules_url = fields.Char(related="company_id.spoki_help_rules_url", readonly=False)
    spoki_help_videos_url = fields.Char(related="company_id.spoki_help_videos_url", readonly=False)
    spoki_optout_keywords = fields.Char(related="company_id.spoki_optout_keywords", readonly=False)
    spoki_send_batch_size = fields.Integer(
        "Send batch size",
        config_parameter="spoki_whatsapp.send_batch_size",
        default=500,
        help="Messages taken by the send-queue job per batch (each batch is committed).",
    )
    spoki_max_attempts = fields.Integer(
        "Send attempts",
        config_parameter="spoki_whatsapp.max_attempts",
        default=5,
        help="Attempts on temporary provider errors before a message fails.",
    )
