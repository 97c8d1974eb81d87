import { EventBus, onWillUnmount, useComponent } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { registry } from "@web/core/registry";
import { useBus } from "@web/core/utils/hooks";
import { patch } from "@web/core/utils/patch";
import { FormController } from "@web/views/form/form_controller";
import { ListController } from "@web/views/list/list_controller";

/**
 * Live refresh of WhatsApp records (campaign counters, template review state,
 * dashboard): the server sends "spoki_whatsapp/refresh" {model, ids} on the
 * company's bus channel when a batch of changes is committed (see
 * models/live/refresh.py); open forms and lists showing one of those records
 * reload, never over unsaved edits, at most once a second.
 */
export const spokiLiveRefreshService = {
    dependencies: ["bus_service"],
    start(env, { bus_service }) {
        const bus = new EventBus();
        bus_service.subscribe("spoki_whatsapp/refresh", (payload) => bus.trigger("refresh", payload));
        bus_service.start();
        return { bus };
    },
};

registry.category("services").add("spoki_live_refresh", spokiLiveRefreshService);

/**
 * Call ``reload`` when a refresh notification matching ``match(payload)``
 * arrives: at most once per ``minInterval`` ms, the last notification of a
 * burst always honoured (trailing call). No-op where the service is absent.
 */
export function useSpokiLiveRefresh(match, reload, { minInterval = 1000 } = {}) {
    const component = useComponent();
    const live = component.env.services.spoki_live_refresh;
    if (!live) {
        return;
    }
    let last = 0;
    let timer = null;
    const run = async () => {
        timer = null;
        last = Date.now();
        await reload();
    };
    useBus(live.bus, "refresh", ({ detail }) => {
        if (timer || !match(detail || {})) {
            return;
        }
        timer = browser.setTimeout(run, Math.max(0, last + minInterval - Date.now()));
    });
    onWillUnmount(() => browser.clearTimeout(timer));
}

function shows(payload, resModel, resIds) {
    return payload.model === resModel && (payload.ids || []).some((id) => resIds.includes(id));
}

patch(FormController.prototype, {
    setup() {
        super.setup(...arguments);
        useSpokiLiveRefresh(
            (payload) => {
                const root = this.model.root;
                return Boolean(root && !root.isNew && shows(payload, root.resModel, [root.resId]));
            },
            async () => {
                const root = this.model.root;
                if (!root || root.isNew || (await root.isDirty())) {
                    return; // never lose the user's edits
                }
                await root.load();
            }
        );
    },
});

patch(ListController.prototype, {
    setup() {
        super.setup(...arguments);
        useSpokiLiveRefresh(
            (payload) => {
                const root = this.model.root;
                return Boolean(
                    root && shows(payload, root.resModel, (root.records || []).map((record) => record.resId))
                );
            },
            async () => {
                const root = this.model.root;
                if (!root || root.editedRecord) {
                    return;
                }
                await root.load();
            }
        );
    },
});
