import { DiscussApp } from "@mail/core/public_web/discuss_app_model";
import { Record } from "@mail/core/common/record";
import { Thread } from "@mail/core/common/thread_model";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

/** A "WhatsApp" category in the Discuss sidebar (like im_livechat's). */
patch(DiscussApp.prototype, {
    setup(env) {
        super.setup(env);
        this.whatsappCategory = Record.one("DiscussAppCategory", {
            compute() {
                return {
                    extraClass: "o-mail-DiscussSidebarCategory-whatsapp",
                    icon: "fa fa-whatsapp",
                    hideWhenEmpty: true,
                    id: "spoki_whatsapp.category",
                    name: _t("WhatsApp"),
                    sequence: 22,
                };
            },
        });
    },
});

patch(Thread.prototype, {
    _computeDiscussAppCategory() {
        if (this.channel_type === "whatsapp") {
            return this.store.discuss.whatsappCategory;
        }
        return super._computeDiscussAppCategory();
    },
});
