/* Browser test (tests/test_automation_ui.py): as a WhatsApp manager, in the
 * user's language, WhatsApp › Automations shows the guide's demo rules
 * (inactive); the webinar rule opens with its trigger; the rules are switched
 * on from the list; then their effects, seen in the UI:
 *   - a contact added later to the newsletter list gets the list's tag;
 *   - a customer answering "Sono interessato" (the real webhook) shows the tag;
 *   - the webinar reminders queued for two contacts at their own times in
 *     WhatsApp › Messages.
 * SPOKI (prepended by the test) holds the expected labels and ids. */
(async function spokiAutomations() {
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const $ = (selector, root = document) => root.querySelector(selector);
    const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
    const waitFor = async (check, what, timeout = 20000) => {
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
        await sleep(500);
        console.log(`spoki:shot:${name}_${SPOKI.lang}`);
        await sleep(700);
    };
    const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");
    const clickMenu = async (section, item) => {
        (await waitFor(() => $(`.o_menu_sections [data-menu-xmlid="${section}"]`), section)).click();
        (await waitFor(() => $(`.dropdown-menu [data-menu-xmlid="${item}"]`), item)).click();
    };
    const rows = () => $$(".o_list_view .o_data_row");
    const row = (name) => rows().find((r) => text($('[name="name"]', r)) === name);
    const rpc = async (model, method, args, kwargs = {}) => {
        const response = await fetch(`/web/dataset/call_kw/${model}/${method}`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", method: "call", params: { model, method, args, kwargs } }),
        });
        const result = await response.json();
        if (result.error) {
            throw new Error(`${model}.${method}: ${result.error.data.message}`);
        }
        return result.result;
    };
    const openContact = async (id) => {
        odoo.__WOWL_DEBUG__.root.env.services.action.doAction({
            type: "ir.actions.act_window",
            res_model: "res.partner",
            res_id: id,
            views: [[false, "form"]],
        });
        await waitFor(() => $(`.o_form_view .o_field_widget[name="name"]`), "the contact form");
    };
    const tagsOf = () => $$('.o_form_view .o_field_widget[name="category_id"] .o_tag').map(text);
    try {
        // WhatsApp › Automations, from the home menu
        (await waitFor(() => $(".o_navbar_apps_menu button"), "the apps menu")).click();
        (await waitFor(() => $('.o_app[data-menu-xmlid="spoki_whatsapp.spoki_menu_root"]'), "the WhatsApp app")).click();
        const section = await waitFor(
            () => $('.o_menu_sections [data-menu-xmlid="spoki_whatsapp.spoki_menu_automations"]'),
            "the Automations menu"
        );
        if (text(section) !== SPOKI.menu) {
            throw new Error(`menu "${text(section)}", expected "${SPOKI.menu}"`);
        }
        await clickMenu("spoki_whatsapp.spoki_menu_automations", "spoki_whatsapp.spoki_menu_automations_rules");
        await waitFor(() => SPOKI.rules.every((name) => row(name)), "the demo rules");
        for (const name of SPOKI.rules) {
            if ($(".o_field_boolean_toggle input", row(name)).checked) {
                throw new Error(`demo rule "${name}" is active`);
            }
        }
        await shot("01_automations_demo_rules");

        // a preset in the user's language on a new rule
        $(".o_list_button_add").click();
        const preset = await waitFor(() => $('.o_field_widget[name="spoki_preset"] select'), "the preset");
        const presets = $$("option", preset).map(text);
        if (!presets.includes(SPOKI.preset)) {
            throw new Error(`preset "${SPOKI.preset}" not in ${JSON.stringify(presets)}`);
        }
        $(".o_form_button_cancel")?.click();
        await sleep(300);
        $(".o_breadcrumb .o_back_button a, .o_breadcrumb li.breadcrumb-item a")?.click();
        await waitFor(() => row(SPOKI.webinar), "back to the list");

        // the webinar rule: its trigger and date field
        $('[name="name"]', row(SPOKI.webinar)).click();
        const trigger = await waitFor(() => $('.o_field_widget[name="trigger"] select'), "the rule's trigger");
        await waitFor(() => text(trigger.selectedOptions[0]) === SPOKI.dateTrigger, "the date trigger shown");
        await waitFor(
            () => {
                const field = $('.o_field_widget[name="spoki_date_field_id"]');
                return field && `${$("input", field)?.value || ""} ${text(field)}`.includes("WEBINAR_DATETIME");
            },
            "WEBINAR_DATETIME"
        );
        await shot("02_webinar_rule_form");
        $(".o_breadcrumb li.breadcrumb-item a").click();

        // switch the rules on from the list
        await waitFor(() => row(SPOKI.webinar), "the list again");
        for (const name of SPOKI.activate) {
            $(".o_field_boolean_toggle input", row(name)).click();
            await waitFor(() => $(".o_field_boolean_toggle input", row(name)).checked, `"${name}" active`);
            await sleep(300);
        }
        await shot("03_rules_active");

        // a member added later to the newsletter list is tagged
        await rpc("spoki.list", "write", [[SPOKI.newsletterId], { partner_ids: [[4, SPOKI.johnId]] }]);
        await openContact(SPOKI.johnId);
        await waitFor(() => tagsOf().includes(SPOKI.listTag), `the list's tag on the new member`);
        await shot("04_list_member_tagged");

        // the customer answers the June promotion: tag (and reply, list) without opening the chat
        console.log("spoki:incoming");
        await sleep(1500);
        for (let attempt = 0; attempt < 20 && !tagsOf().includes(SPOKI.interestedTag); attempt++) {
            await openContact(SPOKI.giuliaId);
            await sleep(500);
        }
        await waitFor(() => tagsOf().includes(SPOKI.interestedTag), "the answer's tag on the contact");
        await shot("05_answer_tagged_contact");

        // the webinar reminders, each at the contact's own time
        console.log("spoki:webinar");
        await sleep(2000);
        await clickMenu("spoki_whatsapp.spoki_menu_messaging", "spoki_whatsapp.spoki_menu_messaging_messages");
        const reminder = (name) =>
            rows().find((r) => text($('[name="partner_id"]', r)) === name && text($('[name="template_id"]', r)) === SPOKI.webinarTemplate);
        await waitFor(() => SPOKI.webinarContacts.every((name) => reminder(name)), "the two webinar reminders");
        const times = SPOKI.webinarContacts.map((name) => text($('[name="message_date"]', reminder(name))));
        if (times[0] === times[1]) {
            throw new Error(`both reminders at ${times[0]}`);
        }
        console.log(`spoki:times:${JSON.stringify(times)}`);
        await shot("06_webinar_reminders_queued");
        console.log("test successful");
    } catch (error) {
        await shot("failure_automations");
        console.error(`spoki automations browser test: ${error.message}`);
    }
})();
