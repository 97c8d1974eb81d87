import secrets

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, ormcache

from ..tools.providers import get_provider, provider_class, provider_selection
from ..tools.providers.http import endpoint_problem
from ..tools.vocabulary import PHONE_STATUS, QUALITY

# Fields holding secrets: readable only by WhatsApp managers (field ``groups``),
# and read with sudo() only where the provider client is built.
CREDENTIAL_FIELDS = (
    "api_endpoint",
    "spoki_api_key",
    "meta_access_token",
    "meta_phone_number_id",
    "meta_waba_id",
    "meta_app_secret",
    "spoki_webhook_secret",
    "webhook_verify_token",
)


class SpokiAccount(models.Model):
    _name = "spoki.account"
    _description = "WhatsApp account"
    _inherit = ["mail.thread"]
    _order = "sequence, id"

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    provider = fields.Selection(
        provider_selection(),
        required=True,
        default="sandbox",
        tracking=True,
    )
    phone = fields.Char("Business phone number", tracking=True)
    portfolio = fields.Char(
        "Business portfolio",
        help="Meta business portfolio the number belongs to. Under Meta's 2025 rule the "
        "messaging limit is shared by all numbers of a portfolio.",
    )
    # credentials (managers only)
    api_endpoint = fields.Char(
        "API endpoint",
        groups="spoki_whatsapp.group_spoki_manager",
        help="Leave empty for the provider's public endpoint.",
    )
    spoki_api_key = fields.Char("Spoki API key", groups="spoki_whatsapp.group_spoki_manager", copy=False)
    meta_access_token = fields.Char("Meta access token", groups="spoki_whatsapp.group_spoki_manager", copy=False)
    meta_phone_number_id = fields.Char("Meta phone number ID", groups="spoki_whatsapp.group_spoki_manager")
    meta_waba_id = fields.Char("WhatsApp Business account ID", groups="spoki_whatsapp.group_spoki_manager")
    meta_app_secret = fields.Char(
        "App secret",
        groups="spoki_whatsapp.group_spoki_manager",
        copy=False,
        help="Meta (and the sandbox): checks the X-Hub-Signature-256 of incoming webhooks.",
    )
    spoki_webhook_secret = fields.Char(
        "Spoki webhook secret",
        groups="spoki_whatsapp.group_spoki_manager",
        copy=False,
        help="The signing secret of the webhook subscribed in Spoki: checks the X-Spoki-Signature of incoming "
        "webhooks. Without it every Spoki webhook is refused.",
    )
    webhook_verify_token = fields.Char(
        "Webhook verify token",
        groups="spoki_whatsapp.group_spoki_manager",
        copy=False,
        default=lambda self: secrets.token_urlsafe(24),
        help="Meta asks for it when you register the webhook address: paste it there.",
    )
    webhook_url = fields.Char(
        "Webhook address",
        compute="_compute_webhook_url",
        help="Where the provider sends incoming messages and delivery receipts: register it in the provider's "
        "webhook settings. It must be reachable from the internet (https).",
    )
    # sandbox behaviour (seconds)
    sandbox_delivery_delay = fields.Integer(
        "Delivered after (seconds)",
        default=2,
        help="Sandbox: how long after sending a message is reported delivered.",
    )
    sandbox_read_delay = fields.Integer(
        "Read after (seconds)",
        default=10,
        help="Sandbox: how long after sending a message is reported read.",
    )
    sandbox_review_delay = fields.Integer(
        "Template in review after (seconds)",
        default=30,
        help="Sandbox: how long after the approval request a template goes into review.",
    )
    sandbox_approve_delay = fields.Integer(
        "Template decided after (seconds)",
        default=120,
        help="Sandbox: how long after the approval request a template is approved (or rejected, when its "
        "text breaks WhatsApp's rules).",
    )

    # status
    quality = fields.Selection(QUALITY, "Quality rating", default="high", required=True, tracking=True)
    phone_status = fields.Selection(PHONE_STATUS, default="connected", required=True, tracking=True)
    tier_policy = fields.Selection(
        [("guide", "Spoki guide"), ("meta", "Meta (October 2025)")],
        default="guide",
        required=True,
        tracking=True,
        help="Spoki guide: tiers of 1,000 / 10,000 / 100,000 / unlimited unique users per 24 h, "
        "promotion at twice the limit in 7 days. Meta 2025: 250 / 2,000 / 10,000 / 100,000 / "
        "unlimited per business portfolio, promotion at half the limit in 7 days.",
    )
    tier_level_id = fields.Many2one(
        "spoki.tier.level",
        "Messaging tier",
        domain="[('policy', '=', tier_policy)]",
        tracking=True,
        ondelete="restrict",
    )
    provider_tier_limit = fields.Integer(
        "Limit reported by the provider",
        default=-1,
        help="-1: the provider doesn't report it (the tier policy decides); 0: unlimited.",
    )
    tier_limit = fields.Integer(
        "Unique users / 24 h",
        compute="_compute_tier_limit",
        help="Limit enforced by the send queue; 0 means unlimited.",
    )
    credit_balance = fields.Float("Credit", digits=(16, 2), tracking=True)
    currency_id = fields.Many2one(related="company_id.currency_id")

    _sql_constraints = [
        ("phone_company_uniq", "unique(phone, company_id)", "This business number already has a WhatsApp account."),
    ]

    # ------------------------------------------------------------
    # COMPUTE / ONCHANGE
    # ------------------------------------------------------------

    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for account in self:
            account.webhook_url = f"{base}/spoki/webhook/{account.id}" if account.id else False

    @api.depends("tier_level_id.max_users", "provider_tier_limit")
    def _compute_tier_limit(self):
        for account in self:
            if account.provider_tier_limit >= 0:
                account.tier_limit = account.provider_tier_limit
            else:
                account.tier_limit = account.tier_level_id.max_users

    @api.constrains("api_endpoint")
    def _check_api_endpoint(self):
        """Credentials travel only over https (plain http only to this
        machine: the tests' fake provider); the HTTP client refuses the same."""
        for account in self.sudo():
            if account.api_endpoint and endpoint_problem(account.api_endpoint):
                raise ValidationError(
                    self.env._(
                        "The API endpoint of %(account)s must be an https:// address "
                        "(plain http:// only to this machine): %(url)s",
                        account=account.name,
                        url=account.api_endpoint,
                    )
                )

    @api.onchange("tier_policy")
    def _onchange_tier_policy(self):
        if self.tier_level_id.policy != self.tier_policy:
            self.tier_level_id = self.env["spoki.tier.level"]._first_level(self.tier_policy)

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("tier_level_id"):
                policy = vals.get("tier_policy") or "guide"
                vals["tier_level_id"] = self.env["spoki.tier.level"]._first_level(policy).id
        accounts = super().create(vals_list)
        accounts._compute_tier_snapshot()
        self.env.registry.clear_cache()  # _webhook_signing: an id may have been asked for before it existed
        return accounts

    def write(self, vals):
        """Switching the tier policy keeps the closest step; tier, quality and
        status changes go through the tier tracking's hook."""
        before = self._tier_before_write(vals)
        if "tier_policy" in vals and "tier_level_id" not in vals:
            for account in self:
                target = account._tier_level_for_policy(vals["tier_policy"])
                super(SpokiAccount, account).write(dict(vals, tier_level_id=target.id))
            result = True
        else:
            result = super().write(vals)
        self._tier_after_write(vals, before)
        if "team_user_ids" in vals:
            self._spoki_team_changed()
        if set(vals) & self._webhook_signing_fields():
            self.env.registry.clear_cache()  # _webhook_signing, in every process (Odoo signals it)
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()  # _webhook_signing
        return result

    def _tier_level_for_policy(self, policy):
        """The step of ``policy`` closest to the current limit without going
        above it (an unlimited account stays unlimited)."""
        self.ensure_one()
        candidates = self.env["spoki.tier.level"].search([("policy", "=", policy)], order="sequence")
        current = self.tier_level_id.max_users
        target = candidates[:1]
        for level in candidates:
            if not current or (level.max_users and level.max_users <= current):
                target = level
        return target

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def _check_manage_access(self):
        """Account actions are for the managers of the account's company:
        checked before any sudo() or provider call."""
        self.check_access("write")

    def action_refresh_status(self):
        """Read quality, phone status, limit and credit back from the provider."""
        self._check_manage_access()
        for account in self:
            info = account._get_provider().get_account_info()
            vals = {"quality": info.quality, "phone_status": info.phone_status}
            if info.tier_limit is not None:
                vals["provider_tier_limit"] = info.tier_limit
            if info.credit is not None:
                vals["credit_balance"] = info.credit
            account.write(vals)
        return True

    def action_regenerate_verify_token(self):
        self._check_manage_access()
        for account in self.sudo():
            account.webhook_verify_token = secrets.token_urlsafe(24)

    # ------------------------------------------------------------
    # PROVIDER
    # ------------------------------------------------------------

    @api.model
    def _webhook_secret_columns(self):
        """``{provider kind: stored field of its webhook secret}``."""
        columns = {}
        for kind, _label in self._fields["provider"].selection:
            try:
                cls = provider_class(kind)
            except ValueError:
                continue
            field = cls.config_fields.get(cls.webhook_secret_key or "")
            if field and self._fields[field].store:
                columns[kind] = field
        return columns

    @api.model
    def _webhook_signing_fields(self):
        """The provider and the fields of every provider's webhook secret."""
        return {"provider", *self._webhook_secret_columns().values()}

    @api.model
    @ormcache("account_id")
    def _webhook_signing(self, account_id):
        """``(provider kind, webhook secret)`` of an account for the webhook
        route, ``(None, None)`` for an unknown one: one SQL statement, then
        kept in the registry's cache (cleared when an account is created,
        deleted, or its provider or a secret changes — in every process,
        Odoo signals it)."""
        columns = self._webhook_secret_columns()
        secret = SQL("NULL")
        if columns:
            secret = SQL(
                "CASE provider %s ELSE NULL END",
                SQL(" ").join(SQL("WHEN %s THEN %s", kind, SQL.identifier(field)) for kind, field in columns.items()),
            )
        self.env.cr.execute(SQL("SELECT provider, %s FROM spoki_account WHERE id = %s", secret, account_id))
        row = self.env.cr.fetchone()
        return (row[0], row[1] or "") if row else (None, None)

    def _provider_class(self):
        self.ensure_one()
        return provider_class(self.provider)

    def _provider_config(self):
        """The config dict the provider client reads: the account fields its
        class names in ``config_fields``, the endpoint, and the HTTP timeout
        (config parameter ``spoki_whatsapp.provider_timeout``, seconds)."""
        self.ensure_one()
        account = self.sudo()
        config = {"account_id": account.id}
        for key, field_name in account._provider_class().config_fields.items():
            config[key] = account[field_name]
        if account.api_endpoint:
            config["endpoint"] = account.api_endpoint
        timeout = self.env["ir.config_parameter"].sudo().get_param("spoki_whatsapp.provider_timeout")
        if timeout:
            try:
                config["timeout"] = float(timeout)
            except ValueError:
                pass
        return config

    def _get_provider(self, clock=None):
        self.ensure_one()
        try:
            return get_provider(self.provider, self._provider_config(), clock=clock)
        except ValueError as exc:
            raise UserError(
                self.env._(
                    "The WhatsApp provider “%(provider)s” is not available: %(error)s",
                    provider=self.provider,
                    error=exc,
                )
            ) from exc
