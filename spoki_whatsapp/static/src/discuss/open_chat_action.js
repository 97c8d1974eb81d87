import { registry } from "@web/core/registry";

/** "Go to chat": open the chat window of a WhatsApp channel over the
 * current screen (``spoki.chat._spoki_open_chat_window``). */
async function openWhatsAppChat(env, action) {
    const store = env.services["mail.store"];
    const thread = await store.Thread.getOrFetch({
        model: "discuss.channel",
        id: action.params.channel_id,
    });
    thread?.open();
}

registry.category("actions").add("spoki_whatsapp.open_chat", openWhatsAppChat);
