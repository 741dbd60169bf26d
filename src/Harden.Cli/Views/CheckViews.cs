using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Xml;
using Harden.Checking;

namespace Harden.Cli.Views;

/// <summary>Turns a check report into output: text for people, JSON for programs, JUnit for CI, HTML for the auditor.</summary>
public interface ICheckView
{
    string Render(CheckReport report);

    public static ICheckView For(string format) => format switch
    {
        "json" => new JsonCheckView(),
        "junit" => new JUnitCheckView(),
        "html" => new HtmlCheckView(),
        _ => new TextCheckView(),
    };

    public static string Word(ControlStatus status) => status switch
    {
        ControlStatus.Pass => "pass",
        ControlStatus.Fail => "fail",
        ControlStatus.NotApplicable => "not-applicable",
        _ => "manual",
    };

    public static string Citations(Control control) => string.Join("; ", control.Citations.Select(c => c.Title.Length > 0 ? $"{c.Section} {c.Title}" : c.Section));
}

public sealed class JsonCheckView : ICheckView
{
    // Commands and paths read better without \u0027 for every quote; the output is never embedded in HTML.
    internal static readonly JsonSerializerOptions Relaxed = new(HardenJson.Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = HardenJson.Default,
    };

    internal static string Serialize<T>(T value) =>
        JsonSerializer.Serialize(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)Relaxed.GetTypeInfo(typeof(T))) + "\n";

    public string Render(CheckReport report) => Serialize(report);
}

/// <summary>One line per control with its citations; the failing items under it, with what was found and wanted.</summary>
public sealed class TextCheckView : ICheckView
{
    public string Render(CheckReport report)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Check of profile {report.Profile} on {Profiles.VariableDefinition.Printable(report.Host)} ({Profiles.VariableDefinition.Printable(report.Platform)}){(report.Live ? "" : $", offline root {report.Root}")}, {report.Time:yyyy-MM-dd HH:mm:ss}Z\n\n");
        // Text from the host (account names, file names, log lines) goes to a terminal: shown escaped, one line each.
        static string P(string text) => Profiles.VariableDefinition.Printable(text);
        foreach (var control in report.Controls)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{ICheckView.Word(control.Status),-14} {control.Id}: {control.Title}  [{ICheckView.Citations(control)}]\n");
            if (control.Status != ControlStatus.Pass)
                sb.Append(CultureInfo.InvariantCulture, $"               {P(control.Summary)}\n");
            foreach (var finding in control.Findings.Where(f => !f.Passed))
            {
                sb.Append(CultureInfo.InvariantCulture, $"               - {P(finding.Subject)}: found {P(finding.Found)}; wanted {P(finding.Wanted)}\n");
                if (finding.Command.Length > 0) sb.Append(CultureInfo.InvariantCulture, $"                 see: {P(finding.Command)}\n");
            }
        }
        var c = report.Counts;
        sb.Append(CultureInfo.InvariantCulture, $"\n{c.Pass} passed, {c.Fail} failed, {c.NotApplicable} not applicable, {c.Manual} for a person to review\n");
        return sb.ToString();
    }
}

