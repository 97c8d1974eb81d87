"""JSON-RPC for integrations: send a template to a number, with values."""

from odoo import models
from odoo.exceptions import AccessError, UserError

from ...tools.phone import normalize_phone


class SpokiAccount(models.Model):
    _inherit = "spoki.account"

    def spoki_send_template(self, number, template, values=None, name=None):
        """Send the approved ``template`` (id or name) of this account to
        ``number`` (any spelling: normalised to E.164) with ``values``
        ({FIELD: value}: ON dynamic fields are stored on the contact, OFF ones
        used for this message only). The contact is found by number or
        created. Returns the queued message's id. For WhatsApp users of the
        account's company (JSON-RPC: ``execute_kw(db, uid, key, 'spoki.account',
        'spoki_send_template', [[account_id], '+39 347 …', 'promo_giugno'],
        {'values': {'COUPON': 'X1'}})``)."""
        self.ensure_one()
        if not self.env.user.has_group("spoki_whatsapp.group_spoki_user"):
            raise AccessError(self.env._("Only WhatsApp users can send WhatsApp messages."))
        self.check_access("read")
        Template = self.env["spoki.template"]
        if isinstance(template, int):
            template = Template.browse(template).exists()
        else:
            template = Template.search(
                [("account_id", "=", self.id), "|", ("name", "=", template), ("provider_name", "=", template)], limit=1
            )
        if not template or template.account_id != self:
            raise UserError(self.env._("No such template on the account %(name)s.", name=self.name))
        template.check_access("read")
        result = normalize_phone(str(number or ""), self.company_id.country_id.code or None)
        if not result.valid:
            raise UserError(self.env._("“%(number)s” is not a valid WhatsApp number.", number=number))
        values = dict(values or {})
        Field = self.env["spoki.dynamic.field"].sudo()
        on_fields = Field._get_by_names(set(values), on_contacts=True)
        Partner = self.env["res.partner"].sudo()
        partner = Partner.search(
            [("wa_phone", "=", result.e164), ("company_id", "in", [False, self.company_id.id])], order="id", limit=1
        ) or Partner.create({"name": name or result.e164, "mobile": result.e164, "company_id": self.company_id.id})
        partner._spoki_set_values({k: v for k, v in values.items() if k in on_fields})
        off = {k: v for k, v in values.items() if k not in on_fields}
        message = self.env["spoki.message"]._enqueue_template(self.sudo(), template.sudo(), partner, payload=off)
        return message.id
