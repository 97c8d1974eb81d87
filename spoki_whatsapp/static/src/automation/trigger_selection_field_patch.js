/** @odoo-module */
/* Odoo's trigger widget (Settings › Technical › Automation Rules) groups the
 * triggers it knows in a hard-coded list and fails on others, so the server
 * hands it the WhatsApp triggers apart (``spoki_selection``, see
 * base.automation.fields_get): they show as a "WhatsApp" group, for the models
 * they run on (a WhatsApp rule opened there shows its trigger). */

import { patch } from "@web/core/utils/patch";
import { TriggerSelectionField } from "@base_automation/base_automation_trigger_selection_field";

const MODEL_OF = { on_spoki_incoming: "spoki.message" };

patch(TriggerSelectionField.prototype, {
    get spokiOptions() {
        const { data, fields } = this.props.record;
        const model = data.model_name;
        return (fields[this.props.name].spoki_selection || []).filter(
            ([value]) => value === data[this.props.name] || (MODEL_OF[value] || "res.partner") === model
        );
    },
});
