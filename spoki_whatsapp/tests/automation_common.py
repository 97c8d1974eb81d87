from datetime import datetime

from .messaging_common import MessagingCommon


class AutomationCommon(MessagingCommon):
    """MessagingCommon + the guide's "Promo Giugno" template with its quick
    replies, tags, dynamic date fields and helpers to build WhatsApp rules."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Tag = cls.env["res.partner.category"]
        cls.tag_promo = Tag.create({"name": "Promo Giugno"})
        cls.tag_yes = Tag.create({"name": "Interessato"})
        cls.tag_no = Tag.create({"name": "Non interessato"})
        cls.promo = cls.env["spoki.template"].create(
            {
                "name": "Promo Giugno",
                "account_id": cls.account.id,
                "lang": "it_IT",
                "body": "Ciao %%NOME%%, a giugno il 20% di sconto!",
                "button_ids": [
                    (0, 0, {"button_type": "quick_reply", "text": "Sono interessato"}),
                    (0, 0, {"button_type": "quick_reply", "text": "Non sono interessato"}),
                ],
            }
        )
        cls.promo.write({"state": "approved", "provider_name": f"promo_giugno_{cls.promo.id}"})
        Field = cls.env["spoki.dynamic.field"]
        # the demo data may ship WEBINAR_DATETIME
        cls.webinar_field = Field.search([("name", "=", "WEBINAR_DATETIME")]) or Field.create(
            {"name": "WEBINAR_DATETIME", "field_type": "datetime"}
        )
        cls.appointment_field = Field.search([("name", "=", "APPOINTMENT_DATE")]) or Field.create(
            {"name": "APPOINTMENT_DATE", "field_type": "date"}
        )
        cls.birthday_field = Field.search([("name", "=", "BIRTHDAY_DATE")]) or Field.create(
            {"name": "BIRTHDAY_DATE", "field_type": "date"}
        )
        cls.Rule = cls.env["base.automation"].with_context(spoki_automation=True)
        cls.partner_model = cls.env["ir.model"]._get("res.partner")
        cls.message_model = cls.env["ir.model"]._get("spoki.message")

    @classmethod
    def _rule(cls, name, trigger, actions, model=None, **values):
        return cls.Rule.create(
            dict(
                {
                    "name": name,
                    "model_id": (model or cls.partner_model).id,
                    "trigger": trigger,
                    "action_server_ids": [
                        (0, 0, dict(action, model_id=(model or cls.partner_model).id)) for action in actions
                    ],
                },
                **values,
            )
        )

    @classmethod
    def _send(cls, template=None, tags=None, **extra):
        return dict(
            {
                "name": "send",
                "state": "spoki_template",
                "spoki_account_id": cls.account.id,
                "spoki_template_id": (template or cls.template).id,
                "spoki_tag_ids": [(6, 0, tags.ids if tags else [])],
            },
            **extra,
        )

    @classmethod
    def _tag(cls, tags, target="contact", operation="add"):
        return {
            "name": "tag",
            "state": "spoki_tags",
            "spoki_tag_ids": [(6, 0, tags.ids)],
            "spoki_tag_target": target,
            "spoki_operation": operation,
        }

    def sent_to(self, partners, template=None):
        """Outgoing messages queued to ``partners`` (by automations)."""
        domain = [("partner_id", "in", partners.ids), ("direction", "=", "outgoing")]
        if template:
            domain.append(("template_id", "=", template.id))
        return self.Message.search(domain)

    def at(self, *args):
        self.clock["now"] = datetime(*args)
        return self.clock["now"]
