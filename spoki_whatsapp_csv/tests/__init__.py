from . import test_csv_import
from . import test_csv_export
from . import test_csv_ui
from . import test_access_matrix
from . import test_tags_csv_import
from . import test_csv_import_speed
