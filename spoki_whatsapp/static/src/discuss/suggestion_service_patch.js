import { SuggestionService } from "@mail/core/common/suggestion_service";
import { patch } from "@web/core/utils/patch";

/** No mentions in WhatsApp channels (WhatsApp can't carry them). */
patch(SuggestionService.prototype, {
    getSupportedDelimiters(thread) {
        const delimiters = super.getSupportedDelimiters(...arguments);
        if (thread?.channel_type === "whatsapp") {
            return delimiters.filter(([delimiter]) => !["@", "#"].includes(delimiter));
        }
        return delimiters;
    },
});
