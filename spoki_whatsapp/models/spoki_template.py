"""``spoki.template``: WhatsApp templates, their approval and their rendering.

~720 lines in one file on purpose: fields, the approval workflow with the
provider and the rendering API (``_render_for_partner``, the campaigns' batch
renderer) share the template's invariants (a requested template can't change);
the rules themselves are plain Python in ``tools/template_rules.py``.
"""

import json
import logging
import re
import unicodedata

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression

from ..tools import template_render, template_rules, whatsapp_languages
from ..tools.automation import normalize_text
from ..tools.providers.base import ProviderError, TemplateSpec, utcnow
from ..tools.providers.cloud_api import template_rejection_codes
from .spoki_dynamic_value import parse_typed
from .spoki_message import context_clock

_logger = logging.getLogger(__name__)

TEMPLATE_STATES = [
    ("draft", "Draft"),
    ("queued", "Queued"),
    ("in_review", "In review"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
]
PROVIDER_STATES = ("queued", "in_review", "approved", "rejected")
# Progress order of provider statuses: an update never moves a template back
# (a late "queued" after "in_review" is ignored). approved ↔ rejected are
# allowed both ways: Meta can pause/disable an approved template (reported as
# rejected) and a rejection can be overturned on appeal.
STATE_RANK = {"draft": -1, "queued": 0, "in_review": 1, "approved": 2, "rejected": 2}

# What the customer receives: frozen once approval is requested (write() of
# the template, its translations and its buttons refuses changes). Status
# fields (state, external_id, rejected_reason, dates, active…) stay writable
# for the status sync and the webhook.
CONTENT_FIELDS = frozenset(
    {"name", "account_id", "category", "lang", "body", "translation_ids", "button_ids", "placeholder_mapping"}
)

# Language codes accepted by Meta for message templates (Spoki forwards them to
# Meta unchanged), with their names: tools/whatsapp_languages.py.
META_LANGUAGES = whatsapp_languages.CODES


def provider_lang_code(code):
    """Language code → the code Meta/Spoki expect ('it_IT' → 'it',
    'en_US' → 'en_US', 'es_ES' → 'es_ES', 'de_DE' → 'de', 'sr@latin' → 'sr')."""
    return whatsapp_languages.whatsapp_code(code) or (code or "").split("@")[0]


def _slug(text):
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:480] or "template"


