from odoo.exceptions import AccessError
from odoo.tests import Form, tagged

from .messaging_common import MessagingCommon


@tagged("post_install", "-at_install")
class TestTags(MessagingCommon):
    """Guide "Tag": tags on chats and on messages are contact tags and end up
    on the contact; lists give their member tags on every path adding members."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Tag = cls.env["res.partner.category"]
        cls.promo = Tag.create({"name": "Promo Giugno"})
        cls.interested = Tag.create({"name": "Sono interessato"})
        cls.vip = Tag.create({"name": "VIP"})

    def _chat(self, partner):
        return self.env["spoki.chat"]._get_or_create(self.account, partner.wa_phone, partner)

    def test_message_tags_reach_the_contact(self):
        """The promo sent and the answer given show on the contact."""
        sent = self.queue_template(self.customer)
        answer = self.receive(self.customer.wa_phone, "Sono interessato")
        answer = self.Message.search([("wa_phone", "=", self.customer.wa_phone), ("direction", "=", "incoming")])
        sent.with_user(self.agent).action_add_tags(self.promo.ids)
        answer.with_user(self.agent).action_add_tags(self.interested.ids)
        self.assertEqual(sent.tag_ids, self.promo)
        self.assertEqual(answer.tag_ids, self.interested)
        self.assertEqual(self.customer.category_id, self.promo | self.interested)
        # filters by tag on contacts
        Partner = self.env["res.partner"].with_user(self.agent)
        self.assertIn(self.customer, Partner.search([("category_id", "in", self.interested.ids)]))

    def test_message_tags_access(self):
        sent = self.queue_template(self.customer)
        with self.assertRaises(AccessError):
            sent.with_user(self.agent_b).action_add_tags(self.promo.ids)
        with self.assertRaises(AccessError):  # the ledger itself stays closed to users
            sent.with_user(self.agent).write({"tag_ids": [(4, self.promo.id)]})
        self.assertFalse(sent.tag_ids)

    def test_chat_tags_reach_the_contact(self):
        chat = self._chat(self.customer).with_user(self.agent)
        chat.action_add_tags(self.vip.ids)
        self.assertEqual(chat.tag_ids, self.vip)
        self.assertIn(self.vip, self.customer.category_id)
        # from the chat form too
        with Form(chat) as form:
            form.tag_ids.add(self.promo)
        self.assertIn(self.promo, self.customer.category_id)
        Chat = self.env["spoki.chat"].with_user(self.agent)
        self.assertEqual(Chat.search([("tag_ids", "in", self.promo.ids)]), chat)
        with self.assertRaises(AccessError):
            chat.with_user(self.agent_b).action_add_tags(self.promo.ids)

    def test_add_tag_to_all_members_bulk(self):
        """5,000 members tagged in one statement (no ORM loop)."""
        partners = self._create_partners(5000, prefix="+39351")
        spoki_list = self.env["spoki.list"].create({"name": "Big"})
        spoki_list._add_partners_by_domain([("id", "in", partners.ids)])
        wizard = (
            self.env["spoki.list.tag.members"]
            .with_user(self.agent)
            .create({"list_id": spoki_list.id, "tag_ids": [(6, 0, self.promo.ids)], "keep": False})
        )
        with self.assertQueryCount(__system__=40):
            wizard.action_apply()
        self.assertEqual(len(self.promo.partner_ids), 5000)
        self.assertFalse(spoki_list.member_tag_ids)

    def test_member_tags_on_every_path(self):
        p1, p2, p3, p4, p5 = self._create_partners(5, prefix="+39352")
        spoki_list = self.env["spoki.list"].create({"name": "June", "partner_ids": [(6, 0, p1.ids)]})
        # the option: given to the current members...
        self.env["spoki.list.tag.members"].create(
            {"list_id": spoki_list.id, "tag_ids": [(6, 0, self.promo.ids)], "keep": True}
        ).action_apply()
        self.assertEqual(spoki_list.member_tag_ids, self.promo)
        self.assertIn(self.promo, p1.category_id)
        # ... and to those added later: list form (ORM)
        with Form(spoki_list) as form:
            form.partner_ids.add(p2)
        self.assertIn(self.promo, p2.category_id)
        # "select all matching" wizard (SQL)
        self.env["spoki.list.add.contacts"].create(
            {"list_id": spoki_list.id, "mode": "domain", "domain": f"[('id', '=', {p3.id})]"}
        ).action_apply()
        self.assertIn(self.promo, p3.category_id)
        # the contact's form (its lists)
        with Form(p4) as form:
            form.spoki_list_ids.add(spoki_list)
        self.assertIn(self.promo, p4.category_id)
        # a contact created in the list ("View contacts" › New)
        new = self.env["res.partner"].create(
            {"name": "New member", "mobile": "+393520009999", "spoki_list_ids": [(4, spoki_list.id)]}
        )
        self.assertIn(self.promo, new.category_id)
        self.assertNotIn(self.promo, p5.category_id)
        # a new member tag goes to every member at once
        spoki_list.member_tag_ids = [(4, self.vip.id)]
        self.assertEqual(set(self.vip.partner_ids.ids), set(spoki_list.partner_ids.ids))
        # filters by tag on lists (member tags, and the members' tags)
        List = self.env["spoki.list"].with_user(self.agent)
        self.assertIn(spoki_list, List.search([("member_tag_ids", "in", self.vip.ids)]))
        self.assertIn(spoki_list, List.search([("partner_ids.category_id", "ilike", "VIP")]))