/// <summary>
/// JUnit XML (the Jenkins/Ant form every CI server reads): one test case per control, classed by
/// its first citation; a failing control is a failure, a not-applicable or manual one is skipped with its reason.
/// </summary>
public sealed class JUnitCheckView : ICheckView
{
    public string Render(CheckReport report)
    {
        using var text = new Utf8StringWriter();
        using (var w = XmlWriter.Create(text, new XmlWriterSettings { Indent = true, OmitXmlDeclaration = false, Encoding = Encoding.UTF8, CheckCharacters = true }))
        {
            var c = report.Counts;
            // The same totals on the run (testsuites) and on its one suite.
            void Start(string element, string name)
            {
                w.WriteStartElement(element);
                w.WriteAttributeString("name", name);
                w.WriteAttributeString("tests", report.Controls.Length.ToString(CultureInfo.InvariantCulture));
                w.WriteAttributeString("failures", c.Fail.ToString(CultureInfo.InvariantCulture));
                w.WriteAttributeString("errors", "0");
                w.WriteAttributeString("skipped", (c.NotApplicable + c.Manual).ToString(CultureInfo.InvariantCulture));
            }
            Start("testsuites", $"harden check {report.Profile}");
            Start("testsuite", $"{report.Profile} on {Clean(report.Host)}");
            w.WriteAttributeString("timestamp", report.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
            w.WriteAttributeString("hostname", Clean(report.Host));
            foreach (var control in report.Controls)
            {
                w.WriteStartElement("testcase");
                w.WriteAttributeString("classname", control.Citations.FirstOrDefault() is { } first ? $"{first.Section} {first.Title}".Trim() : "harden");
                w.WriteAttributeString("name", $"{control.Id}: {Clean(control.Title)}");
                w.WriteAttributeString("time", "0");
                var details = string.Join("\n", control.Findings.Where(f => !f.Passed).Select(f => Clean($"{f.Subject}: found {f.Found}; wanted {f.Wanted}{(f.Command.Length > 0 ? $" (see: {f.Command})" : "")}")));
                if (control.Status == ControlStatus.Fail)
                {
                    w.WriteStartElement("failure");
                    w.WriteAttributeString("message", Clean(control.Summary));
                    w.WriteAttributeString("type", ICheckView.Citations(control));
                    w.WriteString(details);
                    w.WriteEndElement();
                }
                else if (control.Status is ControlStatus.NotApplicable or ControlStatus.Manual)
                {
                    w.WriteStartElement("skipped");
                    w.WriteAttributeString("message", $"{ICheckView.Word(control.Status)}: {Clean(control.Summary)}");
                    w.WriteEndElement();
                }
                w.WriteElementString("system-out", Clean($"{ICheckView.Citations(control)}\n{control.Summary}"));
                w.WriteEndElement();
            }
            w.WriteEndElement();
            w.WriteEndElement();
        }
        return text + "\n";
    }

    /// <summary>A string writer that declares UTF-8, the encoding the report is written in (a plain one says utf-16).</summary>
    private sealed class Utf8StringWriter : StringWriter
    {
        public Utf8StringWriter() : base(CultureInfo.InvariantCulture) { }

        public override Encoding Encoding => Encoding.UTF8;
    }

    /// <summary>Text from the host (file names, account names) may hold characters XML cannot carry.</summary>
    private static string Clean(string text) => new(text.Select(ch => XmlConvert.IsXmlChar(ch) ? ch : '\uFFFD').ToArray());
}

/// <summary>
/// One self-contained HTML file for a compliance officer: no scripts, fonts or images from anywhere,
/// a summary by HIPAA paragraph, then every control with its evidence and the command that shows it
/// again. Reads on a phone (one column), prints on A4 or Letter (no backgrounds needed, no cut rows).
/// </summary>
public sealed class HtmlCheckView : ICheckView
{
    internal const string Style = """
        :root { color-scheme: light; --pass: #1a7f37; --fail: #cf222e; --manual: #9a6700; --na: #57606a; }
        * { box-sizing: border-box; }
        body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328; margin: 0 auto; max-width: 1100px; padding: 24px 16px; }
        h1 { font-size: 1.6em; margin: 0 0 4px; } h2 { font-size: 1.25em; margin: 28px 0 8px; border-bottom: 2px solid #d0d7de; padding-bottom: 4px; }
        h3 { font-size: 1.05em; margin: 0; }
        .meta { color: #57606a; margin: 0 0 16px; } .meta dt { font-weight: 600; display: inline; } .meta dd { display: inline; margin: 0 16px 0 4px; }
        .totals { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0; }
        .total { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
        .total b { display: block; font-size: 1.6em; }
        table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
        th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #d0d7de; padding: 5px 8px; }
        th { background: #f6f8fa; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
        .badge { display: inline-block; font-weight: 700; font-size: .8em; text-transform: uppercase; border: 2px solid; border-radius: 4px; padding: 0 6px; white-space: nowrap; }
        .pass { color: var(--pass); } .fail { color: var(--fail); } .manual { color: var(--manual); } .not-applicable { color: var(--na); }
        .control { border: 1px solid #d0d7de; border-left: 6px solid; border-radius: 6px; padding: 10px 12px; margin: 10px 0; break-inside: avoid; }
        .control.is-pass { border-left-color: var(--pass); } .control.is-fail { border-left-color: var(--fail); } .control.is-manual { border-left-color: var(--manual); } .control.is-not-applicable { border-left-color: var(--na); }
        .findings { table-layout: fixed; font-size: .92em; } .findings td { overflow-wrap: anywhere; }
        .findings th:nth-child(1) { width: 1.6em; } .findings th:nth-child(2) { width: 22%; } .findings th:nth-child(5) { width: 26%; }
        .control > header { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; color: #1f2328; }
        .cite { color: #57606a; font-size: .9em; margin: 2px 0 4px; }
        code { font: .85em/1.3 ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
        details summary { cursor: pointer; color: #57606a; }
        .wide { overflow-x: auto; }
        @media (max-width: 640px) { body { font-size: 14px; padding: 12px 8px; } .cfr { display: none; } #summary th, #summary td { padding: 4px 3px; } .findings { table-layout: auto; } .findings thead { display: none; } .findings tr { display: block; border-bottom: 1px solid #d0d7de; padding: 4px 0; } .findings td { display: block; border: 0; padding: 2px 4px; } .findings td::before { content: attr(data-label) ": "; font-weight: 600; } }
        @media print { body { max-width: none; padding: 0; font-size: 10.5pt; } details > summary { display: none; } details::details-content { content-visibility: visible; display: block; } a { color: inherit; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
        @page { size: auto; margin: 15mm 12mm; }
        """;

