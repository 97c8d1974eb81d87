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
 * updated live over the bus); what WhatsApp can't carry is disabled. */
patch(Message.prototype, {
    setup() {
        super.setup(...arguments);
        this.whatsappStatus = undefined;
        this.whatsappError = undefined;
        this.whatsappDirection = undefined;
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
    canAddReaction(thread) {
        return !this.isWhatsApp && super.canAddReaction(thread);
    },
    canReplyTo(thread) {
        return thread?.channel_type !== "whatsapp" && super.canReplyTo(thread);
    },
});
