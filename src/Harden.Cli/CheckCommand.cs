using System.CommandLine;
using Harden.Cli.Views;
using Harden.Execution;
using Harden.Host;

namespace Harden.Cli;

/// <summary>harden check: every control of a profile, pass / fail / not-applicable / manual, with its HIPAA citation and evidence.</summary>
internal static class CheckCommand
{
    public static Command Create(Streams io)
    {
        var common = new CommonOptions();
        var format = new Option<string>("--format")
        {
            Description = "text, json (docs/check.schema.json), junit (JUnit XML for CI servers) or html (one self-contained page for the auditor)",
            DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "json", "junit", "html");
        var outFile = new Option<string?>("--out")
        {
            Description = "Write the report to FILE (whole or not at all) instead of stdout",
            HelpName = "FILE",
        };
        var command = new Command("check",
            "Check the host against every control of a profile and report pass / fail / not-applicable / manual with the HIPAA citation, " +
            "what was checked, found and wanted (read-only). Exit 0: everything applicable passes; 2: a control fails; 1: error")
        {
            common.Profile, common.Root, common.Set, common.Templates, common.ForcePlatform, format, outFile,
        };
        command.SetAction((r, ct) => io.GuardAsync(async () =>
        {
            var root = HostRoot.Open(r.GetValue(common.Root));
            var (report, _) = await Workflow.CheckAsync(common.Request(r), root, new CliWrapCommandRunner(root), DateTimeOffset.UtcNow, ct);
            var text = ICheckView.For(r.GetValue(format)!).Render(report);
            if (r.GetValue(outFile) is { } path)
            {
                Output.WriteWhole(path, text);
                Streams.Say(io.Out, $"Wrote {path}: {SummaryLine(report)}");
            }
            else if (r.GetValue(CommonOptions.Quiet) && r.GetValue(format) == "text")
            {
                await io.Out.WriteLineAsync(io.Styled(SummaryLine(report)));
            }
            else
            {
                await io.Out.WriteAsync(r.GetValue(format) == "text" ? io.Styled(text) : text);
            }
            return report.Passed ? ExitCodes.Success : ExitCodes.ChangesPending;
        }, r.GetValue(format) == "json" && r.GetValue(outFile) is null));
        return command;
    }

    /// <summary>
    /// One line for syslog (the drift timer's journal): the counts, the failing controls and the
    /// resources that drifted from the profile, the first few by name.
    /// </summary>
    public static string SummaryLine(Checking.CheckReport report)
    {
        var c = report.Counts;
        var line = $"{c.Pass} passed, {c.Fail} failed, {c.NotApplicable} not applicable, {c.Manual} to review";
        var failing = report.Controls.Where(ctl => ctl.Status == Checking.ControlStatus.Fail).Select(ctl => ctl.Id).ToList();
        if (failing.Count == 0) return line;
        var drifted = report.Controls.Where(ctl => ctl.Status == Checking.ControlStatus.Fail)
            .SelectMany(ctl => ctl.Findings.Where(f => !f.Passed).Select(f => f.Subject)).Distinct().ToList();
        const int shown = 10;
        return $"{line}; failing: {string.Join(", ", failing)}; {drifted.Count} item(s) drifted: {string.Join(", ", drifted.Take(shown).Select(Profiles.VariableDefinition.Printable))}{(drifted.Count > shown ? ", …" : "")}";
    }
}

/// <summary>Files the user asked for: written beside the target and renamed, so a reader never sees half of one.</summary>
internal static class Output
{
    public static void WriteWhole(string path, string text, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        // A random name, created new (never opened if something is there): only a file this process made is renamed or removed.
        var temp = $"{path}.tmp-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8))}";
        var stream = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode });
        try
        {
            using (stream)
            {
                stream.Write(System.Text.Encoding.UTF8.GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
