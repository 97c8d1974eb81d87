from . import res_company
from . import res_config_settings
from . import spoki_tier_level
from . import spoki_account
from . import spoki_dynamic_field
from . import spoki_dynamic_value
from . import spoki_list
from . import res_partner
