"""Accounts with real credentials: "Test connection" (credentials, number,
webhook reachability, in plain words) and "Sync now" (templates waiting for
approval, status, limit, credit)."""

from odoo import models

from ...tools.account_check import connection_problem, webhook_problem
from ...tools.providers import ProviderError


class SpokiAccount(models.Model):
    _inherit = "spoki.account"

    def _connection_problem_text(self, exc):
        _ = self.env._
        texts = {
            "credentials": _("The provider refused the credentials: check the API key or access token."),
            "configuration": _("Something is missing in the credentials: fill in every field of the Credentials tab."),
            "number": _("The provider doesn't know this number: check the phone number ID (or the number)."),
            "refused": _("The provider refused the request: check the phone number ID and the account ID."),
            "unreachable": _("The provider can't be reached: check the internet connection and the API endpoint."),
            "busy": _("The provider answered with an error of its own: try again in a few minutes."),
            "other": _("The provider answered with an error."),
        }
        return texts[connection_problem(exc.code)]

    def _webhook_problem_text(self):
        _ = self.env._
        problem = webhook_problem(self.webhook_url)
        if problem is None:
            return _(
                "Incoming messages and delivery receipts arrive at %(url)s: register it in the provider's "
                "webhook settings.",
                url=self.webhook_url,
            )
        return {
            "missing": _("The webhook address is unknown: set the Odoo address (web.base.url) in the settings."),
            "local": _(
                "WhatsApp can't reach %(url)s: it is a local address. Incoming messages and delivery receipts "
                "only arrive when Odoo is reachable from the internet.",
                url=self.webhook_url,
            ),
            "not_https": _(
                "%(url)s is not https: WhatsApp only calls secure (https) addresses. Put Odoo behind https to "
                "receive messages and delivery receipts.",
                url=self.webhook_url,
            ),
        }[problem]

    def action_test_connection(self):
        """Ask the provider for the number's status with the account's
        credentials and explain the outcome in plain words (credentials,
        number, webhook reachability). Managers of the account's company."""
        self.ensure_one()
        self._check_manage_access()
        _ = self.env._
        account = self.sudo()
        try:
            info = account._get_provider().get_account_info()
        except ProviderError as exc:
            lines = [self._connection_problem_text(exc), _("Provider's answer: %(error)s", error=str(exc))]
            kind, title = "danger", _("Connection failed")
        else:
            status = dict(self._fields["phone_status"]._description_selection(self.env)).get(info.phone_status)
            quality = dict(self._fields["quality"]._description_selection(self.env)).get(info.quality)
            lines = [
                _("The credentials are accepted."),
                _(
                    "The number %(phone)s is known to the provider: status %(status)s, quality %(quality)s.",
                    phone=self.phone or "",
                    status=status or info.phone_status,
                    quality=quality or info.quality,
                ),
            ]
            kind, title = "success", _("Connection works")
        lines.append(self._webhook_problem_text())
        if kind == "success" and webhook_problem(self.webhook_url):
            kind = "warning"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": title, "message": "\n".join(lines), "type": kind, "sticky": True},
        }

    def action_sync_now(self):
        """Read back from the provider now what the crons read periodically:
        the templates waiting for approval, the number's status, the limit
        and the credit."""
        self._check_manage_access()
        templates = (
            self.env["spoki.template"]
            .sudo()
            .search(
                [
                    ("account_id", "in", self.ids),
                    ("state", "in", ("queued", "in_review")),
                    ("external_id", "!=", False),
                ]
            )
        )
        templates._sync_status()
        self.action_refresh_status()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Synchronised"),
                "message": self.env._(
                    "%(count)s templates waiting for approval checked; status, limit and credit read again.",
                    count=len(templates),
                ),
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
