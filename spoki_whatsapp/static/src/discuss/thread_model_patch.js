import { Thread } from "@mail/core/common/thread_model";
import { deserializeDateTime } from "@web/core/l10n/dates";
import { patch } from "@web/core/utils/patch";

/** WhatsApp channels: chats with a customer (unread counter like a direct
 * chat), the customer-service window from the server's chat info. */
patch(Thread.prototype, {
    setup() {
        super.setup(...arguments);
        this.whatsapp_chat_id = undefined;
        this.whatsapp_number = undefined;
        this.whatsapp_window_end = undefined;
        this.whatsapp_opted_out = false;
    },
    get isWhatsApp() {
        return this.channel_type === "whatsapp";
    },
    get isChatChannel() {
        return this.channel_type === "whatsapp" || super.isChatChannel;
    },
    get autoOpenChatWindowOnNewMessage() {
        return this.channel_type === "whatsapp" || super.autoOpenChatWindowOnNewMessage;
    },
    get allowCalls() {
        return this.channel_type !== "whatsapp" && super.allowCalls;
    },
    get allowDescription() {
        return this.channel_type !== "whatsapp" && super.allowDescription;
    },
    /** Milliseconds left in the customer-service window (0: closed). */
    get whatsappWindowLeft() {
        if (!this.whatsapp_window_end) {
            return 0;
        }
        const end = deserializeDateTime(this.whatsapp_window_end);
        return Math.max(0, end.toMillis() - Date.now());
    },
});
