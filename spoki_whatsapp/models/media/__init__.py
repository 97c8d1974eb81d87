from . import spoki_message