class SpokiTemplate(models.Model):
    """A WhatsApp message template (the guide's "Template" menu).

    Workflow: draft → queued → in_review → approved / rejected. Approval is
    requested once; from then on the content (name, account, category,
    language, body, translations, buttons) can't change: write() refuses it
    here and in the translation/button models. A rejected template is
    duplicated (a new draft) and requested again.

    "Deleting" a template (the guide: an identical template can be requested
    again once the first is removed from the list) is either unlink (managers)
    or archiving: archived templates don't count as duplicates and can't be
    sent. The template is not removed at the provider (the provider interface
    has no delete call); Meta keys templates by name and each request gets a
    new name (slug of the internal name + id).
    """

    _name = "spoki.template"
    _description = "WhatsApp template"
    _inherit = ["mail.thread"]
    _order = "name, id"

    # ------------------------------------------------------------
    # FIELDS
    # ------------------------------------------------------------

    name = fields.Char(
        required=True,
        tracking=True,
        help="Internal name, never shown to customers: useful to find the template among the approved ones.",
    )
    active = fields.Boolean(default=True, tracking=True)
    account_id = fields.Many2one(
        "spoki.account",
        "WhatsApp account",
        required=True,
        ondelete="restrict",
        index=True,
        default=lambda self: self.env["spoki.account"].search([("company_id", "=", self.env.company.id)], limit=1),
    )
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    state = fields.Selection(
        TEMPLATE_STATES,
        default="draft",
        required=True,
        tracking=True,
        copy=False,
        index=True,
        group_expand=True,
    )
    category = fields.Selection(
        [("marketing", "Marketing"), ("utility", "Utility"), ("authentication", "Authentication")],
        required=True,
        default="marketing",
        tracking=True,
        help="Meta's template category: marketing (promotions, offers), utility (updates on an order or "
        "account the customer asked for), authentication (one-time codes).",
    )
    lang = fields.Selection(
        "_lang_selection",
        "Language",
        required=True,
        default=lambda self: provider_lang_code(self.env.lang) or "en_US",
        help="Language of the main text, from WhatsApp's own list of template languages. Contacts whose "
        "number, then language, matches no translation receive this one.",
    )
    body = fields.Text(
        "Message",
        required=True,
        help="Text sent to the customer (max 1,000 characters, never more than 4 consecutive spaces). "
        "*bold* _italic_ ~strikethrough~ ```monospace```, emoji and dynamic fields such as %%NOME%%.",
    )
    translation_ids = fields.One2many("spoki.template.translation", "template_id", "Translations", copy=True)
    button_ids = fields.One2many("spoki.template.button", "template_id", "Buttons", copy=True)
    lang_codes = fields.Char("Languages", compute="_compute_lang_codes")
    placeholder_names = fields.Char("Dynamic fields used", compute="_compute_placeholder_names")
    placeholder_mapping = fields.Text(
        readonly=True,
        help="JSON {NAME: index} of the positional parameters ({{1}}, {{2}}…) sent to the provider. "
        "Kept by duplicates and re-requests so that an index never changes meaning.",
    )
    preview_html = fields.Html(
        "Preview",
        compute="_compute_preview_html",
        # sanitize=False is safe: template_rules.preview_html escapes the text
        # and the button labels before adding its own markup.
        sanitize=False,
    )
    # provider side
    provider_name = fields.Char(
        "Name at the provider",
        copy=False,
        readonly=True,
        help="Name submitted to WhatsApp (lower case, digits and underscores).",
    )
    external_id = fields.Char("Provider template ID", copy=False, readonly=True, index="btree_not_null")
    rejected_reason = fields.Text("Rejection reason", copy=False, readonly=True, tracking=True)
    rejected_reason_explained = fields.Text(
        "Why it was rejected",
        compute="_compute_rejected_reason_explained",
        help="The provider's reason explained in your language (the raw reason is shown beside it).",
    )
    request_date = fields.Datetime("Requested on", copy=False, readonly=True)
    status_date = fields.Datetime("Status updated on", copy=False, readonly=True)
    provider_status_at = fields.Datetime(
        "Provider status time",
        copy=False,
        readonly=True,
        help="When the provider set the status last applied: an older status event is ignored.",
    )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("lang", "translation_ids.lang")
    def _compute_lang_codes(self):
        for template in self:
            codes = [template.lang] + template.translation_ids.mapped("lang")
            template.lang_codes = ", ".join(template._lang_label(code) for code in codes if code)

    @api.depends("body", "translation_ids.body")
    def _compute_placeholder_names(self):
        for template in self:
            names = template_rules.placeholders("\n".join(template._bodies().values()))
            template.placeholder_names = ", ".join(f"%%{name}%%" for name in names)

    @api.depends("body", "button_ids.button_type", "button_ids.text", "button_ids.value", "button_ids.sequence")
    def _compute_preview_html(self):
        for template in self:
            template.preview_html = template_rules.preview_html(template.body, template._buttons_data())

    @api.depends("rejected_reason")
    @api.depends_context("lang")
    def _compute_rejected_reason_explained(self):
        messages = self._rejection_messages()
        for template in self:
            codes = template_rejection_codes(template.rejected_reason)
            lines = [messages[code] for code in codes if code in messages]
            template.rejected_reason_explained = "\n".join(lines) or False

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains("body", "lang", "button_ids", "translation_ids")
    def _check_template_rules(self):
        for template in self:
            errors = template_rules.validate_template(
                template.body,
                template._buttons_data(),
                template._known_placeholder_names(),
                {tr.lang: tr.body for tr in template.translation_ids},
                {tr.lang: tr._buttons_data() for tr in template.translation_ids},
            )
            if errors:
                raise ValidationError(template._format_rule_errors(errors))

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        # Translations and buttons refuse to be added to a requested template:
        # a template created directly in another state (imports, demo data)
        # is created as a draft with its lines, then moved to its state.
        later = {}
        for index, vals in enumerate(vals_list):
            if vals.get("state", "draft") != "draft":
                later[index] = vals.pop("state")
        templates = super().create(vals_list)
        for index, state in later.items():
            templates[index].state = state
        return templates

    def write(self, vals):
        if CONTENT_FIELDS.intersection(vals):
            self._check_editable()
        return super().write(vals)

    def copy(self, default=None):
        """The copy's translations keep their button texts (matched to the
        copy's buttons by position)."""
        new_templates = super().copy(default=default)
        for old, new in zip(self, new_templates):
            for old_tr, new_tr in zip(old.translation_ids, new.translation_ids):
                texts = [line["text"] for line in old_tr._buttons_data()]
                lines = new_tr.button_text_ids.sorted(lambda line: (line.sequence, line.button_id.id))
                for line, text in zip(lines, texts):
                    if line.text != text:
                        line.text = text
        return new_templates

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        if "name" not in (default or {}):
            for template, vals in zip(self, vals_list):
                vals["name"] = self.env._("%(name)s (copy)", name=template.name)
        return vals_list

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_save_draft(self):
        """The form saves before running a button: nothing else to do."""
        self.check_access("write")
        self._check_editable()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("Draft saved."),
            },
        }

    def action_duplicate(self):
        self.ensure_one()
        new = self.copy()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": new.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_prepare_approval(self):
        """The form's "Request approval": every check first (rules of each
        language and its buttons, duplicates), errors shown before anything
        irreversible; then the confirmation, whose button requests it."""
        self.ensure_one()
        self.check_access("write")
        if self.state != "draft":
            raise UserError(self.env._("Approval of “%(name)s” has already been requested.", name=self.name))
        self._check_template_rules()
        self._check_duplicates()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Request approval"),
            "res_model": "spoki.template.approval",
            "view_mode": "form",
            "target": "new",
            "context": {"default_template_id": self.id},
        }

    def action_request_approval(self):
        self.check_access("write")  # before the provider hears of it
        for template in self:
            template._request_approval()
        return True

    def action_sync_status(self):
        self.check_access("write")
        self._sync_status()
        return True

    def action_preview_partner(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Preview for a contact"),
            "res_model": "spoki.template.preview",
            "view_mode": "form",
            "target": "new",
            "context": {"default_template_id": self.id},
        }

    # ------------------------------------------------------------
    # WORKFLOW
    # ------------------------------------------------------------

    def _check_editable(self):
        locked = self.filtered(lambda t: t.state != "draft")
        if locked:
            raise UserError(
                self.env._(
                    "Approval of %(names)s has already been requested: its content can't change any more. "
                    "Duplicate it to prepare a new template.",
                    names=", ".join(f"“{name}”" for name in locked.mapped("name")),
                )
            )

    def _request_approval(self):
        self.ensure_one()
        if self.state != "draft":
            raise UserError(self.env._("Approval of “%(name)s” has already been requested.", name=self.name))
        self._check_template_rules()
        self._check_duplicates()
        bodies = self._bodies()
        previous = json.loads(self.placeholder_mapping or "{}")
        mapping = template_rules.positional_mapping(list(bodies.values()), previous=previous)
        provider_name = f"{_slug(self.name)}_{self.id}"
        spec = TemplateSpec(
            name=provider_name,
            category=self.category,
            languages={
                provider_lang_code(lang): template_rules.to_positional(body, mapping) for lang, body in bodies.items()
            },
            buttons=self._buttons_data(),
            lang_buttons={
                provider_lang_code(translation.lang): translation._buttons_data()
                for translation in self.translation_ids
                if translation.lang != self.lang
            },
        )
        # Example values of the parameters, required by Meta's review.
        spec.examples = self._example_values(mapping)
        clock = context_clock(self.env)
        provider = self.account_id._get_provider(clock=clock)
        try:
            status = provider.submit_template(spec)
        except ProviderError as exc:
            raise UserError(
                self.env._(
                    "The provider refused the approval request of “%(name)s”: %(error)s",
                    name=self.name,
                    error=exc,
                )
            ) from exc
        now = (clock or utcnow)()
        self.write(
            {
                "placeholder_mapping": json.dumps(mapping, sort_keys=True),
                "provider_name": provider_name,
                "external_id": status.external_id,
                "request_date": now,
                "status_date": now,
                "state": status.status if status.status in PROVIDER_STATES else "queued",
                "rejected_reason": status.reason if status.status == "rejected" else False,
            }
        )

    def _check_duplicates(self):
        """A template identical (same body in any language, same buttons) to
        one already requested on the same account is refused, unless that one
        was deleted (unlinked or archived)."""
        for template in self:
            mine = template._signatures()
            others = self.search(
                [
                    ("account_id", "=", template.account_id.id),
                    ("state", "!=", "draft"),
                    ("id", "!=", template.id),
                ]
            )
            for other in others:
                if mine & other._signatures():
                    raise UserError(
                        self.env._(
                            "Duplicate template: “%(other)s” (%(state)s) on the same account has already been "
                            "requested with the same text and buttons. Change the text or the buttons, or "
                            "delete or archive “%(other)s” first.",
                            other=other.name,
                            state=dict(other._fields["state"]._description_selection(self.env))[other.state],
                        )
                    )

    @api.model
    def _cron_sync_template_status(self, limit=500):
        """Poll the provider for templates waiting for approval (queued /
        in_review), per account, oldest request first."""
        templates = self.search(
            [("state", "in", ("queued", "in_review")), ("external_id", "!=", False)],
            order="request_date, id",
            limit=limit,
        )
        remaining = self.search_count([("state", "in", ("queued", "in_review")), ("external_id", "!=", False)])
        templates._sync_status()
        self.env["ir.cron"]._notify_progress(done=len(templates), remaining=max(remaining - len(templates), 0))

    def _sync_status(self):
        clock = context_clock(self.env)
        for account, templates in self.filtered("external_id").grouped("account_id").items():
            provider = account._get_provider(clock=clock)
            for template in templates:
                try:
                    status = provider.get_template_status(template.external_id)
                except ProviderError as exc:
                    _logger.warning(
                        "Status of WhatsApp template %s (%s) not available: %s", template.id, template.external_id, exc
                    )
                    continue
                template._apply_status(status.status, status.reason, clock=clock)

    @api.model
    def _apply_provider_status(self, external_id, status, reason="", account=None, timestamp=None):
        """Apply a status reported by the provider (webhook). ``external_id``
        may be one of the ids of a multi-language Meta template (stored as
        'id1,id2'): a per-language rejection rejects the template, other
        per-language statuses only move it to in review and the poll then
        reads the aggregated status.

        ``account``: the account the event arrived for — only its templates
        are touched. ``timestamp``: when the provider changed the status
        (None: now); an event older than the last one applied
        (``provider_status_at``) never undoes it — an old APPROVED replayed
        after a REJECTED is ignored. Returns the templates changed."""
        external_id = str(external_id or "").strip()
        if not external_id or status not in PROVIDER_STATES:
            return self.browse()
        domain = [
            "|",
            "|",
            "|",
            ("external_id", "=", external_id),
            ("external_id", "=like", f"{external_id},%"),
            ("external_id", "=like", f"%,{external_id}"),
            ("external_id", "=like", f"%,{external_id},%"),
        ]
        if account is not None:
            domain = expression.AND([[("account_id", "=", account.id)], domain])
        when = timestamp or utcnow()
        changed = self.browse()
        for template in self.sudo().with_context(active_test=False).search(domain):
            if template.provider_status_at and when < template.provider_status_at:
                _logger.info(
                    "WhatsApp template %s: %s status of %s ignored, older than the one applied (%s)",
                    template.id,
                    status,
                    when,
                    template.provider_status_at,
                )
                continue
            partial = template.external_id != external_id
            new_status = "in_review" if partial and status == "approved" else status
            if template._apply_status(new_status, reason, clock=lambda when=when: when):
                changed |= template
            elif template.state == new_status:
                template.provider_status_at = when  # the same status, newer: later events compare to it
        return changed

    def _apply_status(self, status, reason="", clock=None):
        """Move to a provider status; returns True when the state changed."""
        self.ensure_one()
        if (
            status not in PROVIDER_STATES
            or self.state == "draft"
            or status == self.state
            or STATE_RANK[status] < STATE_RANK[self.state]
        ):
            return False
        when = (clock or utcnow)()
        vals = {"state": status, "status_date": when, "provider_status_at": when}
        if status == "rejected":
            vals["rejected_reason"] = reason or self.env._("No reason given by the provider.")
        elif status == "approved":
            vals["rejected_reason"] = False
        self.write(vals)
        self._spoki_live_notify()
        return True

    # ------------------------------------------------------------
    # SENDING / RENDERING (API of the messaging engine)
    # ------------------------------------------------------------

    @api.model
    def _sendable_domain(self, account=None):
        """Domain of the templates that can be chosen for sending."""
        domain = [("state", "=", "approved"), ("active", "=", True)]
        if account:
            domain.append(("account_id", "=", account.id if hasattr(account, "id") else account))
        return domain

    @api.model
    def _search(self, domain, *args, **kwargs):
        # context {'spoki_sendable_only': True} (e.g. on a many2one used to
        # pick the template to send) restricts every search to approved ones.
        if self.env.context.get("spoki_sendable_only"):
            domain = expression.AND([domain or [], self._sendable_domain()])
        return super()._search(domain, *args, **kwargs)

    def _check_sendable(self):
        not_ok = self.filtered(lambda t: t.state != "approved" or not t.active)
        if not_ok:
            raise UserError(
                self.env._(
                    "Only approved templates can be sent: %(names)s is not approved by WhatsApp.",
                    names=", ".join(f"“{name}”" for name in not_ok.mapped("name")),
                )
            )

    def _render_for_partner(self, partner, payload=None):
        """{'lang', 'provider_lang', 'body', 'params', 'missing'} for ``partner``
        (see :meth:`_render_for_partners`)."""
        self.ensure_one()
        partner.ensure_one()
        return self._render_for_partners(partner, payload)[partner.id]

    def _render_for_partners(self, partners, payload=None):
        """Render the template for each partner: ``{partner_id: {'lang': Odoo
        code of the chosen translation, 'provider_lang': its code for the
        provider, 'body': text, 'params': positional values in {{n}} order,
        'missing': sorted names without a value}}``.

        * translation: country of the number (CLDR official languages), else
          the partner's language, else the template's language;
        * values: the contact's (built-ins + ON dynamic fields, one read for
          all ``partners``), overridden by ``payload`` ({NAME: value}, e.g. OFF
          fields of a campaign; strings of date/datetime fields are parsed,
          naive datetimes are UTC as everywhere in Odoo);
        * dates/datetimes formatted in the chosen language's locale, datetimes
          shown in the partner's timezone (else the user's, else UTC);
        * a missing value is reported in 'missing' (its %%NAME%% stays in
          'body', its param is ''): the caller must not send such a message.
        """
        self.ensure_one()
        bodies = self._bodies()
        renderer = template_render.BatchRenderer(
            bodies,
            self._positional_mapping(),
            template_lang=self.lang,
            payload=self._parse_payload(payload),
            default_tz=self.env.user.tz or "UTC",
            provider_langs={lang: provider_lang_code(lang) for lang in bodies},
        )
        # contacts read set-based, rendered in plain Python (tools/template_render.py)
        rows = partners._spoki_render_data()
        return {
            partner_id: renderer.render(row["wa_phone"], row["lang"], row["tz"], row["values"])
            for partner_id, row in rows.items()
        }

    # ------------------------------------------------------------
    # PRIVATE
    # ------------------------------------------------------------

    @api.model
    def _lang_selection(self):
        """WhatsApp's template languages named in the user's language
        ("Italian (it)", "English (US) (en_US)"), whatever is installed in
        Odoo; then the installed Odoo languages WhatsApp knows under another
        code ("Italian (it_IT)"), so that codes stored before stay valid."""
        display = self.env.lang or "en_US"
        choices = whatsapp_languages.language_choices(display)
        legacy = [
            (code, f"{whatsapp_languages.language_name(whatsapp_languages.whatsapp_code(code), display)} ({code})")
            for code, _name in self.env["res.lang"].get_installed()
            if code not in whatsapp_languages.CODES and whatsapp_languages.whatsapp_code(code)
        ]
        return choices + sorted(legacy, key=lambda item: item[1].lower())

    @api.model
    def _lang_label(self, code):
        """ "Italian (it)" for a language code of a template or translation."""
        wa_code = whatsapp_languages.whatsapp_code(code)
        if not wa_code:
            return code or ""
        return f"{whatsapp_languages.language_name(wa_code, self.env.lang or 'en_US')} ({code})"

    def _bodies(self):
        """{lang: body}: the main language first, then the translations."""
        self.ensure_one()
        bodies = {self.lang: self.body or ""}
        for translation in self.translation_ids:
            if translation.lang and translation.lang not in bodies:
                bodies[translation.lang] = translation.body or ""
        return bodies

    def _buttons_data(self, lang=None):
        """``[{'type', 'text', 'value'}]``: the buttons of the main language,
        or with the texts of the translation in ``lang`` (the language of a
        rendered message) when there is one."""
        self.ensure_one()
        if lang and lang != self.lang:
            translation = self.translation_ids.filtered(lambda t: t.lang == lang)[:1]
            if translation:
                return translation._buttons_data()
        return [
            {"type": button.button_type, "text": button.text or "", "value": button.value or ""}
            for button in self.button_ids.sorted(lambda b: (b.sequence, b.id or 0))
        ]

    def _button_text_variants(self, text):
        """Normalised texts, in every language, of the quick-reply button whose
        text is ``text`` in one of them (a customer taps the button in the
        language they received): empty when no quick reply has that text."""
        self.ensure_one()
        wanted = normalize_text(text)
        by_lang = [self._buttons_data(lang) for lang in self._bodies()]
        for index, button in enumerate(by_lang[0]):
            texts = {normalize_text(buttons[index]["text"]) for buttons in by_lang if index < len(buttons)}
            if button["type"] == "quick_reply" and wanted in texts:
                return texts
        return set()

    def _set_translation_button_texts(self, texts_by_lang):
        """``{lang: [text of each button, in order]}``: the button texts of
        the translations (demo data, imports)."""
        for template in self:
            for translation in template.translation_ids:
                texts = texts_by_lang.get(translation.lang) or []
                lines = translation.button_text_ids.sorted(lambda line: (line.sequence, line.button_id.id))
                for line, text in zip(lines, texts):
                    line.text = text

    def _signatures(self):
        self.ensure_one()
        return template_rules.template_signatures_by_lang(
            self._bodies(), {lang: self._buttons_data(lang) for lang in self._bodies()}, self._buttons_data()
        )

    def _positional_mapping(self):
        self.ensure_one()
        previous = json.loads(self.placeholder_mapping or "{}")
        return template_rules.positional_mapping(list(self._bodies().values()), previous=previous)

    def _example_values(self, mapping):
        """Sample value of each positional parameter, in {{n}} order."""
        samples = {
            "NOME": "Mario",
            "COGNOME": "Rossi",
            "TELEFONO": "+393331234567",
            "EMAIL": "mario.rossi@example.com",
        }
        types = {name: f.field_type for name, f in self.env["spoki.dynamic.field"]._get_by_names(list(mapping)).items()}
        now = fields.Datetime.now().replace(second=0, microsecond=0)
        by_type = {"date": now.date(), "datetime": now}
        examples = []
        for name, _index in sorted(mapping.items(), key=lambda item: item[1]):
            value = samples.get(name) or by_type.get(types.get(name)) or name.replace("_", " ").lower()
            examples.append(template_rules.format_value(value, self.lang))
        return examples

    def _known_placeholder_names(self):
        self.ensure_one()
        Field = self.env["spoki.dynamic.field"]
        if self.company_id:
            Field = Field.with_company(self.company_id)
        return Field._known_names()

    def _parse_payload(self, payload):
        payload = {str(key).strip().upper(): value for key, value in (payload or {}).items()}
        typed = {
            name: field.field_type
            for name, field in self.env["spoki.dynamic.field"]._get_by_names(list(payload)).items()
            if field.field_type in ("date", "datetime")
        }
        for name, field_type in typed.items():
            if isinstance(payload[name], str) and payload[name].strip():
                try:
                    payload[name] = parse_typed(field_type, payload[name])
                except ValueError:
                    pass  # sent as given
        return payload

    def _rule_messages(self):
        """Translated message of each template_rules error code (the rule is
        named first)."""
        _ = self.env._
        return {
            "body_empty": _("Message text: it is empty."),
            "body_too_long": _(
                "Maximum length: the message text is %(length)s characters long, WhatsApp allows at most "
                "%(max)s (emoji count as 2 or more)."
            ),
            "too_many_spaces": _(
                "Consecutive spaces: the message text contains %(count)s spaces in a row, at most %(max)s are allowed."
            ),
            "media_not_allowed": _(
                "Text only: templates can't contain images; use a link button to point to an image on the web."
            ),
            "button_type": _("Button type: button %(index)s has an unknown type “%(type)s”."),
            "button_text_empty": _("Button text: button %(index)s has no text."),
            "button_text_too_long": _(
                "Button text length: “%(text)s” (button %(index)s) is %(length)s characters long, at most "
                "%(max)s are allowed."
            ),
            "button_emoji": _("No emoji in buttons: “%(text)s” (button %(index)s) contains an emoji."),
            "button_count": _("Number of buttons (%(type)s): %(count)s, at most %(max)s are allowed."),
            "button_order": _(
                "Button order: quick reply buttons must be grouped together, before or after the link and call buttons."
            ),
            "url_invalid": _("Link button: “%(url)s” (button %(index)s) is not a valid http(s) link."),
            "url_too_long": _(
                "Link button: the link of button %(index)s is %(length)s characters long, at most %(max)s are allowed."
            ),
            "phone_invalid": _(
                "Call button: “%(phone)s” (button %(index)s) is not a valid international phone number "
                "(+ and country code)."
            ),
            "bad_placeholder": _(
                "Dynamic field names: %(names)s are not valid, use capital letters, e.g. %(suggestions)s."
            ),
            "unknown_placeholders": _(
                "Unknown dynamic fields: %(names)s. Create them in Contacts › Dynamic fields or use a built-in "
                "one (%(builtins)s)."
            ),
            "missing_values": _("Missing values: no value for %(names)s."),
            "translation_button_count": _(
                "Buttons: the translation has %(count)s buttons, the template has %(expected)s; each language has "
                "the same buttons with its own texts."
            ),
            "translation_button_type": _(
                "Buttons: button %(index)s is of another kind than the template's (%(type)s instead of %(expected)s)."
            ),
        }

    def _rejection_messages(self):
        """Translated explanation of each rejection code the providers report
        (tools/providers/cloud_api.py TEMPLATE_REJECTION_CODES)."""
        _ = self.env._
        return {
            "ABUSIVE_CONTENT": _(
                "Abusive content: WhatsApp found text that breaks its policies (threatening, offensive or "
                "misleading). Rewrite it following the Commerce Policy."
            ),
            "INCORRECT_CATEGORY": _(
                "Wrong category: the text doesn't match the chosen category (e.g. a promotion as Utility). "
                "Choose the category that fits the text."
            ),
            "INVALID_FORMAT": _(
                "Invalid format: the text breaks a formatting rule, e.g. a dynamic field at the very start or end "
                "of the message, or two dynamic fields next to each other."
            ),
            "PROMOTIONAL": _(
                "Promotional content: the text promotes something in a category that doesn't allow it. Use the "
                "Marketing category or remove the promotion."
            ),
            "PROMOTIONAL_LINK": _("Link not allowed: link shorteners (bit.ly…) are refused, write the full address."),
            "SCAM": _(
                "Suspected scam: WhatsApp thinks the message could deceive customers (e.g. asking for money, "
                "passwords or personal data)."
            ),
            "TAG_CONTENT_MISMATCH": _(
                "Content and category or language don't match: check that the category and each translation's "
                "language fit the text."
            ),
            "PAUSED": _("Paused by WhatsApp: customers blocked or reported it; it can't be sent for a while."),
            "DISABLED": _("Disabled by WhatsApp after repeated negative feedback: it can no longer be sent."),
            "FLAGGED": _("Flagged: the template's quality is low, WhatsApp may pause it if it doesn't improve."),
            "PENDING_DELETION": _("Being deleted at the provider: it can no longer be sent."),
            "ARCHIVED": _("Archived at the provider: it can no longer be sent."),
        }

    def _format_rule_errors(self, errors):
        """One translated line per template_rules error."""
        messages = self._rule_messages()
        count_types = {
            "total": self.env._("total"),
            "url": self.env._("link"),
            "phone": self.env._("call"),
        }
        lines = []
        for error in errors:
            params = {"builtins": ", ".join(f"%%{name}%%" for name in template_rules.BUILTINS)}
            for key, value in error.params.items():
                if key in ("names", "suggestions"):
                    value = ", ".join(f"%%{name}%%" for name in value)
                elif key == "type" and error.code == "button_count":
                    value = count_types.get(value, value)
                params[key] = value
            message = messages.get(error.code)
            try:
                line = message % params if message else str(error)
            except (KeyError, TypeError, ValueError):
                line = str(error)
            if "lang" in params:
                lang_name = self._lang_label(params["lang"])
                line = self.env._("Translation %(lang)s: %(error)s", lang=lang_name, error=line)
            if line not in lines:
                lines.append(line)
        return "\n".join(lines)
