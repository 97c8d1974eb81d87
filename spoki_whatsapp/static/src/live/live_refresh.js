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
 * reload, never over unsaved edits, at most once a second, and once more
 * SETTLE ms after the last notification: the server notifies a record at most
 * once a second per process (a webhook storm), so the changes committed just
 * after a notification come without one of their own.
 */
export const SETTLE = 2500;
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
 * burst always honoured (trailing call), and once more ``settle`` ms after
 * the last one. No-op where the service is absent.
 */
export function useSpokiLiveRefresh(match, reload, { minInterval = 1000, settle = SETTLE } = {}) {
    const component = useComponent();
    const live = component.env.services.spoki_live_refresh;
    if (!live) {
        return;
    }
    let last = 0;
    let timer = null;
    let settleTimer = null;
    const run = async () => {
        last = Date.now();
        await reload();
    };
    useBus(live.bus, "refresh", ({ detail }) => {
        if (!match(detail || {})) {
            return;
        }
        browser.clearTimeout(settleTimer);
        settleTimer = browser.setTimeout(() => {
            settleTimer = null;
            run();
        }, settle);
        if (!timer) {
            timer = browser.setTimeout(() => {
                timer = null;
                run();
            }, Math.max(0, last + minInterval - Date.now()));
        }
    });
    onWillUnmount(() => {
        browser.clearTimeout(timer);
        browser.clearTimeout(settleTimer);
    });
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
