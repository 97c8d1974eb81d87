import { Message } from "@mail/core/common/message_model";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

const TICKS = {
    queued: "🕓",
    sending: "🕓",
    sent: "✓",
    delivered: "✓✓",
    read: "✓✓",
    failed: "⚠",
};

/** Messages of WhatsApp channels: ticks from the ledger (``whatsappStatus``,
 * updated live over the bus); what WhatsApp can't carry is disabled (editing,
 * deleting), what it can is mapped: replies (quoted) to a message WhatsApp
 * knows (``whatsappProviderId``), reactions on the customer's messages (the
 * server sends them inside the 24-hour window, refuses them outside). */
patch(Message.prototype, {
    setup() {
        super.setup(...arguments);
        this.whatsappStatus = undefined;
        this.whatsappError = undefined;
        this.whatsappDirection = undefined;
        this.whatsappProviderId = false;
    },
    get isWhatsApp() {
        return this.thread?.channel_type === "whatsapp";
    },
    get whatsappTick() {
        return TICKS[this.whatsappStatus] || "";
    },
    get whatsappTickTitle() {
        const titles = {
            queued: _t("Queued"),
            sending: _t("Sending"),
            sent: _t("Sent"),
            delivered: _t("Delivered"),
            read: _t("Read"),
            failed: _t("Failed"),
        };
        const title = titles[this.whatsappStatus] || "";
        return this.whatsappError ? `${title}: ${this.whatsappError}` : title;
    },
    get editable() {
        if (this.isWhatsApp && !this.is_note) {
            return false;
        }
        return super.editable;
    },
    /** A message WhatsApp knows (it has a provider id), or an internal note. */
    get whatsappMapped() {
        return this.is_note || Boolean(this.whatsappProviderId);
    },
    canAddReaction(thread) {
        if (this.isWhatsApp && !this.is_note) {
            const customers = this.whatsappDirection === "incoming" && this.whatsappProviderId;
            return Boolean(customers) && super.canAddReaction(thread);
        }
        return super.canAddReaction(thread);
    },
    canReplyTo(thread) {
        if (thread?.channel_type === "whatsapp") {
            return this.whatsappMapped && super.canReplyTo(thread);
        }
        return super.canReplyTo(thread);
    },
});
