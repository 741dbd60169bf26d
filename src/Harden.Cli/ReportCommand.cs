using System.CommandLine;
using Harden.Checking;
using Harden.Cli.Views;

namespace Harden.Cli;

/// <summary>harden report merge: many hosts' check JSON as one fleet report.</summary>
internal static class ReportCommand
{
    public static Command Create(Streams io)
    {
        var files = new Argument<string[]>("REPORT") { Description = "Each host's 'harden check --format json' output", Arity = ArgumentArity.OneOrMore };
        var format = new Option<string>("--format") { Description = "html (one self-contained page) or json", DefaultValueFactory = _ => "html" };
        format.AcceptOnlyFromAmong("html", "json");
        var outFile = new Option<string?>("--out") { Description = "Write the report to FILE (whole or not at all) instead of stdout", HelpName = "FILE" };
        var keepNewest = new Option<bool>("--keep-newest") { Description = "When a host's report is given more than once, keep its newest (by check time) instead of refusing" };
        var merge = new Command("merge", "Merge many hosts' check reports into one fleet report (hosts × HIPAA sections). Exit 0: every host passes; 2: a host has a failing control; 1: error")
        {
            files, format, outFile, keepNewest,
        };
        merge.SetAction((r, ct) => io.GuardAsync(() =>
        {
            var paths = r.GetValue(files)!;
            var reports = FleetReport.OnePerHost([.. paths.Select(p => (p, FleetReport.Read(p)))], r.GetValue(keepNewest),
                line => io.Error.WriteLine($"harden: {line}"));
            var fleet = FleetReport.Merge(reports, Workflow.ToolVersion, DateTimeOffset.UtcNow);
            var text = r.GetValue(format) == "json" ? FleetViews.Json(fleet) : FleetViews.Html(fleet);
            if (r.GetValue(outFile) is { } path)
            {
                Output.WriteWhole(path, text);
                Streams.Say(io.Out, $"Wrote {path}: {fleet.Hosts} host(s), {fleet.HostsPassing} passing, {fleet.Hosts - fleet.HostsPassing} with a failing control");
            }
            else
            {
                io.Out.Write(text);
            }
            return Task.FromResult(fleet.HostsPassing == fleet.Hosts ? ExitCodes.Success : ExitCodes.ChangesPending);
        }, r.GetValue(format) == "json" && r.GetValue(outFile) is null));
        return new Command("report", "Reports across hosts") { merge };
    }
}
