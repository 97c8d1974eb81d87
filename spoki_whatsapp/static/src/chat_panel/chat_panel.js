import { Message } from "@mail/core/common/message_model";
import { messageActionsRegistry } from "@mail/core/common/message_actions";
import { Thread } from "@mail/core/common/thread_model";
import { threadActionsRegistry } from "@mail/core/common/thread_actions";
import { Component, onWillStart, useComponent, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { patch } from "@web/core/utils/patch";

/** Assignee and tags of a WhatsApp chat (``whatsapp_user``, ``whatsapp_tags``
 * in the channel's chat info, sent again over the bus after each change). */
patch(Thread.prototype, {
    setup() {
        super.setup(...arguments);
        this.whatsapp_user = undefined;
        this.whatsapp_tags = undefined;
    },
});

/** The ledger row shown by a message and its tags (sent with its ticks). */
patch(Message.prototype, {
    setup() {
        super.setup(...arguments);
        this.whatsappMessageId = undefined;
        this.whatsappTags = undefined;
    },
});

/** The chat panel: who handles the chat (reassign within the company) and
 * its tags (add, remove); every change reaches the other members live. */
export class SpokiChatPanel extends Component {
    static template = "spoki_whatsapp.ChatPanel";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.notification = useService("notification");
        this.state = useState({ users: [], tags: [] });
        onWillStart(() => this.loadChoices());
    }
    get thread() {
        return this.props.thread;
    }
    get chatId() {
        return this.thread.whatsapp_chat_id;
    }
    get chatTagIds() {
        return (this.thread.whatsapp_tags || []).map((tag) => tag.id);
    }
    get otherTags() {
        const ids = this.chatTagIds;
        return this.state.tags.filter((tag) => !ids.includes(tag.id));
    }
    async loadChoices() {
        if (!this.chatId) {
            return;
        }
        const choices = await this.orm.call("spoki.chat", "spoki_panel_choices", [[this.chatId]]);
        Object.assign(this.state, choices);
    }
    async call(method, args) {
        try {
            await this.orm.call("spoki.chat", method, [[this.chatId], ...args]);
        } catch (error) {
            this.notification.add(error.data?.message || String(error), { type: "danger" });
        }
    }
    async onChangeUser(ev) {
        await this.call("action_reassign_to", [parseInt(ev.target.value) || false]);
    }
    async onChangeAddTag(ev) {
        const tagId = parseInt(ev.target.value);
        ev.target.value = "";
        if (tagId) {
            await this.call("action_add_tags", [[tagId]]);
        }
    }
    async onClickRemoveTag(tag) {
        await this.call("action_remove_tags", [[tag.id]]);
    }
}

threadActionsRegistry.add("spoki-chat-panel", {
    component: SpokiChatPanel,
    condition(component) {
        return (
            component.thread?.channel_type === "whatsapp" &&
            component.thread.whatsapp_chat_id &&
            (!component.props.chatWindow || component.props.chatWindow.isOpen)
        );
    },
    panelOuterClass: "o_spoki_chat_panel_outer bg-inherit",
    icon: "fa fa-fw fa-id-card-o",
    iconLarge: "fa fa-fw fa-lg fa-id-card-o",
    name: _t("Assignee and tags"),
    nameActive: _t("Close assignee and tags"),
    sequence: 15,
    sequenceQuick: 15,
    toggle: true,
});

/** Tag a WhatsApp message: the tags go to the message and its contact. */
export class SpokiTagDialog extends Component {
    static template = "spoki_whatsapp.TagDialog";
    static components = { Dialog };
    static props = ["message", "close"];

    setup() {
        this.orm = useService("orm");
        this.state = useState({ tags: [] });
        onWillStart(async () => {
            this.state.tags = await this.orm.searchRead("res.partner.category", [], ["name", "color"], {
                order: "name, id",
                limit: 200,
            });
        });
    }
    isTagged(tag) {
        return (this.props.message.whatsappTags || []).some((t) => t.id === tag.id);
    }
    async onClickTag(tag) {
        await this.orm.call("spoki.message", "action_add_tags", [[this.props.message.whatsappMessageId], [tag.id]]);
        this.props.close();
    }
}

messageActionsRegistry.add("spoki-tag", {
    condition: (component) =>
        component.props.message.thread?.channel_type === "whatsapp" &&
        Boolean(component.props.message.whatsappMessageId),
    icon: "fa fa-tag",
    title: _t("Tag"),
    onClick: (component) => {
        component.spokiDialog.add(SpokiTagDialog, { message: component.props.message });
    },
    setup: () => {
        const component = useComponent();
        component.spokiDialog = useService("dialog");
    },
    sequence: 15,
});
