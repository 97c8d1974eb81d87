"""The chatter's creation message of each WhatsApp document: Odoo's generic
``_('%s created', model name)`` gives "WhatsApp campaign creato" (Italian
needs "Campagna WhatsApp creata"), so each model says it in a sentence of
its own."""

from odoo import models


class SpokiAccount(models.Model):
    _inherit = "spoki.account"

    def _creation_message(self):
        return self.env._("WhatsApp account created")


class SpokiCampaign(models.Model):
    _inherit = "spoki.campaign"

    def _creation_message(self):
        return self.env._("WhatsApp campaign created")


class SpokiList(models.Model):
    _inherit = "spoki.list"

    def _creation_message(self):
        return self.env._("WhatsApp list created")


class SpokiTemplate(models.Model):
    _inherit = "spoki.template"

    def _creation_message(self):
        return self.env._("WhatsApp template created")
