from . import spoki_list_add_contacts
