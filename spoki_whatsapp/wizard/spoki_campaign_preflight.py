from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools.misc import format_datetime, formatLang

from ..tools import template_rules
from ..tools.campaign_estimate import split_under_limit
from ..tools.phone import default_region, normalize_phone

#: recipients rendered one by one for the estimate; above, a regular sample of that size
PREFLIGHT_RENDER_MAX = 20000
RENDER_CHUNK = 5000


class SpokiCampaignPreflight(models.TransientModel):
    """Pre-flight of a campaign, opened by its Start button: what each group
    of recipients receives (one preview per language, rendered for a sample
    contact of the group), a test send to a number, the estimate (valid,
    opted out, invalid, missing values, duplicates: the campaign's own
    recipient selection) with what fits under today's remaining messaging
    limit and when the rest goes. Start states these figures and calls the
    campaign's own start action."""

    _name = "spoki.campaign.preflight"
    _description = "WhatsApp campaign pre-flight"

    campaign_id = fields.Many2one("spoki.campaign", required=True, ondelete="cascade", readonly=True)
    template_id = fields.Many2one(related="campaign_id.template_id")
    account_id = fields.Many2one(related="campaign_id.account_id")
    scheduled_at = fields.Datetime(related="campaign_id.scheduled_at")
    line_ids = fields.One2many("spoki.campaign.preflight.line", "wizard_id", "What each group receives")
    # the estimate (computed once, when the pre-flight opens)
    selected_count = fields.Integer("Contacts selected", readonly=True)
    valid_count = fields.Integer("Messages to queue", readonly=True, help="Valid numbers with every value.")
    optout_count = fields.Integer("Opted out", readonly=True)
    invalid_count = fields.Integer("Invalid numbers", readonly=True)
    missing_count = fields.Integer("Missing dynamic values", readonly=True)
    duplicate_count = fields.Integer("Duplicate numbers", readonly=True)
    sampled_count = fields.Integer(
        "Contacts checked",
        readonly=True,
        help="Contacts rendered to count missing values (a sample on large campaigns).",
    )
    is_sampled = fields.Boolean("Estimated on a sample", readonly=True)
    limit_value = fields.Integer("Messaging limit (24 h)", readonly=True, help="0: unlimited")
    limit_remaining = fields.Integer("Remaining today", readonly=True)
    now_count = fields.Integer("Fit under today's limit", readonly=True)
    rest_count = fields.Integer("Wait for the limit", readonly=True)
    rest_from = fields.Datetime("The rest goes from", readonly=True)
    last_from = fields.Datetime("The last ones go from", readonly=True)
    day_count = fields.Integer("Days needed", readonly=True)
    summary = fields.Text("On start", readonly=True)
    # test send
    test_line_id = fields.Many2one(
        "spoki.campaign.preflight.line",
        "Send the message of",
        domain="[('wizard_id', '=', id)]",
        help="The group whose message (rendered for its sample contact) is sent as a test.",
    )
    test_number = fields.Char(
        "Test number", help="A WhatsApp number: the test is one message, not part of the campaign."
    )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        wizards = super().create(vals_list)
        for wizard in wizards:
            wizard._fill_preflight()
        return wizards

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_start(self):
        """Start the campaign with its own start action (which checks the
        rights and the campaign again)."""
        self.ensure_one()
        self.campaign_id.action_start()
        return {"type": "ir.actions.act_window_close"}

    def action_send_test(self):
        """Send the chosen group's message to the test number as one message
        through the usual path (queue, opt-out, 24-hour and tier rules): not
        part of the campaign, no contact created."""
        self.ensure_one()
        campaign = self.campaign_id
        campaign.check_access("write")
        if not self.env.user.has_group("spoki_whatsapp.group_spoki_manager"):
            raise AccessError(self.env._("Only WhatsApp managers can send campaign tests."))
        line = self.test_line_id or self.line_ids[:1]
        if not line or not line.sample_partner_id:
            raise UserError(self.env._("The campaign has no recipient to take the values from."))
        account = campaign.account_id.sudo()
        number = self._test_number_e164()
        opted_out = (
            self.env["res.partner"]
            .sudo()
            .with_context(active_test=False)
            .search_count([("wa_phone", "=", number), ("wa_opt_out", "=", True)], limit=1)
        )
        if opted_out:
            raise UserError(
                self.env._("%(number)s opted out of WhatsApp messages: the test is not sent.", number=number)
            )
        template = campaign.template_id.sudo()
        template._check_sendable()
        rendered = template._render_for_partners(line.sample_partner_id, campaign._payload())[line.sample_partner_id.id]
        if rendered["missing"]:
            raise UserError(
                self.env._(
                    "These dynamic fields have no value for %(name)s: %(names)s",
                    name=line.sample_partner_id.display_name,
                    names=", ".join(rendered["missing"]),
                )
            )
        owner = (
            self.env["res.partner"]
            .sudo()
            .search([("wa_phone", "=", number), ("company_id", "in", [False, account.company_id.id])], limit=1)
        )
        message = self.env["spoki.message"]._enqueue(
            account,
            number,
            owner,
            self.env.user,
            {
                "kind": "template",
                "template_id": template.id,
                "lang": rendered["lang"],
                "body": rendered["body"],
                "template_params": rendered["params"],
            },
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "Test message queued for %(number)s (%(lang)s): it goes out under the usual rules "
                    "(opt-out, 24-hour window, messaging limit).",
                    number=number,
                    lang=line.lang_name,
                ),
                "sticky": False,
                "spoki_message_id": message.id,
            },
        }

    # ------------------------------------------------------------
    # PRIVATE
    # ------------------------------------------------------------

    def _test_number_e164(self):
        account = self.campaign_id.account_id.sudo()
        region = default_region(account.phone, account.company_id.country_id.code)
        result = normalize_phone((self.test_number or "").strip(), region)
        if not (self.test_number or "").strip() or not result.valid:
            raise UserError(self.env._("“%(number)s” is not a valid WhatsApp number.", number=self.test_number or ""))
        return result.e164

    def _fill_preflight(self):
        """Fill the estimate and one line per language (as the campaign's
        start would select and render its recipients)."""
        self.ensure_one()
        campaign = self.campaign_id
        campaign.check_access("write")
        if campaign.state not in ("draft", "scheduled"):
            raise UserError(self.env._("Only draft or scheduled campaigns can be started."))
        campaign._check_startable()
        selection = campaign._select_recipients()
        partner_ids = selection["partner_ids"]
        sample_ids = partner_ids
        if len(partner_ids) > PREFLIGHT_RENDER_MAX:
            step = len(partner_ids) / PREFLIGHT_RENDER_MAX
            sample_ids = [partner_ids[int(i * step)] for i in range(PREFLIGHT_RENDER_MAX)]
        groups = self._render_groups(campaign, sample_ids)
        scale = len(partner_ids) / len(sample_ids) if sample_ids else 1.0
        missing = round(sum(group["missing"] for group in groups.values()) * scale)
        valid = len(partner_ids) - missing
        account = campaign.account_id.sudo()
        limit = account._limit_value()
        remaining = account._limit_remaining() if limit else None
        numbers = self._numbers(partner_ids) if limit else []
        free = len(account._limit_contacted_numbers(numbers)) if numbers else 0
        now = self.env["spoki.message"]._now()
        split = split_under_limit(
            valid,
            limit,
            remaining,
            now,
            account._limit_next_free_at() if limit else None,
            free=round(free * valid / len(partner_ids)) if partner_ids else 0,
        )
        self.write(
            {
                "selected_count": len(partner_ids)
                + selection["opted_out"]
                + selection["invalid"]
                + selection["duplicates"],
                "valid_count": valid,
                "optout_count": selection["opted_out"],
                "invalid_count": selection["invalid"],
                "missing_count": missing,
                "duplicate_count": selection["duplicates"],
                "sampled_count": len(sample_ids),
                "is_sampled": len(sample_ids) < len(partner_ids),
                "limit_value": limit or 0,
                "limit_remaining": remaining or 0,
                "now_count": split.now,
                "rest_count": split.rest,
                "rest_from": split.rest_from,
                "last_from": split.last_from if split.rest else False,
                "day_count": split.days,
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "lang": lang,
                            "recipient_count": round(group["count"] * scale),
                            "missing_count": round(group["missing"] * scale),
                            "sample_partner_id": group["sample"],
                            "preview_html": group["preview"],
                        },
                    )
                    for lang, group in groups.items()
                ],
            }
        )
        self.test_line_id = self.line_ids[:1]
        self.summary = self._summary_text(campaign, now)

    def _render_groups(self, campaign, partner_ids):
        """{lang: {'count', 'missing', 'sample', 'preview'}} over
        ``partner_ids``, rendered with the template's batch renderer; the
        sample is the group's first contact with every value (else its first)."""
        template = campaign.template_id.sudo()
        payload = campaign._payload()
        Partner = self.env["res.partner"].sudo().with_context(prefetch_fields=False)
        groups = defaultdict(lambda: {"count": 0, "missing": 0, "sample": False, "complete": False, "body": ""})
        for start in range(0, len(partner_ids), RENDER_CHUNK):
            chunk = partner_ids[start : start + RENDER_CHUNK]
            rendered = template._render_for_partners(Partner.browse(chunk), payload)
            for partner_id in chunk:
                result = rendered[partner_id]
                group = groups[result["lang"]]
                group["count"] += 1
                if result["missing"]:
                    group["missing"] += 1
                if not group["complete"] and (not group["sample"] or not result["missing"]):
                    group.update(sample=partner_id, complete=not result["missing"], body=result["body"])
            self.env.invalidate_all()
        return {
            lang: dict(group, preview=template_rules.preview_html(group["body"], template._buttons_data(lang)))
            for lang, group in sorted(groups.items(), key=lambda item: -item[1]["count"])
        }

    def _numbers(self, partner_ids):
        self.env.cr.execute(SQL("SELECT wa_phone FROM res_partner WHERE id = ANY(%s)", partner_ids))
        return [row[0] for row in self.env.cr.fetchall()]

    def _summary_text(self, campaign, now):
        """The start confirmation: the figures in one sentence."""
        _ = self.env._

        def num(value):
            return formatLang(self.env, value, digits=0)

        def when(value):
            return format_datetime(self.env, value, dt_format="short") if value else ""

        start = (
            _("Scheduled for %(date)s.", date=when(campaign.scheduled_at))
            if campaign.scheduled_at and campaign.scheduled_at > now
            else _("Starting now.")
        )
        parts = [
            start,
            _("%(count)s messages will be queued.", count=num(self.valid_count)),
            _(
                "Left out: %(optout)s opted out, %(invalid)s invalid numbers, %(missing)s with missing dynamic "
                "values, %(duplicates)s duplicates.",
                optout=num(self.optout_count),
                invalid=num(self.invalid_count),
                missing=num(self.missing_count),
                duplicates=num(self.duplicate_count),
            ),
        ]
        if not self.limit_value:
            parts.append(_("No messaging limit: every message can go out now."))
        elif not self.rest_count:
            parts.append(
                _(
                    "All %(count)s fit under today's remaining limit (%(remaining)s of %(limit)s).",
                    count=num(self.now_count),
                    remaining=num(self.limit_remaining),
                    limit=num(self.limit_value),
                )
            )
        else:
            parts.append(
                _(
                    "%(now)s fit under today's remaining limit (%(remaining)s of %(limit)s); the other %(rest)s go "
                    "from %(first)s as the limit frees up, the last ones from %(last)s (%(days)s days).",
                    now=num(self.now_count),
                    remaining=num(self.limit_remaining),
                    limit=num(self.limit_value),
                    rest=num(self.rest_count),
                    first=when(self.rest_from),
                    last=when(self.last_from),
                    days=self.day_count,
                )
            )
        if self.is_sampled:
            parts.append(
                _(
                    "Missing values estimated on %(sample)s of %(count)s contacts.",
                    sample=num(self.sampled_count),
                    count=num(self.valid_count + self.missing_count),
                )
            )
        return " ".join(parts)
