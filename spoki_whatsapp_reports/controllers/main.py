from odoo import http
from odoo.http import content_disposition, request

from ..tools import export

_MIMETYPES = {"csv": export.CSV_MIMETYPE, "xlsx": export.XLSX_MIMETYPE}


class SpokiReportsController(http.Controller):
    """Downloads: thin routes, the files are built by the models with the
    user's rights (record rules and account checks apply)."""

    def _file_response(self, content, filename, fmt):
        return request.make_response(
            content,
            headers=[
                ("Content-Type", _MIMETYPES[fmt]),
                ("Content-Length", str(len(content))),
                ("Content-Disposition", content_disposition(filename)),
            ],
        )

    @http.route("/spoki_whatsapp_reports/monthly/<int:report_id>/<string:fmt>", type="http", auth="user")
    def monthly_report_download(self, report_id, fmt):
        if fmt not in _MIMETYPES:
            raise request.not_found()
        report = request.env["spoki.monthly.report"].browse(report_id).exists()
        if not report:
            raise request.not_found()
        report.check_access("read")
        content = report._export_xlsx() if fmt == "xlsx" else report._export_csv()
        return self._file_response(content, report._export_filename(fmt), fmt)

    @http.route("/spoki_whatsapp_reports/chart/<string:fmt>", type="http", auth="user")
    def chart_download(self, fmt, account_id, period="day", date_from=None, date_to=None, **kwargs):
        if fmt not in _MIMETYPES:
            raise request.not_found()
        Dashboard = request.env["spoki.dashboard"]
        chart = Dashboard.get_chart_data(int(account_id), period, date_from or None, date_to or None)
        account = request.env["spoki.account"].browse(chart["account_id"])
        title, header, rows = Dashboard._chart_export_sheet(chart)
        if fmt == "xlsx":
            content = export.xlsx_bytes([(title, header, rows)])
        else:
            content = export.csv_bytes(header, rows)
        return self._file_response(content, Dashboard._chart_filename(account, chart, fmt), fmt)
