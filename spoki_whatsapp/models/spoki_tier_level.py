from odoo import api, fields, models


class SpokiTierLevel(models.Model):
    """One messaging-limit step of a tier policy, kept as data so that new steps
    (Meta's 250 and 2,000 of October 2025) are records, not code."""

    _name = "spoki.tier.level"
    _description = "WhatsApp messaging tier"
    _order = "policy, sequence, id"

    name = fields.Char(required=True, translate=True)
    policy = fields.Selection(
        [
            ("guide", "Spoki guide (1K / 10K / 100K / unlimited)"),
            ("meta", "Meta 2025 (250 / 2K / 10K / 100K / unlimited)"),
        ],
        required=True,
        default="guide",
    )
    sequence = fields.Integer(required=True, default=1, help="Position of the step, 1 = the starting tier.")
    max_users = fields.Integer(
        string="Unique users / 24 h",
        help="Unique users the business can message in a rolling 24 hours; 0 means unlimited.",
    )
    unlimited = fields.Boolean(compute="_compute_unlimited")

    _sql_constraints = [
        (
            "policy_sequence_uniq",
            "unique(policy, sequence)",
            "A tier policy can't have two steps at the same position.",
        ),
        ("max_users_positive", "CHECK(max_users >= 0)", "The limit can't be negative (0 means unlimited)."),
    ]

    @api.depends("max_users")
    def _compute_unlimited(self):
        for level in self:
            level.unlimited = not level.max_users

    def _next_level(self):
        self.ensure_one()
        return self.search([("policy", "=", self.policy), ("sequence", ">", self.sequence)], order="sequence", limit=1)

    def _previous_level(self):
        self.ensure_one()
        return self.search(
            [("policy", "=", self.policy), ("sequence", "<", self.sequence)], order="sequence desc", limit=1
        )

    @api.model
    def _first_level(self, policy):
        return self.search([("policy", "=", policy)], order="sequence", limit=1)

    @api.model
    def _level_for_limit(self, policy, limit):
        """Step of ``policy`` matching a provider-reported ``limit`` (0 = unlimited)."""
        return self.search([("policy", "=", policy), ("max_users", "=", limit or 0)], limit=1)
