from . import res_company
from . import res_config_settings
from . import spoki_tier_level
from . import spoki_account
from . import spoki_dynamic_field
from . import spoki_dynamic_value
from . import spoki_list
from . import res_partner
from . import spoki_template
from . import spoki_template_translation
from . import spoki_template_button
from . import spoki_conversation
from . import spoki_campaign
from . import spoki_message
from . import spoki_status_event
from . import spoki_campaign_value
from . import spoki_chat
from . import res_partner_chat
from . import spoki_tier_history

# features extending the models above (folder = feature, file = model)
from . import send_queue
from . import inbound
from . import tier
from . import quality_guard
from . import media
from . import chat_assignment
from . import discuss
