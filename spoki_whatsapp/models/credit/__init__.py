from . import spoki_account
