using System.CommandLine;
using System.Text.Json;
using Harden.Cli.Views;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;

namespace Harden.Cli;

internal static class ApplyCommand
{
    public static Command Create(Streams io)
    {
        var common = new CommonOptions();
        var planFile = new Argument<string?>("PLANFILE")
        {
            Description = "A plan saved with 'harden plan --out'; refused if the host changed since",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (for cloud-init and scripts)" };
        var acceptRisk = new Option<bool>("--accept-lockout-risk")
        {
            Description = "Apply even though the operator, or an account that can log in or run cron jobs today, would lose that access (see the plan's impact section; shut_out_accounts names intended losses)",
        };
        var prune = new Option<bool>("--prune")
        {
            Description = "Also return what earlier runs changed and the profile no longer manages to its state before harden",
        };
        var lockWait = LockWaitOption();
        var programTimeout = new Option<int>("--program-timeout")
        {
            Description = "Seconds one check or handler (sshd -t, augenrules, pam-auth-update, aideinit) may run before apply stops it and restores the host",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => (int)Executor.DefaultProgramTimeout.TotalSeconds,
        };
        var packageLockWait = new Option<int>("--package-lock-timeout")
        {
            Description = "Seconds to wait for apt/dpkg's lock when another process holds it (unattended-upgrades at first boot), with progress",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => (int)AptLock.DefaultTimeout.TotalSeconds,
        };
        var command = new Command("apply", "Converge the host to a profile: back up, write atomically, validate, reload, verify; restore by itself on failure")
        {
            planFile,
        };
        foreach (var o in common.All) command.Options.Add(o);
        command.Options.Add(yes);
        command.Options.Add(acceptRisk);
        command.Options.Add(prune);
        command.Options.Add(lockWait);
        command.Options.Add(packageLockWait);
        command.Options.Add(programTimeout);
        command.SetAction((r, ct) => io.GuardAsync(async () =>
        {
            var json = common.Json(r);
            var quiet = r.GetValue(CommonOptions.Quiet);
            var report = io.Progress(json, quiet);

            Streams.RequireRoot("apply");
            var saved = r.GetValue(planFile);
            if (saved is not null && r.GetValue(common.Profile) is not null)
                throw new HardenException("give either --profile or a PLANFILE, not both");
            var savedPlan = saved is null ? null : Workflow.ReadSavedPlan(saved);
            var rootGiven = r.GetResult(common.Root) is { Implicit: false };
            var root = HostRoot.Open(savedPlan is not null && !rootGiven ? savedPlan.Root : r.GetValue(common.Root));
            if (savedPlan is not null && savedPlan.Root != root.Path)
                throw new HardenException($"plan {saved} was made for root {savedPlan.Root}, not {root.Path}");

            using var runLock = await RunLock.AcquireAsync(root, TimeSpan.FromSeconds(r.GetValue(lockWait)), report, ct);
            Workflow.EnsureNoUnfinishedRun(root);
            // A saved plan is never trusted whole: the same request is planned again, and the two
            // must agree on every change; the lockout guard then reads the fresh plan.
            var plan = savedPlan is not null ? Workflow.Refresh(savedPlan, saved!, root) : Workflow.CreatePlan(common.Request(r), root);
            var pruning = r.GetValue(prune) && !plan.NoLongerManaged.IsEmpty;

            if (!json) await io.Out.WriteAsync(io.Styled(new TextPlanView(quiet).Render(plan)));
            if (!plan.HasChanges && !pruning)
            {
                if (json) await WriteJson(io, plan, null, "no-changes");
                return ExitCodes.Success;
            }
            if (plan.LockoutRisk is { } risk && !r.GetValue(acceptRisk))
                throw new HardenException($"refusing to apply: {risk}", ExitCodes.LockoutRefused);
            if (!await ConfirmAsync(io, r.GetValue(yes), "Apply these changes?"))
                return ExitCodes.Error;

            if (r.GetValue(packageLockWait) is < 0 or > 86400) throw new HardenException("--package-lock-timeout takes 0 to 86400 seconds");
            if (r.GetValue(programTimeout) is < 1 or > 86400) throw new HardenException("--program-timeout takes 1 to 86400 seconds");
            var executor = new Executor(root, new CliWrapCommandRunner(root), TimeProvider.System, report)
            {
                PackageLockTimeout = TimeSpan.FromSeconds(r.GetValue(packageLockWait)),
                ProgramTimeout = TimeSpan.FromSeconds(r.GetValue(programTimeout)),
            };
            var result = await executor.ApplyAsync(plan, ct, pruning);
            if (json) await WriteJson(io, plan, result, result.RebootNeeded is null ? "applied" : "reboot-needed");
            else
                await io.Out.WriteLineAsync(
                    $"Applied: {result.Changed} change(s){(pruning ? $", {result.Pruned} pruned" : "")}. Run {result.RunId}; undo with: harden rollback{(root.IsProcessRoot ? "" : $" --root {root.Path}")} --run {result.RunId}");
            if (result.RebootNeeded is not { } reboot) return ExitCodes.Success;
            await io.Error.WriteLineAsync($"harden: not finished: {reboot}");
            return ExitCodes.RebootNeeded;
        }, common.Json(r)));
        return command;
    }

    internal static Option<int> LockWaitOption() => new("--lock-timeout")
    {
        Description = "Seconds to wait for another harden run on the same root to finish",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => 30,
    };

    /// <summary>Asks at a terminal; without one (cloud-init, CI) refuses unless --yes was given.</summary>
    internal static async Task<bool> ConfirmAsync(Streams io, bool yes, string question)
    {
        if (yes) return true;
        if (io.Prompt is null)
            throw new HardenException("no terminal to confirm at: pass --yes to proceed unattended");
        await io.Out.WriteAsync($"{question} Only 'yes' is accepted: ");
        var answer = await io.Prompt.ReadLineAsync();
        if (answer?.Trim() == "yes") return true;
        await io.Error.WriteLineAsync("harden: cancelled; nothing was changed");
        return false;
    }

    private static async Task WriteJson(Streams io, Plan plan, ApplyResult? result, string outcome)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("format_version", Plan.CurrentFormatVersion);
            w.WriteString("outcome", outcome);
            w.WriteString("run_id", result?.RunId);
            w.WriteNumber("changed", result?.Changed ?? 0);
            w.WriteNumber("pruned", result?.Pruned ?? 0);
            w.WritePropertyName("plan");
            JsonSerializer.Serialize(w, plan, HardenJson.Default.Plan);
            w.WriteEndObject();
        }
        await io.Out.WriteLineAsync(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
