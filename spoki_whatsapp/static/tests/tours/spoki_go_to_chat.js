/* Browser test (tests/test_discuss_ui.py): "Go to chat" on a contact opens the
 * chat window; outside the window the composer offers the template picker. */
(async function spokiGoToChat() {
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
    const shot = async (name) => {
        await sleep(600);
        console.log(`spoki:shot:${name}`);
        await sleep(600);
    };
    try {
        const button = await waitFor(() => $('button[name="action_spoki_open_chat"]'), "Go to chat");
        button.click();
        const chatWindow = await waitFor(
            () =>
                [...document.querySelectorAll(".o-mail-ChatWindow")].find((w) =>
                    w.querySelector(".o-mail-ChatWindow-header")?.textContent.includes("Luca Bianchi")
                ),
            "the chat window of the contact"
        );
        await waitFor(() => chatWindow.querySelector(".o_spoki_window_closed"), "the closed window");
        await waitFor(
            () => [...chatWindow.querySelectorAll(".o-mail-Message")].find((m) => m.textContent.includes("Promo Giugno")),
            "the earlier template, rendered with its buttons"
        );
        const send = chatWindow.querySelector(".o-mail-Composer-send");
        if (send && !send.disabled) {
            throw new Error("free text can be sent outside the window");
        }
        await shot("07_go_to_chat_window_closed");
        chatWindow.querySelector(".o_spoki_send_template").click();
        const dialog = await waitFor(() => $(".modal .o_form_view"), "the template picker");
        await waitFor(() => dialog.querySelector(".o_field_widget[name=composer_preview] div"), "the preview");
        await shot("08_template_picker_preview");
        (await waitFor(() => $('.modal button[name="action_send_template"]'), "Send template")).click();
        await waitFor(() => !$(".modal .o_form_view"), "the picker closed");
        console.log("spoki:dispatch");
        await waitFor(
            () =>
                [...chatWindow.querySelectorAll(".o-mail-Message")].filter((m) =>
                    m.textContent.includes("Promo Giugno")
                ).length === 2 && chatWindow.querySelector('.o_spoki_tick[data-state="queued"]'),
            "the template sent, queued, in the chat window"
        );
        await shot("09_template_sent_in_chat_window");
        console.log("test successful");
    } catch (error) {
        await shot("failure_go_to_chat");
        console.error(`spoki go-to-chat browser test: ${error.message}`);
    }
})();
