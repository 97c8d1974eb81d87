"""Issue 14: the app icon, the quality rating link on the account form, the
chat bubbles' dates in the user's language format."""

import io
from datetime import datetime

from PIL import Image

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_open

from .messaging_common import MessagingCommon


@tagged("post_install", "-at_install")
class TestAppIcon(TransactionCase):
    def test_real_icon(self):
        with file_open("spoki_whatsapp/static/description/icon.png", "rb") as f:
            icon = Image.open(io.BytesIO(f.read())).convert("RGBA")
        self.assertEqual(icon.size, (256, 256))
        colors = icon.getcolors(maxcolors=1 << 16)
        self.assertTrue(colors is None or len(colors) > 50, "a drawing, not a flat square")
        self.assertEqual(icon.getpixel((0, 0))[3], 0, "rounded corners: transparent")
        self.assertEqual(icon.getpixel((128, 50))[:3], (255, 255, 255), "the white speech bubble")
        root = self.env.ref("spoki_whatsapp.spoki_menu_root")
        self.assertEqual(root.web_icon, "spoki_whatsapp,static/description/icon.png")

    def test_quality_link_on_the_account_form(self):
        arch = self.env["spoki.account"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('href="https://www.facebook.com/business/help/896873687365001"', arch)
        self.assertIn("What is the quality rating?", arch)


@tagged("post_install", "-at_install")
class TestChatBubbleDates(MessagingCommon):
    def test_bubble_dates_follow_the_language(self):
        self.env["res.lang"]._activate_lang("it_IT")
        self.clock["now"] = datetime(2026, 3, 4, 15, 7, 0)
        incoming = self.receive(self.customer.wa_phone, "Ciao")
        chat = self.env["spoki.chat"].search([("wa_phone", "=", self.customer.wa_phone)])
        english = chat.with_context(lang="en_US", tz="UTC")._render_transcript(incoming)
        italian = chat.with_context(lang="it_IT", tz="UTC")._render_transcript(incoming)
        self.assertIn("03/04/2026 15:07", english, "en_US: month/day/year")
        self.assertIn("04/03/2026 15:07", italian, "it_IT: day/month/year")
