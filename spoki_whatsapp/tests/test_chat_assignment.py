from datetime import timedelta

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, HttpCase, tagged

from odoo.addons.spoki_whatsapp.tools.providers import InboundMessage

from .common import SpokiCommon
from .messaging_common import MessagingCommon
from .test_live import BrowserScreens


@tagged("post_install", "-at_install")
class TestChatAssignment(MessagingCommon):
    """Who is responsible for a chat: the contact's salesperson, else
    round-robin over the account's team; "My chats", "Unassigned",
    "Waiting for reply" with how long; reassigning within the company."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent2 = cls._new_user("spoki_agent2", "spoki_whatsapp.group_spoki_user", name="Second Agent")
        cls.agent3 = cls._new_user("spoki_agent3", "spoki_whatsapp.group_spoki_user", name="Third Agent")
        cls.account.team_user_ids = cls.agent | cls.agent2 | cls.agent3
        cls.Chat = cls.env["spoki.chat"]

    def _chat_of(self, number):
        number = self.Message._normalize_number(number, self.account.id)
        return self.Chat.search([("account_id", "=", self.account.id), ("wa_phone", "=", number)])

    def test_default_salesperson_of_the_contact(self):
        self.customer.user_id = self.agent2
        self.receive(self.customer.wa_phone, "Ciao")
        chat = self._chat_of(self.customer.wa_phone)
        self.assertEqual(chat.user_id, self.agent2)
        self.assertTrue(chat.user_assigned_date)

    def test_salesperson_of_another_company_is_skipped(self):
        """A salesperson who can't use the account's company gets no chat:
        the team does (round-robin)."""
        self.customer.user_id = self.agent_b
        self.receive(self.customer.wa_phone, "Ciao")
        chat = self._chat_of(self.customer.wa_phone)
        self.assertIn(chat.user_id, self.account.team_user_ids)

    def test_round_robin_least_recently_assigned(self):
        partners = self._create_partners(6, prefix="+39348")
        users = []
        for partner in partners:
            self.receive(partner.wa_phone, "Hi")
            users.append(self._chat_of(partner.wa_phone).user_id)
        self.assertEqual(users[:3], [self.agent, self.agent2, self.agent3])
        self.assertEqual(users[3:], users[:3], "round-robin goes on in the same order")

    def test_round_robin_in_one_batch(self):
        partners = self._create_partners(3, prefix="+39349")
        chats = self.Chat.sudo().create(
            [{"account_id": self.account.id, "wa_phone": p.wa_phone, "partner_id": p.id} for p in partners]
        )
        self.assertEqual(chats.user_id, self.account.team_user_ids, "one chat each, not three for the first")

    def test_round_robin_ignores_salesperson_when_configured(self):
        self.account.chat_assignment = "round_robin"
        self.customer.user_id = self.agent3
        self.receive(self.customer.wa_phone, "Ciao")
        self.assertEqual(self._chat_of(self.customer.wa_phone).user_id, self.agent)

    def test_manual_leaves_unassigned(self):
        self.account.chat_assignment = "manual"
        self.customer.user_id = self.agent2
        self.receive(self.customer.wa_phone, "Ciao")
        self.assertFalse(self._chat_of(self.customer.wa_phone).user_id)

    def test_filters_my_chats_unassigned_waiting(self):
        self.account.chat_assignment = "manual"
        p1, p2 = self._create_partners(2, prefix="+39350")
        self.receive(p1.wa_phone, "First")
        self.advance(minutes=30)
        self.receive(p1.wa_phone, "Second")
        self.receive(p2.wa_phone, "Other")
        chat1, chat2 = self._chat_of(p1.wa_phone), self._chat_of(p2.wa_phone)
        chat1.with_user(self.agent).action_assign_to_me()
        Chat = self.Chat.with_user(self.agent)
        self.assertEqual(Chat.search([("user_id", "=", self.agent.id)]), chat1)  # "My chats"
        self.assertIn(chat2, Chat.search([("user_id", "=", False)]))  # "Unassigned"
        self.assertNotIn(chat1, Chat.search([("user_id", "=", False)]))
        waiting = Chat.search([("needs_reply", "=", True)])
        self.assertIn(chat1, waiting)
        # waiting since the first unanswered message, not the last one
        self.assertEqual(chat1.waiting_since, self.start)
        self.advance(hours=2)
        chat1.invalidate_recordset(["waiting_for"])
        self.assertEqual(chat1.waiting_for, "2 h 30 min")
        # an answer stops the wait
        chat1.composer_body = "Eccomi"
        chat1.action_send_text()
        chat1.invalidate_recordset()
        self.assertFalse(chat1.needs_reply)
        self.assertFalse(chat1.waiting_since)
        self.assertFalse(chat1.waiting_for)
        self.assertNotIn(chat1, Chat.search([("needs_reply", "=", True)]))
        # the next message waits from its own time
        self.advance(minutes=5)
        self.receive(p1.wa_phone, "Thanks")
        chat1.invalidate_recordset()
        self.assertEqual(chat1.waiting_since, self.clock["now"])
        groups = Chat.read_group([("id", "in", (chat1 | chat2).ids)], ["user_id"], ["user_id"])
        self.assertEqual({g["user_id"] and g["user_id"][0] for g in groups}, {self.agent.id, False})

    def test_reassign_within_the_company(self):
        self.receive(self.customer.wa_phone, "Ciao")
        chat = self._chat_of(self.customer.wa_phone).with_user(self.agent)
        wizard = Form(self.env["spoki.chat.reassign"].with_user(self.agent).with_context(default_chat_ids=chat.ids))
        self.assertIn(self.agent2, wizard.allowed_user_ids)
        self.assertNotIn(self.agent_b, wizard.allowed_user_ids)
        wizard.user_id = self.agent2
        wizard.save().action_apply()
        self.assertEqual(chat.user_id, self.agent2)
        with self.assertRaises(ValidationError):
            chat.write({"user_id": self.agent_b.id})
        # an agent of another company can't touch the chat
        with self.assertRaises(AccessError):
            chat.with_user(self.agent_b).action_assign_to_me()

    def test_waiting_for_format(self):
        self.receive(self.customer.wa_phone, "Ciao")
        chat = self._chat_of(self.customer.wa_phone)
        self.clock["now"] = self.start + timedelta(days=1, hours=3, minutes=4)
        chat.invalidate_recordset(["waiting_for"])
        self.assertEqual(chat.waiting_for, "1 d 3 h")


@tagged("post_install", "-at_install")
class TestChatAssignmentBrowser(BrowserScreens, HttpCase, SpokiCommon):
    """What an agent sees: the chats list with the assignee, how long the
    customer has been waiting and the tags; the contact's WhatsApp tab with
    the tags its chat and messages received."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent2 = cls._new_user("spoki_agent2_ui", "spoki_whatsapp.group_spoki_user", name="Second Agent")
        cls.account.team_user_ids = cls.agent | cls.agent2
        Partner = cls.env["res.partner"]
        cls.anna = Partner.create({"name": "Anna Blu", "mobile": "+393391230001", "user_id": cls.agent.id})
        cls.piero = Partner.create({"name": "Piero Verdi", "mobile": "+393391230002"})
        Message = cls.env["spoki.message"]
        earlier = Message._now() - timedelta(hours=3, minutes=20)
        for i, partner in enumerate(cls.anna | cls.piero):
            Message._receive_inbound(
                cls.account, [InboundMessage(f"in.ui.{i}", partner.wa_phone, "Sono interessato", earlier, "")]
            )
        Chat = cls.env["spoki.chat"]
        cls.chat = Chat.search([("account_id", "=", cls.account.id), ("wa_phone", "=", cls.anna.wa_phone)])
        promo = cls.env["res.partner.category"].create({"name": "Promo Giugno"})
        interested = cls.env["res.partner.category"].create({"name": "Interessato"})
        cls.chat.with_user(cls.agent).action_add_tags(promo.ids)
        answer = Message.search([("wa_phone", "=", cls.anna.wa_phone), ("direction", "=", "incoming")])
        answer.with_user(cls.agent).action_add_tags(interested.ids)

    def test_chats_list_and_contact_tags(self):
        self.assertEqual(self.chat.user_id, self.agent)
        code = """
            const wait = async (test, what, ms = 20000) => {
                const end = Date.now() + ms;
                while (!test()) {
                    if (Date.now() > end) { throw new Error("timeout: " + what); }
                    await new Promise((r) => setTimeout(r, 100));
                }
            };
            const row = () => [...document.querySelectorAll(".o_data_row")]
                .find((tr) => tr.textContent.includes("Anna Blu"));
            (async () => {
                await wait(() => document.querySelector(".o_list_view th[data-name='waiting_for']"), "column");
                await wait(() => row(), "Anna's chat");
                const cells = (name) => (row().querySelector(`td[name='${name}']`) || {}).textContent || "";
                if (!cells("tag_ids").includes("Promo Giugno")) { throw new Error("tag: " + cells("tag_ids")); }
                if (!/3 h 2\\d min/.test(cells("waiting_for"))) { throw new Error("waiting: " + cells("waiting_for")); }
                if (!cells("user_id").includes("WhatsApp Agent")) { throw new Error("agent: " + cells("user_id")); }
                console.log("spoki-screenshot:chats_list");
                await new Promise((r) => setTimeout(r, 800));
                console.log("test successful");
            })().catch((error) => console.error(error.message));
        """
        self.browser_js("/odoo/action-spoki_whatsapp.spoki_chat_action", code, login="spoki_agent", timeout=60)
        code = """
            const wait = async (test, what, ms = 20000) => {
                const end = Date.now() + ms;
                while (!test()) {
                    if (Date.now() > end) { throw new Error("timeout: " + what); }
                    await new Promise((r) => setTimeout(r, 100));
                }
            };
            (async () => {
                const tab = () => [...document.querySelectorAll(".o_notebook .nav-link")]
                    .find((a) => a.textContent.trim() === "WhatsApp");
                await wait(tab, "WhatsApp tab");
                tab().click();
                const tags = () => (document.querySelector(".o_notebook .tab-pane.active div[name='category_id']")
                    || {}).textContent || "";
                await wait(() => tags().includes("Promo Giugno") && tags().includes("Interessato"), "tags");
                console.log("spoki-screenshot:contact_tags");
                await new Promise((r) => setTimeout(r, 800));
                console.log("test successful");
            })().catch((error) => console.error(error.message));
        """
        self.browser_js(f"/odoo/contacts/{self.anna.id}", code, login="spoki_agent", timeout=60)
        self.assertIn("chats_list", self.screens)
        self.assertIn("contact_tags", self.screens)
