from odoo import fields, models


class SpokiMonthlyReportLine(models.Model):
    """One day of a monthly report (local calendar day of the report's timezone)."""

    _name = "spoki.monthly.report.line"
    _description = "WhatsApp monthly report: daily figures"
    _order = "day, id"

    report_id = fields.Many2one("spoki.monthly.report", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="report_id.company_id", store=True, index=True)
    day = fields.Date(required=True)
    contact_count = fields.Integer("People contacted")
    conversation_count = fields.Integer("Conversations")
    message_count = fields.Integer("Messages exchanged")
    template_count = fields.Integer("Templates sent")
    text_count = fields.Integer("Free messages sent")
    received_count = fields.Integer("Messages received")
    sent_count = fields.Integer("Messages sent")
    delivered_count = fields.Integer("Messages delivered")
    read_count = fields.Integer("Messages read")
    failed_count = fields.Integer("Failed messages")
