from . import test_partner
from . import test_list
from . import test_dynamic_field
from . import test_account
from . import test_security
from . import test_ui
from . import test_template
