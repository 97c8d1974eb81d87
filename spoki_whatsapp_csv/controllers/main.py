from werkzeug.exceptions import NotFound

from odoo import api, fields, http
from odoo.http import Response, content_disposition, request


class SpokiCsvController(http.Controller):
    @http.route("/spoki_whatsapp_csv/export/<int:export_id>", type="http", auth="user", methods=["GET"])
    def spoki_csv_export(self, export_id, **kwargs):
        """Stream the contacts of an export request as CSV (or send them as
        XLSX, built on disk row by row, when the request asks). The ids are
        resolved (with the user's access rules) in the request; the rows are
        read 5,000 at a time by a generator on its own cursor while the
        response is sent, so memory stays flat for 100,000 contacts."""
        env = request.env
        owner = env["spoki.csv.export"].sudo().browse(export_id).exists().create_uid
        if owner != env.user:
            raise NotFound()
        export = env["spoki.csv.export"].browse(export_id)
        env["res.partner"].check_access("read")
        partner_ids = export._get_partner_ids()
        registry, uid, context = env.registry, env.uid, dict(env.context)
        filename = "whatsapp-contacts-%s.%s" % (fields.Date.context_today(export).isoformat(), export.file_format)
        if export.file_format == "xlsx":
            return request.make_response(
                export._xlsx_content(partner_ids),
                headers=[
                    ("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                    ("Content-Disposition", content_disposition(filename)),
                    ("Cache-Control", "no-store"),
                ],
            )

        def generate():
            with registry.cursor() as cr:
                stream_env = api.Environment(cr, uid, context)
                yield from stream_env["spoki.csv.export"].browse(export_id)._iter_csv(partner_ids)

        return Response(
            generate(),
            headers=[
                ("Content-Type", "text/csv; charset=utf-8"),
                ("Content-Disposition", content_disposition(filename)),
                ("Cache-Control", "no-store"),
            ],
            direct_passthrough=True,
        )
