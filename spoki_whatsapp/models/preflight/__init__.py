from . import spoki_campaign
