"""Credit of a WhatsApp account: the provider's real balance when it gives
one (Spoki's API), the sandbox's simulated one (the credit set on the account
minus the conversations opened since, at the price list), or a plain "not
reported" (Meta bills afterwards and reports no balance). The price list is
Meta's per-category one (``tools/pricing.py``), overridable per account.

The sandbox's consumption is counted from the conversations when read, never
written per conversation: the send queue's workers never contend for the
account's row."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ...tools import pricing


class SpokiAccount(models.Model):
    _inherit = "spoki.account"

    credit_prices = fields.Text(
        "Price list",
        help="Price of one conversation per category, one “category = price” a line (marketing, utility, "
        "authentication, service); a category left out costs Meta's default rate for Italy. The sandbox "
        "consumes its credit at these prices.",
    )
    credit_mark = fields.Integer(
        "Last conversation before the credit was set",
        compute="_compute_credit_mark",
        store=True,
        readonly=True,
        copy=False,
        help="The credit set (by hand or by the provider's read-back) is consumed by the conversations opened "
        "after it (ids above this one).",
    )
    credit_left = fields.Float(
        "Credit left",
        digits=(16, 2),
        compute="_compute_credit_left",
        help="The sandbox: the credit set minus the conversations opened since, at the price list. "
        "Other providers: the balance they report.",
    )
    credit_reported = fields.Boolean(
        "Credit reported", compute="_compute_credit_reported", help="The provider gives a credit balance."
    )

    @api.constrains("credit_prices")
    def _check_credit_prices(self):
        for account in self:
            try:
                pricing.parse_prices(account.credit_prices)
            except ValueError as exc:
                raise ValidationError(self.env._("Price list: %(problem)s", problem=exc)) from None

    @api.depends("credit_balance")
    def _compute_credit_mark(self):
        self.env["spoki.conversation"].flush_model()
        ((mark,),) = self.env.execute_query(SQL("SELECT COALESCE(MAX(id), 0) FROM spoki_conversation"))
        for account in self:
            account.credit_mark = mark

    @api.depends("provider")
    def _compute_credit_reported(self):
        for account in self:
            account.credit_reported = bool(account.provider and account._provider_class().reports_credit)

    @api.depends("credit_balance", "credit_mark", "credit_prices", "provider")
    def _compute_credit_left(self):
        simulated = self.filtered(lambda a: a.id and a.provider and a._provider_class().simulated)
        consumed = simulated._credit_consumed()
        for account in self:
            account.credit_left = round(account.credit_balance - consumed.get(account.id, 0.0), 2)

    def _credit_prices(self):
        """The account's price list: the defaults with its overrides."""
        self.ensure_one()
        try:
            return pricing.price_list(pricing.parse_prices(self.credit_prices))
        except ValueError:
            return pricing.price_list()

    def _credit_consumed(self):
        """``{account id: credit consumed by the conversations opened since its
        credit was set}`` (one query)."""
        if not self:
            return {}
        self.flush_model(["credit_mark"])
        self.env["spoki.conversation"].flush_model(["account_id", "category"])
        counts = {}
        for account_id, category, count in self.env.execute_query(
            SQL(
                """SELECT c.account_id, COALESCE(c.category, 'service'), COUNT(*)
                     FROM spoki_conversation c JOIN spoki_account a ON a.id = c.account_id
                    WHERE c.account_id = ANY(%s) AND c.id > COALESCE(a.credit_mark, 0)
                 GROUP BY 1, 2""",
                self.ids,
            )
        ):
            counts.setdefault(account_id, {})[category] = count
        return {
            account.id: pricing.consumption(counts.get(account.id, {}), account._credit_prices()) for account in self
        }

    def _credit_figure(self):
        """What a credit card shows: ``{"value": float or None, "real": bool,
        "note": str}``; ``value`` is None when the provider reports no credit."""
        self.ensure_one()
        _ = self.env._
        if not self.credit_reported:
            return {
                "value": None,
                "real": False,
                "note": _(
                    "%(provider)s doesn't report a credit balance: the conversations are billed by the "
                    "provider afterwards (see its billing page).",
                    provider=dict(self._fields["provider"]._description_selection(self.env)).get(self.provider, ""),
                ),
            }
        if self._provider_class().simulated:
            return {
                "value": self.credit_left,
                "real": False,
                "note": _("Simulated: each conversation consumes its price (Price list of the account)."),
            }
        return {"value": self.credit_balance, "real": True, "note": ""}
