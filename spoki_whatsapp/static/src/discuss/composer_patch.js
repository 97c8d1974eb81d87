import { Composer } from "@mail/core/common/composer";
import { onWillUnmount, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

/** The composer of a WhatsApp channel obeys WhatsApp's rules: free text only
 * inside the 24-hour customer-service window (time left shown), otherwise a
 * template picker with a preview; internal notes are never sent. */
patch(Composer.prototype, {
    setup() {
        super.setup(...arguments);
        this.spokiState = useState({ note: false, now: Date.now() });
        const timer = setInterval(() => (this.spokiState.now = Date.now()), 30000);
        onWillUnmount(() => clearInterval(timer));
    },
    get spokiThread() {
        const thread = this.thread;
        return thread?.channel_type === "whatsapp" && !this.props.composer.message ? thread : null;
    },
    get spokiWindowOpen() {
        void this.spokiState.now; // re-render as time passes
        return Boolean(this.spokiThread?.whatsappWindowLeft);
    },
    get spokiWindowLabel() {
        void this.spokiState.now;
        const left = this.spokiThread?.whatsappWindowLeft || 0;
        const hours = Math.floor(left / 3600000);
        const minutes = Math.floor((left % 3600000) / 60000);
        return _t("Window open: %(hours)s h %(minutes)s min left", { hours, minutes });
    },
    get spokiCanWrite() {
        const thread = this.spokiThread;
        return !thread || this.spokiState.note || (this.spokiWindowOpen && !thread.whatsapp_opted_out);
    },
    get isSendButtonDisabled() {
        return super.isSendButtonDisabled || !this.spokiCanWrite;
    },
    get placeholder() {
        if (this.spokiThread) {
            if (this.spokiState.note) {
                return _t("Internal note: seen by your colleagues, never sent…");
            }
            if (this.spokiThread.whatsapp_opted_out) {
                return _t("The contact opted out of WhatsApp messages.");
            }
            if (!this.spokiWindowOpen) {
                return _t("Window closed: send an approved template.");
            }
        }
        return super.placeholder;
    },
    get postData() {
        const data = super.postData;
        if (this.spokiThread && this.spokiState.note) {
            data.isNote = true;
        }
        return data;
    },
    async sendMessage() {
        if (!this.spokiCanWrite) {
            return;
        }
        return super.sendMessage(...arguments);
    },
    onClickSpokiNote() {
        this.spokiState.note = !this.spokiState.note;
    },
    async onClickSpokiTemplate() {
        const action = await this.env.services.orm.call("spoki.chat", "action_template_dialog", [
            [this.spokiThread.whatsapp_chat_id],
        ]);
        await this.env.services.action.doAction(action);
    },
});
