from odoo import api, models
from odoo.tools import SQL

from .refresh import notify_refresh


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    @api.model
    def _spoki_live_notify(self, message_ids=None, account=None, provider_ids=None):
        """The campaigns of messages whose state just changed (by id, or by
        provider id on ``account``) refresh live, with the accounts (the
        dashboard's counters): one SQL query for the batch."""
        if message_ids:
            where = SQL("id = ANY(%s)", list(message_ids))
        elif account and provider_ids:
            where = SQL("account_id = %s AND provider_message_id = ANY(%s)", account.id, list(provider_ids))
        else:
            return
        rows = self.env.execute_query(SQL("SELECT DISTINCT campaign_id, account_id FROM spoki_message WHERE %s", where))
        campaign_ids = {campaign_id for campaign_id, _account_id in rows if campaign_id}
        account_ids = {account_id for _campaign_id, account_id in rows}
        for model, ids in (("spoki.campaign", campaign_ids), ("spoki.account", account_ids)):
            records = self.env[model].sudo().browse(ids)
            records.fetch(["company_id"])  # all notify_refresh reads (not the whole records: send queue, webhooks)
            notify_refresh(records, throttled=True)

    @api.model
    def _spoki_live_notify_campaigns(self, account, campaign_ids):
        """Like :meth:`_spoki_live_notify` when the caller knows the
        campaigns already (the bulk status apply: its UPDATEs return them)."""
        notify_refresh(self.env["spoki.campaign"].sudo().browse({cid for cid in campaign_ids if cid}), throttled=True)
        notify_refresh(account.sudo(), throttled=True)
