from . import spoki_monthly_report
from . import spoki_monthly_report_line
from . import spoki_dashboard
