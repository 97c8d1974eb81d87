/* Issue 14, templates (tests/test_template_issue14_ui.py): "Request approval"
 * checks first (an error, no confirmation), the preview follows the typing in
 * the form and in the translation dialog (no blur, no save), the English
 * translation shows its own buttons, the confirmation comes after the checks.
 * `spokiShot` (screenshot name suffix) is set by the test. */
(async function spokiTemplateIssue14() {
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
    const type = (textarea, text) => {
        textarea.focus();
        textarea.value = "";
        for (const char of text) {
            textarea.value += char;
            textarea.dispatchEvent(new InputEvent("input", { bubbles: true, data: char, inputType: "insertText" }));
        }
    };
    const shot = async (name) => {
        await sleep(600);
        console.log(`spoki:shot:${name}_${spokiShot}`);
        await sleep(600);
    };
    try {
        // 1. the same text as a requested template: an error, no confirmation
        (await waitFor(() => $('button[name="action_prepare_approval"]'), "Request approval")).click();
        await waitFor(() => withText(".modal .modal-body", "Tour original"), "the duplicate error");
        if ($(".o_spoki_approval_warning")) {
            throw new Error("the confirmation opened before the checks");
        }
        await shot("template_check_error");
        $(".modal .modal-footer .btn-primary, .modal .btn-close").click();
        await waitFor(() => !$(".modal"), "the error closed");

        // 2. the preview follows the typing (the textarea keeps the focus)
        const body = await waitFor(() => $('.o_field_widget[name="body"] textarea'), "the text");
        type(body, "Ciao %%NOME%%, *live* preview del template!");
        await waitFor(
            () => withText(".o_form_sheet .o_spoki_wa_preview .o_spoki_wa_text", "preview del template"),
            "the live preview of the form"
        );
        if (document.activeElement !== body) {
            throw new Error("the text lost the focus");
        }
        if (!$(".o_form_sheet .o_spoki_wa_preview b")) {
            throw new Error("the preview has no bold");
        }
        if (!$(".o_spoki_policy_guidance a[href='https://www.whatsapp.com/legal/commerce-policy']")) {
            throw new Error("no Commerce Policy guidance");
        }
        await shot("template_form");

        // 3. the English translation: its own buttons, live preview in the dialog
        (await waitFor(() => $('a.nav-link[name="translations"]'), "the Translations tab")).click();
        (await waitFor(() => $('.o_field_widget[name="translation_ids"] .o_data_row td'), "the English row")).click();
        const dialogBody = await waitFor(() => $('.modal .o_field_widget[name="body"] textarea'), "the dialog");
        await waitFor(() => withText(".modal .o_spoki_wa_preview .o_spoki_wa_button", "Yes, confirm"), "the English button");
        if (withText(".modal .o_spoki_wa_preview .o_spoki_wa_button", "Conferma")) {
            throw new Error("the English preview shows the Italian button");
        }
        type(dialogBody, "Hello %%NOME%%, typed live in English!");
        await waitFor(() => withText(".modal .o_spoki_wa_preview .o_spoki_wa_text", "typed live in English"), "the live preview of the dialog");
        await shot("translation_dialog");
        (await waitFor(() => $(".modal .o_form_button_save"), "Save & close")).click();
        await waitFor(() => !$(".modal"), "the dialog closed");

        // 4. every check passed: now the confirmation
        (await waitFor(() => $('button[name="action_prepare_approval"]'), "Request approval")).click();
        await waitFor(() => $(".modal .o_spoki_approval_warning"), "the confirmation");
        await shot("template_confirm");
        $('.modal button[name="action_confirm"]').click();
        await waitFor(() => !$('button[name="action_prepare_approval"]'), "the request sent");
        await sleep(300);
        console.log("test successful");
    } catch (error) {
        console.log(`spoki:shot:failure_${spokiShot}`);
        await sleep(700);
        console.error(`spoki template browser test: ${error.message}`);
    }
})();
