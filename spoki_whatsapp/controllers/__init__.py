from . import main
from . import automation
