import { useEffect } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useDebounced } from "@web/core/utils/timing";
import { TextField, textField } from "@web/views/fields/text/text_field";

/** A template's text whose preview follows the typing: a pause of 300 ms
 * commits the text to the record (like leaving the field), so the server's
 * onchange recomputes the WhatsApp preview while the user keeps typing; the
 * textarea keeps its focus and caret (useInputField sees its own value). */
export class SpokiLiveTextField extends TextField {
    setup() {
        super.setup();
        const commit = useDebounced(() => {
            const el = this.textareaRef.el;
            if (el && el.value !== (this.props.record.data[this.props.name] || "")) {
                el.dispatchEvent(new Event("change"));
            }
        }, 300);
        useEffect(
            (el) => {
                if (!el) {
                    return;
                }
                el.addEventListener("input", commit);
                return () => el.removeEventListener("input", commit);
            },
            () => [this.textareaRef.el]
        );
    }
}

registry.category("fields").add("spoki_live_text", {
    ...textField,
    component: SpokiLiveTextField,
});
