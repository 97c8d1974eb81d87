from datetime import timedelta
from unittest.mock import patch

import psycopg2

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.spoki_campaign import SpokiCampaign
from ..models.spoki_template import SpokiTemplate
from .messaging_common import MessagingCommon


@tagged("post_install", "-at_install")
class TestCampaignEnqueueJob(MessagingCommon):
    """Starting a campaign returns at once; the job "WhatsApp: campaign
    enqueue" queues the recipients in committed chunks with visible progress;
    a failing campaign pauses with its reason and holds up nobody else."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partners = cls._create_partners(25, prefix="+39355")
        cls.big_list = cls.env["spoki.list"].create({"name": "Enqueue job", "partner_ids": [(6, 0, cls.partners.ids)]})
        cls.Campaign = cls.env["spoki.campaign"]

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param("spoki_whatsapp.campaign_enqueue_chunk", "10")

    def _campaign(self, account=None, template=None, spoki_list=None, **vals):
        return self.Campaign.create(
            dict(
                {
                    "name": "Enqueue job",
                    "account_id": (account or self.account).id,
                    "template_id": (template or self.template).id,
                    "list_ids": [(6, 0, (spoki_list or self.big_list).ids)],
                },
                **vals,
            )
        )

    def _messages(self, campaign):
        return self.Message.search([("campaign_id", "=", campaign.id)])

    def test_start_returns_at_once_then_queued_in_chunks(self):
        campaign = self._campaign()
        cron = self.env.ref("spoki_whatsapp.ir_cron_spoki_campaign_enqueue")
        with patch.object(SpokiCampaign, "_select_recipients", side_effect=AssertionError("not in the request")):
            campaign.action_start()
        self.assertEqual((campaign.state, campaign.started_at), ("starting", self.start))
        self.assertFalse(self._messages(campaign), "nothing is queued in the request")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]), "the job is woken up")
        # a run out of time after its first chunk: the rest waits for the next run
        done, remaining = self.Campaign._enqueue_pending(auto_commit=False, time_budget=1e-9)
        self.assertEqual((done, remaining), (10, 15))
        self.assertEqual((campaign.state, campaign.enqueue_done, campaign.enqueue_total), ("starting", 10, 25))
        self.assertEqual(campaign.enqueue_progress, 40.0)
        self.assertEqual(campaign.recipient_count, 10)
        self.assertEqual(len(self._messages(campaign)), 10)
        self.run_queue()
        self.assertEqual(set(self._messages(campaign).mapped("state")), {"queued"}, "sent once it runs")
        # the cron reports its progress to Odoo (chained runs)
        progress = self.env["ir.cron.progress"].create({"cron_id": cron.id, "remaining": 0, "done": 0})
        self.Campaign.with_context(ir_cron_progress_id=progress.id)._cron_enqueue()
        self.assertEqual((progress.done, progress.remaining), (15, 0))
        self.assertEqual(campaign.state, "running")
        self.assertEqual((campaign.recipient_count, campaign.enqueue_progress), (25, 100.0))
        self.assertEqual(campaign.enqueued_at, self.start)
        messages = self._messages(campaign)
        self.assertEqual(messages.partner_id, self.partners, "each recipient once")
        self.run_queue(no_chatter=True)
        self.assertEqual(set(messages.mapped("state")), {"sent"})

    def test_send_queue_never_queues_a_campaign(self):
        """The send queue starts a due scheduled campaign by handing it to the
        enqueue job; the chat reply queued meanwhile goes out at once."""
        campaign = self._campaign(scheduled_at=self.start + timedelta(minutes=5))
        campaign.action_start()
        self.assertEqual(campaign.state, "scheduled")
        self.receive(self.customer.wa_phone, "Hello?")
        reply = self.Message._enqueue_text(self.account, self.customer.wa_phone, "Hi!", partner=self.customer)
        self.advance(minutes=5)
        with patch.object(SpokiCampaign, "_enqueue_partners", side_effect=AssertionError("not in the send queue")):
            self.Message._cron_send_queue()
        self.assertEqual(reply.state, "sent")
        self.assertEqual(campaign.state, "starting")
        self.assertFalse(self._messages(campaign))
        self.Campaign._enqueue_pending(auto_commit=False)
        self.assertEqual((campaign.state, campaign.recipient_count), ("running", 25))

    @mute_logger("odoo.addons.spoki_whatsapp.models.spoki_campaign")
    def test_failing_campaign_pauses_with_its_reason(self):
        other_template = self._approved_template(self.account, name="Other")
        failing = self._campaign(name="Failing")
        healthy = self._campaign(name="Healthy", template=other_template)
        (failing | healthy).action_start()
        original = SpokiTemplate._render_for_partners

        def render(template, partners, payload=None):
            if template == self.template:
                raise ValueError("the renderer broke")
            return original(template, partners, payload)

        self.receive(self.customer.wa_phone, "Hello?")
        reply = self.Message._enqueue_text(self.account, self.customer.wa_phone, "Hi!", partner=self.customer)
        with patch.object(SpokiTemplate, "_render_for_partners", render):
            self.Campaign._enqueue_pending(auto_commit=False)
        self.assertEqual(failing.state, "paused")
        self.assertIn("the renderer broke", failing.pause_reason)
        self.assertIn("the renderer broke", failing.message_ids[0].body)
        self.assertFalse(self._messages(failing))
        self.assertEqual((healthy.state, healthy.recipient_count), ("running", 25))
        self.run_queue(no_chatter=True)
        self.assertEqual(reply.state, "sent", "chat replies are not held up")
        self.assertEqual(set(self._messages(healthy).mapped("state")), {"sent"})
        # fixed and resumed: queued from where it stopped, then sent
        failing.action_resume()
        self.assertEqual(failing.state, "starting")
        self.Campaign._enqueue_pending(auto_commit=False)
        self.assertEqual((failing.state, failing.recipient_count), ("running", 25))

    def test_template_withdrawn_before_the_job_pauses(self):
        campaign = self._campaign()
        campaign.action_start()
        self.template.state = "rejected"
        self.Campaign._enqueue_pending(auto_commit=False)
        self.assertEqual(campaign.state, "paused")
        self.assertIn("approved", campaign.pause_reason)
        self.assertFalse(self._messages(campaign))

    def test_pause_and_resume_while_queueing(self):
        campaign = self._campaign()
        campaign.action_start()
        self.Campaign._enqueue_pending(auto_commit=False, time_budget=1e-9)
        self.assertEqual(campaign.enqueue_done, 10)
        campaign.action_pause(reason="Wait")
        self.Campaign._enqueue_pending(auto_commit=False)
        self.assertEqual((campaign.state, campaign.enqueue_done), ("paused", 10), "a paused campaign stops queueing")
        campaign.action_resume()
        self.assertEqual(campaign.state, "starting")
        self.Campaign._enqueue_pending(auto_commit=False)
        self.assertEqual((campaign.state, campaign.recipient_count, campaign.enqueue_done), ("running", 25, 25))
        self.assertEqual(self._messages(campaign).partner_id, self.partners, "each recipient once")

    def test_cancel_while_queueing(self):
        campaign = self._campaign()
        campaign.action_start()
        self.Campaign._enqueue_pending(auto_commit=False, time_budget=1e-9)
        campaign.action_cancel()
        self.assertEqual((campaign.state, campaign.cancelled_count), ("cancelled", 10))
        self.Campaign._enqueue_pending(auto_commit=False)
        self.assertFalse(self._messages(campaign))

    def test_job_killed_mid_enqueue_resumes_without_duplicates(self):
        """A worker dying in the middle of a chunk (its transaction lost) leaves
        the committed chunks and the progress as they were; the next run goes
        on from the last committed contact and queues each recipient once."""
        campaign = self._campaign()
        campaign.action_start()
        self.Campaign._enqueue_pending(auto_commit=False, time_budget=1e-9)
        self.assertEqual((campaign.enqueue_done, campaign.recipient_count), (10, 10))
        original = SpokiCampaign._enqueue_partners

        def killed(campaign_self, partner_ids):
            original(campaign_self, partner_ids)  # the chunk is written, then the connection dies
            raise psycopg2.OperationalError("server closed the connection unexpectedly")

        with patch.object(SpokiCampaign, "_enqueue_partners", killed), self.assertRaises(psycopg2.OperationalError):
            self.Campaign._enqueue_pending(auto_commit=False)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.state, "starting", "not the campaign's fault: it stays to be queued")
        self.assertEqual((campaign.enqueue_done, campaign.enqueue_total, campaign.enqueue_progress), (10, 25, 40.0))
        self.assertEqual(len(self._messages(campaign)), 10, "the killed chunk left nothing")
        # even a progress cursor lost with it (queued numbers are skipped, not queued twice)
        campaign.enqueue_cursor = 0
        done, remaining = self.Campaign._enqueue_pending(auto_commit=False)
        self.assertEqual((done, remaining), (25, 0))
        self.assertEqual((campaign.state, campaign.recipient_count, campaign.enqueue_progress), ("running", 25, 100.0))
        self.assertEqual((campaign.enqueue_done, campaign.enqueue_total), (25, 25))
        messages = self._messages(campaign)
        self.assertEqual(len(messages), 25)
        self.assertEqual(messages.partner_id, self.partners, "each recipient once")

    def test_recipients_frozen_at_start(self):
        """The job selects the recipients once (its first chunk) and keeps them:
        its later runs read the next chunks from that snapshot, so a contact
        added to the list meanwhile is not queued, and the snapshot is dropped
        once every recipient is queued."""
        campaign = self._campaign()
        campaign.action_start()
        self.Campaign._enqueue_pending(auto_commit=False, time_budget=1e-9)
        self.assertEqual((campaign.enqueue_done, campaign.enqueue_total), (10, 25))
        late = self._create_partners(1, prefix="+39356")
        self.big_list.partner_ids = [(4, late.id)]
        with patch.object(SpokiCampaign, "_select_recipients", side_effect=AssertionError("selected once")):
            done, remaining = self.Campaign._enqueue_pending(auto_commit=False)
        self.assertEqual((done, remaining), (15, 0))
        self.assertEqual((campaign.state, campaign.recipient_count, campaign.enqueue_done), ("running", 25, 25))
        self.assertEqual(self._messages(campaign).partner_id, self.partners)
        self.env.cr.execute("SELECT count(*) FROM spoki_campaign_recipient WHERE campaign_id = %s", [campaign.id])
        self.assertEqual(self.env.cr.fetchone()[0], 0)
