from . import res_partner
from . import spoki_csv_export
from . import spoki_list
