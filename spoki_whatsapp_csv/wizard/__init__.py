from . import spoki_csv_export
from . import spoki_csv_import
from . import spoki_csv_import_column
from . import spoki_csv_import_issue
from . import spoki_csv_import_mapping
from . import spoki_csv_import_sheet
