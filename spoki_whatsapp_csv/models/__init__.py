from . import res_partner
from . import spoki_list
from . import ir_attachment
