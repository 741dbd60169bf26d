using System.CommandLine;
using Harden.Evidence;
using Harden.Execution;
using Harden.Host;

namespace Harden.Cli;

/// <summary>harden evidence: a risk-assessment snapshot an auditor can verify (and, signed, attribute).</summary>
internal static class EvidenceCommand
{
    public static Command Create(Streams io)
    {
        var common = new CommonOptions();
        var outDir = new Option<string>("--out")
        {
            Description = "New folder for the bundle (it must not exist, or be empty); files are private to the owner",
            HelpName = "DIR",
            Required = true,
        };
        var sign = new Option<string?>("--sign")
        {
            Description = "Sign SHA256SUMS with this SSH private key (ssh-keygen -Y sign, namespace harden-evidence); verify with ssh-keygen -Y verify",
            HelpName = "KEYFILE",
        };
        var command = new Command("evidence",
            "Collect a risk-assessment evidence bundle: host and release, encryption, firewall, listening ports, interactive accounts, password and " +
            "lockout policy, audit rules, failed logins of the last 7 days, a fresh 'harden check' and every harden run, each in its own file, " +
            "with manifest.json and SHA256SUMS (verify: sha256sum -c SHA256SUMS). A command that is absent or fails is recorded as such")
        {
            common.Profile, common.Root, common.Set, common.Templates, common.ForcePlatform, outDir, sign,
        };
        command.SetAction((r, ct) => io.GuardAsync(async () =>
        {
            var root = HostRoot.Open(r.GetValue(common.Root));
            var runner = new CliWrapCommandRunner(root);
            // Progress to stderr: stdout keeps the result lines a script reads.
            var progress = io.Progress(json: true, r.GetValue(CommonOptions.Quiet));
            progress("checking every control…");
            var (check, plan) = await Workflow.CheckAsync(common.Request(r), root, runner, DateTimeOffset.UtcNow, ct);
            progress("collecting evidence:");
            var dir = r.GetValue(outDir)!;
            var bundle = new EvidenceBundle(root, new Checking.TimeLimitedRunner(runner, Workflow.ProbeLimit))
            {
                DriftReport = plan.Variables.GetValueOrDefault("drift_check_report", "/var/lib/harden/last-check.json"),
            };
            var manifest = await bundle.WriteAsync(dir, check, r.GetValue(sign), progress, ct);
            var missing = manifest.Items.Where(i => i.Status is "absent" or "failed" or "refused").Select(i => $"{i.File} ({i.Status})").ToList();
            await io.Out.WriteLineAsync($"Evidence in {dir}: {manifest.Items.Length} files, check {CheckCommand.SummaryLine(check)}");
            if (missing.Count > 0) await io.Out.WriteLineAsync($"Recorded as absent or failed: {string.Join(", ", missing)}");
            await io.Out.WriteLineAsync($"Verify with: cd {dir} && sha256sum -c {EvidenceBundle.SumsFile}" +
                (r.GetValue(sign) is null ? "" : $"; and ssh-keygen -Y verify -f ALLOWED_SIGNERS -I SIGNER -n {EvidenceBundle.SignatureNamespace} -s {EvidenceBundle.SumsFile}.sig < {EvidenceBundle.SumsFile}"));
            return ExitCodes.Success;
        }));
        return command;
    }
}
