from . import spoki_message
from . import spoki_chat
