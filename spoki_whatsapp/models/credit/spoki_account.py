"""Credit of a WhatsApp account: the provider's real balance when it gives
one (Spoki's API), the sandbox's own balance consumed conversation by
conversation at the price list, or a plain "not reported" (Meta bills
afterwards and reports no balance). The price list is Meta's per-category one
(``tools/pricing.py``), overridable per account."""

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

    @api.depends("provider")
    def _compute_credit_reported(self):
        for account in self:
            account.credit_reported = bool(account.provider and account._provider_class().reports_credit)

    def _credit_prices(self):
        """The account's price list: the defaults with its overrides."""
        self.ensure_one()
        try:
            return pricing.price_list(pricing.parse_prices(self.credit_prices))
        except ValueError:
            return pricing.price_list()

    @api.model
    def _credit_consume(self, counts, refund=False):
        """Conversations opened (or, with ``refund``, removed: a failure after
        acceptance) ``{account id: {category: count}}``: the simulated
        accounts (the sandbox) consume their credit at their price list, in
        one UPDATE; real providers report their own balance."""
        amounts = {}
        for account in self.sudo().browse(list(counts)).exists():
            if account.provider and account._provider_class().simulated:
                amount = pricing.consumption(counts[account.id], account._credit_prices())
                if amount:
                    amounts[account.id] = -amount if refund else amount
        if not amounts:
            return
        self.flush_model(["credit_balance"])
        self.env.cr.execute(
            SQL(
                """UPDATE spoki_account AS a SET credit_balance = COALESCE(a.credit_balance, 0) - v.amount
                     FROM unnest(%s::int[], %s::numeric[]) AS v(id, amount) WHERE a.id = v.id""",
                list(amounts),
                list(amounts.values()),
            )
        )
        self.invalidate_model(["credit_balance"])

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
                "value": self.credit_balance,
                "real": False,
                "note": _("Simulated: each conversation consumes its price (Price list of the account)."),
            }
        return {"value": self.credit_balance, "real": True, "note": ""}
