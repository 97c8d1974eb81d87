from . import spoki_message_report
