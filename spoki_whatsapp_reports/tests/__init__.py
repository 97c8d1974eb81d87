from . import test_monthly_report
from . import test_chart
from . import test_dashboard
from . import test_downloads
from . import test_access
from . import test_ui
from . import test_access_matrix
from . import test_figures_fast_path
