import { useSpokiLiveRefresh } from "@spoki_whatsapp/live/live_refresh";
import { patch } from "@web/core/utils/patch";
import { ListController } from "@web/views/list/list_controller";

/** WhatsApp › Chats: a chat touched by a new message (also one the list
 * doesn't show yet: a new chat, another page's) reloads the open list. The
 * records the list shows are already refreshed by live_refresh.js. */
patch(ListController.prototype, {
    setup() {
        super.setup(...arguments);
        useSpokiLiveRefresh(
            (payload) => {
                const root = this.model.root;
                if (!root || root.resModel !== "spoki.chat" || payload.model !== "spoki.chat") {
                    return false;
                }
                const shown = (root.records || []).map((record) => record.resId);
                return !(payload.ids || []).some((id) => shown.includes(id));
            },
            async () => {
                const root = this.model.root;
                if (!root || root.editedRecord) {
                    return;
                }
                await root.load();
            }
        );
    },
});
