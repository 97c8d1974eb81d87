/* Issue 12's "Done when" in the browser (tests/test_done_when_ui.py). The page
 * is WhatsApp › Chats; "spoki:<command>" console lines ask the Python side for
 * a screenshot, a webhook (real HTTP) or the end of the 24-hour window. The
 * page is never reloaded: window.spokiPageId, set at the start, is checked at
 * the end (a reload would also have killed this script). */
(async function spokiDoneWhen() {
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
    // a notification sent by an RPC's transaction: wake the websockets (no NOTIFY in test mode) while waiting
    const waitLive = async (check, what) => {
        const start = Date.now();
        let last = 0;
        while (Date.now() - start < 25000) {
            const found = check();
            if (found) {
                return found;
            }
            if (Date.now() - last > 1500) {
                last = Date.now();
                console.log("spoki:dispatch");
            }
            await sleep(100);
        }
        throw new Error(`timeout waiting for ${what}`);
    };
    const $ = (selector, root = document) => root.querySelector(selector);
    const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
    const withText = (selector, text, root = document) => $$(selector, root).find((el) => el.textContent.includes(text));
    const shot = async (name) => {
        await sleep(700);
        console.log(`spoki:shot:${name}`);
        await sleep(700);
    };
    const type = (input, text) => {
        input.focus();
        input.value = text;
        input.dispatchEvent(new Event("input", { bubbles: true }));
    };
    const select = (element, value) => {
        element.value = String(value);
        element.dispatchEvent(new Event("change", { bubbles: true }));
    };
    const pageId = (window.spokiPageId = `page-${Date.now()}`);
    let step = "start";
    try {
        await waitFor(() => $(".o_list_view, .o_view_nocontent"), "the chats list");
        const systray = () => parseInt($(".o-mail-MessagingMenu-counter")?.textContent || "0");
        const before = systray();
        // 1. a customer writes (webhook): a chat window pops up, the counters rise, the chats list shows the chat
        step = "incoming message";
        console.log("spoki:incoming");
        const findWindow = () =>
            $$(".o-mail-ChatWindow").find((w) => $(".o-mail-ChatWindow-header", w)?.textContent.includes("Giulia Verdi"));
        await waitFor(() => systray() >= before + 1, "the unread counter in the systray");
        await waitFor(() => withText(".o_data_row", "Giulia Verdi"), "the chat in the chats list, live");
        let chatWindow = await waitFor(findWindow, "a chat window popping up", 4000).catch(() => null);
        if (!chatWindow) {
            // the agent opens it from the notification in the systray
            $(".o-mail-MessagingMenu-counter").closest("button, a, .dropdown-toggle").click();
            (await waitFor(() => withText(".o-mail-NotificationItem", "Giulia Verdi"), "the chat in the systray")).click();
            chatWindow = await waitFor(findWindow, "the chat window of the customer");
        }
        await waitFor(() => withText(".o-mail-Message-body", "avete ancora la borsa rossa", chatWindow), "the message");
        await shot("01_incoming_message_notification");
        // 2. then a photo
        step = "incoming photo";
        console.log("spoki:photo");
        await waitFor(() => $(".o-mail-AttachmentImage img, .o-mail-AttachmentList img", chatWindow), "the photo");
        await shot("02_incoming_photo");
        // 3. the agent answers from the chat window, inside the window
        step = "answer";
        await waitFor(() => $(".o_spoki_window_open", chatWindow), "the open window with its time left");
        type(await waitFor(() => $(".o-mail-Composer-input", chatWindow), "the composer"), "Sì, è disponibile: gliela metto da parte?");
        await sleep(300);
        (await waitFor(() => {
            const button = $(".o-mail-Composer-send", chatWindow);
            return button && !button.disabled && button;
        }, "the send button")).click();
        await waitFor(
            () => withText(".o-mail-Message", "gliela metto da parte", chatWindow)?.querySelector(".o_spoki_tick"),
            "the answer with its tick"
        );
        await shot("03_answer_in_window");
        // 4. a day later the window is closed: free text off, a template with the value the contact lacks
        step = "template";
        console.log("spoki:close-window");
        await waitFor(() => $(".o_spoki_window_closed", chatWindow), "the closed window");
        const send = $(".o-mail-Composer-send", chatWindow);
        if (send && !send.disabled) {
            throw new Error("free text can be sent outside the window");
        }
        $(".o_spoki_send_template", chatWindow).click();
        const dialog = await waitFor(() => $(".modal .o_form_view"), "the template picker");
        type(await waitFor(() => $(".o_field_widget[name=composer_template_id] input", dialog), "the template field"), "Codice");
        (await waitFor(() => withText(".o-autocomplete--dropdown-item", "Codice sconto"), "the template suggestion"))
            .querySelector("a, .dropdown-item")
            ?.click();
        const value = await waitFor(() => $(".o_spoki_template_value[name=CODICE_SCONTO]", dialog), "the missing value asked");
        type(value, "BORSA10");
        value.dispatchEvent(new Event("change", { bubbles: true }));
        await waitFor(() => $(".o_field_widget[name=composer_preview]", dialog)?.textContent.includes("BORSA10"), "the preview");
        await sleep(300);
        await shot("04a_template_picker_value");
        (await waitFor(() => $('.modal button[name="action_send_template"]'), "Send template")).click();
        await waitFor(() => !$(".modal .o_form_view"), "the picker closed");
        console.log("spoki:dispatch");
        await waitFor(
            () => withText(".o-mail-Message", "BORSA10", chatWindow)?.querySelector(".o_spoki_tick"),
            "the template in the chat window with its tick"
        );
        await shot("04_template_after_window_closed");
        // 5. tag the customer's message, then the chat
        step = "tags";
        const customerMessage = withText(".o-mail-Message", "avete ancora la borsa rossa", chatWindow);
        // a quick action, or in the "Expand" menu when others (reactions) come first (chat window: one quick action)
        const tagAction = () =>
            $('button[name="spoki-tag"]', customerMessage) || $('.o-mail-Message-moreMenu [title="Tag"]');
        if (!tagAction()) {
            customerMessage.dispatchEvent(new MouseEvent("mouseenter", { bubbles: true }));
            (await waitFor(() => $(".o-mail-Message-actions [title='Expand']", customerMessage), "the Expand action")).click();
        }
        (await waitFor(tagAction, "the Tag action")).click();
        (await waitFor(() => withText(".o_spoki_tag_choice", "interessato"), "the tag dialog")).click();
        await waitLive(() => withText(".o_spoki_message_tag", "interessato", customerMessage), "the message's tag badge");
        const panelButton = await waitFor(() => $('.o-mail-ChatWindow-command[title="Assignee and tags"]', chatWindow), "the chat panel action");
        panelButton.click();
        const panel = await waitFor(() => $(".o_spoki_chat_panel", chatWindow), "the chat panel");
        const addTag = await waitFor(() => {
            const element = $(".o_spoki_add_tag", panel);
            return element && withText("option", "Promo Giugno", element) && element;
        }, "the tags to add");
        select(addTag, withText("option", "Promo Giugno", addTag).value);
        await waitLive(() => withText(".o_spoki_chat_tag", "Promo Giugno", panel), "the chat's tag");
        await shot("05a_chat_panel_tagged");
        panelButton.click();
        await waitFor(() => withText(".o_spoki_strip_tag", "Promo Giugno", chatWindow), "the chat's tag under the chat");
        await waitFor(() => withText(".o_spoki_message_tag", "interessato", chatWindow), "the message's tag");
        await shot("05_chat_and_message_tagged");
        // 6. reassign to a colleague
        step = "reassign";
        $('.o-mail-ChatWindow-command[title="Assignee and tags"]', chatWindow).click();
        const assignee = await waitFor(() => {
            const element = $(".o_spoki_assignee", chatWindow);
            return element && withText("option", "Paola Colleghi", element) && element;
        }, "the agents");
        select(assignee, withText("option", "Paola Colleghi", assignee).value);
        await waitLive(() => withText(".o_spoki_assignee_name", "Paola Colleghi", chatWindow), "the new assignee");
        await shot("06_reassigned");
        if (window.spokiPageId !== pageId) {
            throw new Error("the page was reloaded");
        }
        console.log("test successful");
    } catch (error) {
        await shot(`failure_${step.replace(/ /g, "_")}`);
        console.error(`spoki done-when browser test (${step}): ${error.message}`);
    }
})();
