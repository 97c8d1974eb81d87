/* The WhatsApp chat for an agent working in Italian (tests/test_done_when_ui.py). */
(async function spokiDoneWhenItalian() {
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const waitFor = async (check, what, timeout = 25000) => {
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
    const withText = (selector, text) => [...document.querySelectorAll(selector)].find((el) => el.textContent.includes(text));
    try {
        (await waitFor(() => withText(".o-mail-DiscussSidebarChannel", "Giulia Verdi"), "the chat in the sidebar")).click();
        await waitFor(() => withText(".o-mail-Message-body", "è arrivata?"), "the message");
        await waitFor(() => withText(".o_spoki_window_open", "rimanenti") || withText(".o_spoki_window_open", "Finestra"), "the window in Italian");
        const panelButton = await waitFor(() => $('.o-mail-Discuss-header button[name="spoki-chat-panel"]'), "the chat panel in Italian");
        panelButton.click();
        await waitFor(() => withText(".o_spoki_chat_panel", "Aggiungi un tag"), "the panel in Italian");
        await sleep(700);
        console.log("spoki:shot:07_it_chat");
        await sleep(700);
        console.log("test successful");
    } catch (error) {
        console.log("spoki:shot:failure_it");
        await sleep(700);
        console.error(`spoki Italian browser test: ${error.message}`);
    }
})();