    public string Render(CheckReport report)
    {
        var sb = new StringBuilder();
        var c = report.Counts;
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        sb.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<title>HIPAA check: {E(report.Host)}, {E(report.Profile)}</title>\n<style>\n{Style}\n</style>\n</head>\n<body>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<h1>HIPAA Security Rule check: {E(report.Host)}</h1>\n");
        sb.Append("<dl class=\"meta\">");
        foreach (var (k, v) in new[] { ("Host", report.Host), ("Release", report.Platform), ("Profile", report.Profile), ("Checked", report.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)), ("Target", report.Live ? "this host (live)" : $"offline root {report.Root}"), ("Tool", $"harden {report.Tool}") })
            sb.Append(CultureInfo.InvariantCulture, $"<dt>{k}</dt><dd>{E(v)}</dd>");
        sb.Append("</dl>\n<div class=\"totals\" id=\"totals\">");
        foreach (var (label, n, css) in new[] { ("passed", c.Pass, "pass"), ("failed", c.Fail, "fail"), ("to review", c.Manual, "manual"), ("not applicable", c.NotApplicable, "not-applicable") })
            sb.Append(CultureInfo.InvariantCulture, $"<div class=\"total {css}\"><b>{n}</b>{label}</div>");
        sb.Append("</div>\n");

        sb.Append("<h2>Summary by HIPAA section</h2>\n<div class=\"wide\"><table id=\"summary\"><thead><tr><th>Section</th><th>Standard / implementation specification</th><th>Pass</th><th>Fail</th><th>Review</th><th>N/A</th></tr></thead><tbody>\n");
        var bySection = report.Controls.SelectMany(ctl => ctl.Citations.Select(ci => (ci, ctl))).GroupBy(x => x.ci.Section)
            .OrderBy(g => g.Key, StringComparer.Ordinal);
        foreach (var group in bySection)
        {
            int N(ControlStatus s) => group.Count(x => x.ctl.Status == s);
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td><a href=\"#s-{Anchor(group.Key)}\"><span class=\"cfr\">45 CFR </span>{E(group.Key)}</a></td><td>{E(group.First().ci.Title)}</td><td class=\"n pass\">{N(ControlStatus.Pass)}</td><td class=\"n fail\">{N(ControlStatus.Fail)}</td><td class=\"n manual\">{N(ControlStatus.Manual)}</td><td class=\"n not-applicable\">{N(ControlStatus.NotApplicable)}</td></tr>\n");
        }
        sb.Append("</tbody></table></div>\n");

        sb.Append("<h2>Controls</h2>\n");
        var anchored = new HashSet<string>(StringComparer.Ordinal);
        foreach (var control in report.Controls.OrderBy(ctl => ctl.Status switch { ControlStatus.Fail => 0, ControlStatus.Manual => 1, ControlStatus.Pass => 2, _ => 3 }))
        {
            var word = ICheckView.Word(control.Status);
            var anchors = string.Concat(control.Citations.Where(ci => anchored.Add(ci.Section)).Select(ci => $"<span id=\"s-{Anchor(ci.Section)}\"></span>"));
            sb.Append(CultureInfo.InvariantCulture, $"<section class=\"control is-{word}\" id=\"c-{Anchor(control.Id)}\">{anchors}<header><span class=\"badge {word}\">{(control.Status == ControlStatus.Manual ? "review" : word.Replace('-', ' '))}</span><h3>{E(control.Title)}</h3></header>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<div class=\"cite\">{E(control.Id)} · 45 CFR {E(ICheckView.Citations(control))}</div>\n<div>{E(control.Summary)}</div>\n");
            if (control.Findings.Length > 0)
            {
                var failing = control.Findings.Any(f => !f.Passed);
                sb.Append(CultureInfo.InvariantCulture, $"<details{(failing ? " open" : "")}><summary>{control.Findings.Length} item(s) checked</summary>\n");
                sb.Append("<table class=\"findings\"><thead><tr><th></th><th>Checked</th><th>Found</th><th>Wanted</th><th>Reproduce</th></tr></thead><tbody>\n");
                foreach (var f in control.Findings)
                    sb.Append(CultureInfo.InvariantCulture, $"<tr><td data-label=\"Result\" class=\"{(f.Passed ? "pass" : control.Status == ControlStatus.Manual ? "manual" : "fail")}\">{(f.Passed ? "✓" : "✗")}</td><td data-label=\"Checked\"><code>{E(f.Subject)}</code></td><td data-label=\"Found\">{E(f.Found)}</td><td data-label=\"Wanted\">{E(f.Wanted)}</td><td data-label=\"Reproduce\"><code>{E(f.Command)}</code></td></tr>\n");
                sb.Append("</tbody></table></details>\n");
            }
            sb.Append("</section>\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<p class=\"meta\">Generated by harden {E(report.Tool)}. Re-run: <code>harden check --profile {E(report.Profile)}{(report.Live ? "" : $" --root {E(report.Root)}")} --format html</code></p>\n</body>\n</html>\n");
        return sb.ToString();
    }

    internal static string E(string text) => WebUtility.HtmlEncode(text);

    internal static string Anchor(string text) => new(text.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '-').ToArray());
}
