from . import spoki_chat
