from . import mail_message
from . import spoki_chat
from . import spoki_message
