using System.Globalization;
using System.Text;
using Harden.Checking;

namespace Harden.Cli.Views;

public static class FleetViews
{
    public static string Json(FleetReport report) => JsonCheckView.Serialize(report);

    /// <summary>One self-contained page: fleet totals, then hosts × HIPAA paragraphs, each cell the worst status there.</summary>
    public static string Html(FleetReport report)
    {
        static string E(string s) => HtmlCheckView.E(s);
        // Two file names can make the same anchor (a/b.json and a-b.json): each host gets its own, numbered when it would clash.
        var anchors = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in report.HostReports.Select(h => h.File).Distinct())
        {
            var anchor = HtmlCheckView.Anchor(file);
            var unique = anchor;
            for (var n = 2; anchors.ContainsValue(unique); n++) unique = $"{anchor}-{n}";
            anchors[file] = unique;
        }
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        sb.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<title>HIPAA fleet check: {report.Hosts} hosts</title>\n<style>\n{HtmlCheckView.Style}\n");
        sb.Append("#fleet th.s { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-weight: 600; font-size: .85em; }\n#fleet td.st { text-align: center; font-weight: 700; }\n</style>\n</head>\n<body>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<h1>HIPAA Security Rule check: fleet of {report.Hosts} host(s)</h1>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<p class=\"meta\">Merged {report.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)} by harden {E(report.Tool)} from each host's <code>harden check --format json</code>.</p>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<div class=\"totals\" id=\"totals\"><div class=\"total\"><b>{report.Hosts}</b>hosts</div><div class=\"total pass\"><b>{report.HostsPassing}</b>every control passes</div><div class=\"total fail\"><b>{report.Hosts - report.HostsPassing}</b>with a failing control</div></div>\n");

        sb.Append("<h2>Hosts × HIPAA sections</h2>\n<p class=\"meta\">✓ every control citing the paragraph passes · ✗ one fails · ? one needs a person's review · – none applies</p>\n<div class=\"wide\"><table id=\"fleet\"><thead><tr><th>Host</th><th>Profile</th><th>Pass</th><th>Fail</th>");
        foreach (var s in report.Sections) sb.Append(CultureInfo.InvariantCulture, $"<th class=\"s\" title=\"{E(s.Title)}\">{E(s.Section)}</th>");
        sb.Append("</tr></thead><tbody>\n");
        foreach (var host in report.HostReports.OrderByDescending(h => h.Counts.Fail).ThenBy(h => h.Host, StringComparer.Ordinal))
        {
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td><a href=\"#h-{anchors[host.File]}\">{E(host.Host)}</a></td><td>{E(host.Profile)}</td><td class=\"n pass\">{host.Counts.Pass}</td><td class=\"n fail\">{host.Counts.Fail}</td>");
            foreach (var s in report.Sections)
            {
                var status = host.Sections.FirstOrDefault(x => x.Section == s.Section)?.Status ?? ControlStatus.NotApplicable;
                var (mark, css) = status switch { ControlStatus.Pass => ("✓", "pass"), ControlStatus.Fail => ("✗", "fail"), ControlStatus.Manual => ("?", "manual"), _ => ("–", "not-applicable") };
                sb.Append(CultureInfo.InvariantCulture, $"<td class=\"st {css}\" title=\"{E(s.Section)} {E(s.Title)}: {ICheckView.Word(status)}\">{mark}</td>");
            }
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody></table></div>\n");

        sb.Append("<h2>Sections</h2>\n<table id=\"sections\"><thead><tr><th>Section</th><th>Standard / implementation specification</th><th>Hosts passing</th><th>failing</th><th>to review</th><th>N/A</th></tr></thead><tbody>\n");
        foreach (var s in report.Sections)
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>45 CFR {E(s.Section)}</td><td>{E(s.Title)}</td><td class=\"n pass\">{s.Pass}</td><td class=\"n fail\">{s.Fail}</td><td class=\"n manual\">{s.Manual}</td><td class=\"n not-applicable\">{s.NotApplicable}</td></tr>\n");
        sb.Append("</tbody></table>\n<h2>Hosts</h2>\n");
        foreach (var host in report.HostReports)
        {
            var css = host.Counts.Fail == 0 ? "pass" : "fail";
            sb.Append(CultureInfo.InvariantCulture, $"<section class=\"control is-{css}\" id=\"h-{anchors[host.File]}\"><header><span class=\"badge {css}\">{css}</span><h3>{E(host.Host)}</h3></header>");
            sb.Append(CultureInfo.InvariantCulture, $"<div class=\"cite\">{E(host.Platform)} · profile {E(host.Profile)} · checked {host.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)} · from {E(host.File)}</div>");
            sb.Append(CultureInfo.InvariantCulture, $"<div>{host.Counts.Pass} passed, {host.Counts.Fail} failed, {host.Counts.Manual} to review, {host.Counts.NotApplicable} not applicable{(host.Failing.IsEmpty ? "" : $"; failing: {E(string.Join(", ", host.Failing))}")}</div></section>\n");
        }
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }
}
