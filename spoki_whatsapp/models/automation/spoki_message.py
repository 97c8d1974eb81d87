"""Messages queued by automation rules, in bulk."""

import io
import json

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..spoki_campaign import _copy_text


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    automation_id = fields.Many2one("base.automation", "Automation rule", index="btree_not_null", readonly=True)

    @api.model
    def _spoki_enqueue_template_bulk(self, account, template, partners_by_key, payload=None, tags=None, rule_id=None):
        """Queue ``template`` for the contacts ``{key: partner}`` (a key is
        the caller's record id) the way a campaign chunk does: the template's
        batch renderer, COPY into a temporary table, one INSERT … SELECT, one
        INSERT for the message tags and one for the contacts' tags. The send
        queue then applies the tier limit, opt-outs and the 24-hour rules.
        Returns ``{key: 'queued' | reason}`` (no valid number, a dynamic field
        without value)."""
        _ = self.env._
        result = {}
        template._check_sendable()
        if template.account_id != account:
            raise UserError(_("The template belongs to another WhatsApp account."))
        valid, seen = {}, set()
        for key, partner in partners_by_key.items():
            if partner.id in seen:
                result[key] = _("already queued for this contact")
            elif partner.wa_phone and partner.wa_phone_valid:
                seen.add(partner.id)
                valid[key] = partner
            else:
                result[key] = _("no valid WhatsApp number")
        if not valid:
            return result
        partners = self.env["res.partner"].browse({p.id for p in valid.values()})
        rendered = template._render_for_partners(partners, payload or {})
        buffer = io.StringIO()
        for key, partner in valid.items():
            render = rendered[partner.id]
            if render["missing"]:
                result[key] = _("no value for %(names)s", names=", ".join(render["missing"]))
                continue
            result[key] = "queued"
            values = (
                key,
                partner.id,
                partner.wa_phone,
                render["lang"],
                render["body"],
                json.dumps(render["params"] or [], ensure_ascii=False),
            )
            buffer.write("\t".join(_copy_text(value) for value in values) + "\n")
        if "queued" not in result.values():
            return result
        cr = self.env.cr
        now = self._now()
        self.env.flush_all()
        buffer.seek(0)
        cr.execute("DROP TABLE IF EXISTS spoki_automation_buffer")
        cr.execute(
            """CREATE TEMP TABLE spoki_automation_buffer
                   (key int, partner_id int, wa_phone varchar, lang varchar, body text, params jsonb)"""
        )
        cr.copy_expert("COPY spoki_automation_buffer FROM STDIN", buffer)
        cr.execute(
            SQL(
                """INSERT INTO spoki_message
                       (account_id, company_id, partner_id, wa_phone, template_id, lang, body, template_params,
                        automation_id, message_date, create_uid, create_date, write_uid, write_date, user_id,
                        direction, kind, state, counts_for_limit, attempt_count, priority, active)
                   SELECT %(account)s, %(company)s, b.partner_id, b.wa_phone, %(template)s, b.lang, b.body,
                          b.params, %(rule)s, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s, %(uid)s,
                          'outgoing', 'template', 'queued', FALSE, 0, 5, TRUE
                     FROM spoki_automation_buffer b
                   RETURNING id, partner_id""",
                account=account.id,
                company=account.company_id.id,
                template=template.id,
                rule=rule_id,
                now=now,
                uid=self.env.uid,
            )
        )
        inserted = cr.fetchall()
        cr.execute("DROP TABLE spoki_automation_buffer")
        if tags and inserted:
            cr.execute(
                SQL(
                    """INSERT INTO spoki_message_res_partner_category_rel (message_id, category_id)
                       SELECT m, t FROM unnest(%s::int[]) m, unnest(%s::int[]) t ON CONFLICT DO NOTHING""",
                    [row[0] for row in inserted],
                    tags.ids,
                )
            )
            cr.execute(
                SQL(
                    """INSERT INTO res_partner_res_partner_category_rel (category_id, partner_id)
                       SELECT t, p FROM unnest(%s::int[]) t, unnest(%s::int[]) p ON CONFLICT DO NOTHING""",
                    tags.ids,
                    list({row[1] for row in inserted}),
                )
            )
        self.invalidate_model()
        self.env["res.partner"].invalidate_model(["category_id"])
        self.env["res.partner.category"].invalidate_model(["partner_ids"])
        account._spoki_trigger_send()
        return result
