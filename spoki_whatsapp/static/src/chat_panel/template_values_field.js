import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/** The template picker asks for the dynamic values the contact lacks
 * (``composer_needed``): one input per name, kept in ``composer_payload``
 * ({NAME: value}) and sent with the template; the preview follows. */
export class SpokiTemplateValuesField extends Component {
    static template = "spoki_whatsapp.TemplateValuesField";
    static props = { ...standardFieldProps };

    get names() {
        return this.props.record.data.composer_needed || [];
    }
    get values() {
        const value = this.props.record.data[this.props.name];
        return value && typeof value === "object" ? value : {};
    }
    async onChange(name, ev) {
        await this.props.record.update({ [this.props.name]: { ...this.values, [name]: ev.target.value } });
    }
}

registry.category("fields").add("spoki_template_values", {
    component: SpokiTemplateValuesField,
    supportedTypes: ["json"],
});
