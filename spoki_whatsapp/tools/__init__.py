# Plain-Python business rules of spoki_whatsapp: no ``odoo`` import anywhere in
# this package, so everything here is unit-tested with pytest without Odoo.
