import { Component, onWillStart, onWillUnmount, useEffect, useRef, useState } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { DateTimeInput } from "@web/core/datetime/datetime_input";
import { deserializeDate, deserializeDateTime, formatDate, serializeDate } from "@web/core/l10n/dates";
import { localization } from "@web/core/l10n/localization";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { DropdownItem } from "@web/core/dropdown/dropdown_item";
import { _t } from "@web/core/l10n/translation";
import { download } from "@web/core/network/download";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatFloat, formatInteger } from "@web/views/fields/formatters";
import { useSetupAction } from "@web/search/action_hook";
import { Layout } from "@web/search/layout";
import { useSpokiLiveRefresh } from "@spoki_whatsapp/live/live_refresh";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

const QUALITY_CLASSES = { high: "success", medium: "warning", low: "danger" };
const PHONE_CLASSES = { connected: "success", flagged: "warning", restricted: "danger" };

/**
 * WhatsApp dashboard: one screen per account (switcher), fed by
 * spoki.dashboard.get_dashboard_data (one RPC, everything computed server
 * side); the chart reloads alone through get_chart_data.
 */
export class SpokiDashboard extends Component {
    static template = "spoki_whatsapp_reports.Dashboard";
    static components = { Layout, Dropdown, DropdownItem, DateTimeInput };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.notification = useService("notification");
        this.canvasRef = useRef("chart");
        this.historyRef = useRef("history");
        this.chart = null;
        this.historyChart = null;
        const past = this.props.state || {};
        const context = this.props.action.context || {};
        this.state = useState({
            loading: true,
            chartLoading: false,
            data: {},
            chart: null,
            accountId: past.accountId || context.spoki_account_id || false,
            period: past.period || "day",
            dateFrom: past.dateFrom || false,
            dateTo: past.dateTo || false,
            month: past.month || false,
        });
        useSetupAction({
            getLocalState: () => ({
                accountId: this.state.accountId,
                period: this.state.period,
                dateFrom: this.state.dateFrom,
                dateTo: this.state.dateTo,
                month: this.state.month,
            }),
        });
        onWillStart(async () => {
            await Promise.all([loadBundle("web.chartjs_lib"), this.load()]);
        });
        // live: messages sent, delivered, read and account changes reload the
        // counters quietly, at most every 10 seconds while the dashboard is open
        useSpokiLiveRefresh(
            (payload) => ["spoki.account", "spoki.campaign"].includes(payload.model),
            () => this.load({ quiet: true }),
            { minInterval: 10000 }
        );
        useEffect(
            () => {
                this.renderChart();
            },
            () => [this.state.chart]
        );
        useEffect(
            () => {
                this.renderHistory();
            },
            () => [this.state.data.tier_history]
        );
        onWillUnmount(() => {
            this.chart?.destroy();
            this.historyChart?.destroy();
        });
    }

    // ------------------------------------------------------------------
    // Data
    // ------------------------------------------------------------------

    async load({ quiet = false } = {}) {
        if (!quiet) {
            this.state.loading = true;
        }
        const data = await this.orm.call("spoki.dashboard", "get_dashboard_data", [this.state.accountId || false], {
            period: this.state.period,
            date_from: this.state.dateFrom || false,
            date_to: this.state.dateTo || false,
            month: this.state.month || false,
        });
        this.state.data = data;
        this.state.accountId = data.account_id;
        this.state.month = data.last_month ? data.last_month.value : false;
        this.state.chart = data.chart || null;
        if (data.chart) {
            this.state.dateFrom = data.chart.date_from;
            this.state.dateTo = data.chart.date_to;
        }
        this.state.loading = false;
    }

    async loadChart() {
        this.state.chartLoading = true;
        try {
            const chart = await this.orm.call("spoki.dashboard", "get_chart_data", [this.state.accountId], {
                period: this.state.period,
                date_from: this.state.dateFrom || false,
                date_to: this.state.dateTo || false,
            });
            this.state.chart = chart;
            this.state.dateFrom = chart.date_from;
            this.state.dateTo = chart.date_to;
        } finally {
            this.state.chartLoading = false;
        }
    }

    // ------------------------------------------------------------------
    // Getters for the template
    // ------------------------------------------------------------------

    get data() {
        return this.state.data;
    }

    get status() {
        return this.state.data.status || {};
    }

    get outlook() {
        return this.state.data.outlook || {};
    }

    /** The outlook text of the tier tracking: its first line, then the details. */
    get outlookLines() {
        return (this.outlook.summary || "").split("\n");
    }

    get qualityClass() {
        return QUALITY_CLASSES[this.status.quality] || "secondary";
    }

    get phoneClass() {
        return PHONE_CLASSES[this.status.phone_status] || "secondary";
    }

    get gaugeClass() {
        const usage = this.status.usage_percent || 0;
        return usage >= 90 ? "danger" : usage >= 70 ? "warning" : "success";
    }

    get gaugeValue() {
        return Math.min(100, Math.max(0, this.status.usage_percent || 0));
    }

    /** The gauge's percentage in the user's number format (Italian: 1,2). */
    get gaugeDisplay() {
        return formatFloat(this.gaugeValue, { digits: [false, 1] });
    }

    get helpLinks() {
        const help = this.state.data.help || {};
        return [
            { key: "training", label: _t("Training courses"), url: help.training },
            { key: "rules", label: _t("WhatsApp rules"), url: help.rules },
            { key: "videos", label: _t("Video tutorials"), url: help.videos },
        ].filter((link) => link.url);
    }

    get chartTotals() {
        const chart = this.state.chart || {};
        return {
            incoming: this.formatInt(chart.total_incoming || 0),
            outgoing: this.formatInt(chart.total_outgoing || 0),
        };
    }

    formatInt(value) {
        return value === null || value === undefined ? "" : formatInteger(value);
    }

    // ------------------------------------------------------------------
    // Handlers
    // ------------------------------------------------------------------

    openHelp(url) {
        window.open(url, "_blank", "noopener");
    }

    async onAccountChange(ev) {
        this.state.accountId = parseInt(ev.target.value);
        await this.load();
    }

    async onRefresh() {
        await this.load();
    }

    async onPeriodChange(period) {
        if (period === this.state.period) {
            return;
        }
        this.state.period = period;
        // let the server pick the default range of the new period
        this.state.dateFrom = false;
        this.state.dateTo = false;
        await this.loadChart();
    }

    /** The range pickers (Odoo's date input: the user's language format). */
    dateValue(which) {
        return this.state[which] ? deserializeDate(this.state[which]) : false;
    }

    async onRangeChange(value, which) {
        if (!value) {
            return;
        }
        const serialized = serializeDate(value);
        if (serialized === this.state[which]) {
            return;
        }
        this.state[which] = serialized;
        await this.loadChart();
    }

    /**
     * Axis label of a bucket (its local start, "YYYY-MM-DD HH:MM:SS") in the
     * user's language: the date format of Settings › Languages, month names of
     * the user's locale.
     */
    bucketLabel(period, bucket) {
        const start = deserializeDateTime(bucket, { tz: "utc" }).setZone("utc");
        const time = localization.shortTimeFormat || "HH:mm";
        switch (period) {
            case "minute":
            case "hour":
                return `${formatDate(start, { condensed: true })} ${start.toFormat(time)}`;
            case "day":
                return formatDate(start);
            case "month":
                return start.toFormat("MMM yyyy");
            case "quarter":
                return _t("Q%(quarter)s %(year)s", { quarter: start.toFormat("q"), year: start.toFormat("yyyy") });
            default:
                return start.toFormat("yyyy");
        }
    }

    async onDownload(format) {
        await download({
            url: `/spoki_whatsapp_reports/chart/${format}`,
            data: {
                account_id: this.state.accountId,
                period: this.state.period,
                date_from: this.state.dateFrom || "",
                date_to: this.state.dateTo || "",
            },
        });
    }

    async onMonthChange(ev) {
        const month = ev.target.value;
        const figures = await this.orm.call("spoki.dashboard", "get_month_data", [this.state.accountId], { month });
        this.state.month = figures.value;
        this.state.data.last_month = figures;
    }

    async openMonthlyReport() {
        const lastMonth = this.state.data.last_month;
        const action = await this.orm.call("spoki.monthly.report", "action_open_month", [
            this.state.accountId,
            lastMonth.year,
            lastMonth.month,
        ]);
        await this.action.doAction(action);
    }

    async openPausedCampaign(campaignId) {
        await this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "spoki.campaign",
            res_id: campaignId,
            views: [[false, "form"]],
        });
    }

    async openMessagesAnalysis() {
        await this.action.doAction("spoki_whatsapp_reports.spoki_message_report_action", {
            additionalContext: { search_default_account_id: this.state.accountId },
        });
    }

    // ------------------------------------------------------------------
    // Chart
    // ------------------------------------------------------------------

    /** Chart.js ticks in the user's number format (Italian: 1.000). */
    integerTicks() {
        return { precision: 0, callback: (value) => (Number.isInteger(value) ? this.formatInt(value) : null) };
    }

    integerTooltip() {
        return {
            callbacks: {
                label: (context) => `${context.dataset.label}: ${this.formatInt(context.parsed.y)}`,
            },
        };
    }

    renderChart() {
        const canvas = this.canvasRef.el;
        const chartData = this.state.chart;
        if (!canvas || !chartData || !window.Chart) {
            return;
        }
        const config = {
            type: "bar",
            data: {
                labels: (chartData.buckets || []).map((bucket) => this.bucketLabel(chartData.period, bucket)),
                datasets: [
                    {
                        label: _t("Incoming"),
                        data: chartData.incoming,
                        backgroundColor: "rgba(37, 211, 102, 0.75)",
                        borderColor: "rgb(37, 211, 102)",
                        borderWidth: 1,
                    },
                    {
                        label: _t("Outgoing"),
                        data: chartData.outgoing,
                        backgroundColor: "rgba(7, 94, 84, 0.75)",
                        borderColor: "rgb(7, 94, 84)",
                        borderWidth: 1,
                    },
                ],
            },
            options: {
                maintainAspectRatio: false,
                animation: false,
                interaction: { mode: "index", intersect: false },
                scales: {
                    x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true } },
                    y: { stacked: true, beginAtZero: true, ticks: this.integerTicks() },
                },
                plugins: { legend: { position: "bottom" }, tooltip: this.integerTooltip() },
            },
        };
        if (this.chart) {
            this.chart.destroy();
        }
        this.chart = new window.Chart(canvas, config);
    }

    renderHistory() {
        const canvas = this.historyRef.el;
        const history = this.state.data.tier_history;
        this.historyChart?.destroy();
        this.historyChart = null;
        if (!canvas || !history || !window.Chart) {
            return;
        }
        this.historyChart = new window.Chart(canvas, {
            type: "line",
            data: {
                labels: history.labels.map((day) => formatDate(deserializeDate(day))),
                datasets: [
                    {
                        label: _t("Peak unique users (24 h)"),
                        data: history.peak_24h,
                        borderColor: "rgb(7, 94, 84)",
                        backgroundColor: "rgba(7, 94, 84, 0.15)",
                        fill: true,
                        tension: 0.2,
                    },
                    {
                        label: _t("Unique users (7 days)"),
                        data: history.unique_7d,
                        borderColor: "rgb(37, 211, 102)",
                        tension: 0.2,
                    },
                    {
                        label: _t("Limit"),
                        data: history.limit,
                        borderColor: "rgb(220, 53, 69)",
                        borderDash: [6, 4],
                        pointRadius: 0,
                        stepped: true,
                    },
                ],
            },
            options: {
                maintainAspectRatio: false,
                animation: false,
                interaction: { mode: "index", intersect: false },
                scales: { y: { beginAtZero: true, ticks: this.integerTicks() } },
                plugins: { legend: { position: "bottom" }, tooltip: this.integerTooltip() },
            },
        });
    }
}

registry.category("actions").add("spoki_whatsapp_reports.dashboard", SpokiDashboard);
