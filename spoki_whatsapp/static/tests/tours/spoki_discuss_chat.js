/* Browser test of WhatsApp chats in Discuss (tests/test_discuss_ui.py).
 * Run with browser_js: the page is Discuss; "spoki:<command>" console lines ask
 * the Python side for a screenshot or a webhook (real HTTP to /spoki/webhook). */
(async function spokiDiscussChat() {
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const waitFor = async (check, what, timeout = 20000) => {
        const start = Date.now();
        while (Date.now() - start < timeout) {
            const found = check();
            if (found) {
                return found;
            }
            await sleep(100);
        }
        throw new Error(`timeout waiting for ${what}`);
    };
    const $ = (selector) => document.querySelector(selector);
    const withText = (selector, text) =>
        [...document.querySelectorAll(selector)].find((el) => el.textContent.includes(text));
    const shot = async (name) => {
        await sleep(600);
        console.log(`spoki:shot:${name}`);
        await sleep(600);
    };
    try {
        // the WhatsApp category of the sidebar lists the chat; the systray has no unread chat yet
        const item = await waitFor(
            () => withText(".o-mail-DiscussSidebarChannel", "Giulia Verdi"),
            "the WhatsApp chat in the sidebar"
        );
        await waitFor(() => $(".o-mail-DiscussSidebarCategory-whatsapp"), "the WhatsApp category");
        const systray = () => parseInt($(".o-mail-MessagingMenu-counter")?.textContent || "0");
        const before = systray();
        if (item.querySelector(".o-mail-DiscussSidebar-badge")) {
            throw new Error("the chat has unread messages before the test");
        }
        await shot("01_sidebar_whatsapp_category");
        // a customer message arrives by webhook: the unread counters rise without reload
        console.log("spoki:incoming");
        await waitFor(
            () => item.querySelector(".o-mail-DiscussSidebar-badge")?.textContent.trim() === "1",
            "the unread counter of the chat"
        );
        await waitFor(() => systray() === before + 1, "the systray counter");
        await shot("02_unread_counter");
        // open the chat: the message is there, the window is open
        item.click();
        await waitFor(() => withText(".o-mail-Message-body", "Avete la taglia M?"), "the incoming message");
        await waitFor(() => $(".o_spoki_window_open"), "the open window with its time left");
        await waitFor(() => $('.o_spoki_tick[data-state="sent"]'), "the sent tick of the earlier answer");
        await shot("03_chat_incoming_message");
        // the provider reports the earlier answer delivered: its tick moves live
        console.log("spoki:delivered");
        await waitFor(() => $('.o_spoki_tick[data-state="delivered"]'), "the delivered tick");
        await shot("04_tick_delivered");
        // answer from the composer, inside the window
        const input = await waitFor(() => $(".o-mail-Composer-input"), "the composer");
        input.focus();
        input.value = "Sì, la taglia M è disponibile!";
        input.dispatchEvent(new Event("input", { bubbles: true }));
        await sleep(300);
        const send = await waitFor(() => {
            const button = $(".o-mail-Composer-send");
            return button && !button.disabled && button;
        }, "the send button");
        send.click();
        // (the client first shows a pending copy, then the posted message with its tick)
        await waitFor(
            () => withText(".o-mail-Message", "la taglia M è disponibile")?.querySelector('.o_spoki_tick[data-state="queued"]'),
            "the answer in the chat with its queued tick"
        );
        await shot("05_answer_queued");
        console.log("spoki:check-answer");
        // an internal note: shown as internal, never sent
        $(".o_spoki_note_toggle").click();
        await sleep(200);
        input.value = "Cliente VIP: spedizione gratuita";
        input.dispatchEvent(new Event("input", { bubbles: true }));
        await sleep(300);
        $(".o-mail-Composer-send").click();
        await waitFor(() => $(".o_spoki_internal_note"), "the internal note label");
        await shot("06_internal_note");
        console.log("test successful");
    } catch (error) {
        console.error(`spoki discuss browser test: ${error.message}`);
    }
})();
