from odoo import models


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        return super()._build_bus_channel_list(list(channels) + self._spoki_live_channels())

    def _spoki_live_channels(self):
        """WhatsApp users hear of the live refreshes of their companies."""
        user = self.env.user
        if self.env.uid and user._is_internal() and user.has_group("spoki_whatsapp.group_spoki_user"):
            return list(user.company_ids)
        return []
