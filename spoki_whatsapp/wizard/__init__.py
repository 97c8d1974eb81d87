from . import spoki_list_add_contacts
from . import spoki_template_preview
from . import spoki_chat_reassign
from . import spoki_list_tag_members
from . import spoki_template_send
from . import spoki_chat_play_customer
from . import spoki_template_approval
