from . import spoki_account
from . import spoki_chat
from . import spoki_message
