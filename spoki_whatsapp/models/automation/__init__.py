from . import spoki_automation_run
from . import base_automation
from . import ir_actions_server
from . import spoki_list
from . import spoki_message
from . import spoki_account
