from . import res_partner
from . import spoki_list
