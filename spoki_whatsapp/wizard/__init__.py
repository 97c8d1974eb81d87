from . import spoki_list_add_contacts
from . import spoki_template_preview
