from . import ir_websocket
from . import spoki_campaign
from . import spoki_message
from . import spoki_template
