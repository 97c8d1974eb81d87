/* Browser test (tests/test_campaign_preflight_ui.py): as a WhatsApp manager,
 * in the user's language, the campaign form's Start opens the pre-flight:
 * the estimate, one preview per language, the start confirmation's figures;
 * a test is sent to a typed number (a notification confirms it); Start
 * starts the campaign (the form shows it starting).
 * SPOKI (prepended by the test) holds the expected texts. */
(async function spokiCampaignPreflight() {
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const $ = (selector, root = document) => root.querySelector(selector);
    const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
    const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");
    const waitFor = async (check, what, timeout = 30000) => {
        const start = Date.now();
        while (Date.now() - start < timeout) {
            const error = $(".o_error_dialog, .o_dialog .modal-body.o_error_detail");
            if (error) {
                throw new Error(`error dialog while waiting for ${what}: ${error.innerText}`);
            }
            const found = check();
            if (found) {
                return found;
            }
            await sleep(100);
        }
        throw new Error(`timeout waiting for ${what}`);
    };
    const shot = async (name) => {
        await sleep(600);
        console.log(`spoki:shot:${name}_${SPOKI.lang}`);
        await sleep(800);
    };
    try {
        const start = await waitFor(
            () => $('.o_form_view .o_statusbar_buttons button[name="action_preflight"]'),
            "the campaign's Start button"
        );
        await shot("01_campaign_form");
        start.click();
        const dialog = await waitFor(
            () => $$(".modal-dialog").find((d) => $('div[name="summary"]', d) && text($('div[name="summary"]', d))),
            "the pre-flight dialog"
        );
        const title = text($(".modal-title", dialog));
        if (title !== SPOKI.title) {
            throw new Error(`dialog title: ${title}`);
        }
        const summary = text($('div[name="summary"]', dialog));
        for (const expected of SPOKI.summary) {
            if (!summary.includes(expected)) {
                throw new Error(`summary "${summary}" lacks "${expected}"`);
            }
        }
        const all = text(dialog);
        for (const label of SPOKI.labels) {
            if (!all.includes(label)) {
                throw new Error(`the dialog lacks "${label}"`);
            }
        }
        const lines = $$('div[name="line_ids"] .o_data_row', dialog);
        if (lines.length !== SPOKI.previews.length) {
            throw new Error(`${lines.length} language groups`);
        }
        for (const preview of SPOKI.previews) {
            if (!lines.some((row) => text(row).includes(preview))) {
                throw new Error(`no preview with "${preview}"`);
            }
        }
        document.activeElement.blur();
        $(".modal-body", dialog).scrollTop = 0;
        await shot("02_preflight");
        const input = $('div[name="test_number"] input', dialog);
        input.focus();
        input.value = SPOKI.number;
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.dispatchEvent(new Event("change", { bubbles: true }));
        const send = await waitFor(() => $('button[name="action_send_test"]', dialog), "the Send test button");
        send.click();
        await waitFor(
            () => $$(".o_notification").find((n) => text(n).includes(SPOKI.queued)),
            "the test send notification"
        );
        $(".modal-body", dialog).scrollTop = $(".modal-body", dialog).scrollHeight;
        await shot("03_test_sent");
        (await waitFor(() => $('.modal-footer button[name="action_start"]'), "the Start button")).click();
        await waitFor(() => !$('div[name="summary"]'), "the dialog closed");
        await waitFor(
            () => text($(".o_statusbar_status button.o_arrow_button_current")) === SPOKI.starting,
            "the campaign starting"
        );
        await shot("04_started");
        console.log("test successful");
    } catch (error) {
        console.error(`spoki campaign pre-flight: ${error.message}`);
    }
})();
