using System.Text;
using System.Text.Json;
using Harden.Execution;
using Harden.Planning;
using Harden.Resources;

namespace Harden.Cli.Views;

/// <summary>Turns a plan into output. Computing a plan and showing it are separate concerns.</summary>
public interface IPlanView
{
    string Render(Plan plan);
}

public sealed class JsonPlanView : IPlanView
{
    public string Render(Plan plan) => JsonSerializer.Serialize(plan, HardenJson.Default.Plan) + "\n";
}

/// <summary>
/// One line per resource, <c>+ ~ - =</c> from its action, with the diff under each changed file;
/// <paramref name="brief"/> (--quiet) keeps only the warnings and the summary line.
/// </summary>
public sealed class TextPlanView(bool brief = false) : IPlanView
{
    public string Render(Plan plan)
    {
        var sb = new StringBuilder();
        if (!brief)
        {
            sb.Append($"Profile {plan.Profile} on {plan.Root}{(plan.Live ? " (this host)" : " (offline root)")}\n");
            if (plan.Platform is { } platform) sb.Append($"Release {platform}{(plan.ProfileDetected ? $"; no --profile given, so {plan.Profile}, the shipped profile for it" : "")}\n");
            sb.Append('\n');
        }
        foreach (var warning in plan.Warnings) sb.Append($"warning: {warning}\n");
        if (plan.LockoutRisk is { } risk) sb.Append($"warning: {risk}\n");
        if (brief)
        {
            foreach (var lost in plan.Impact?.Accounts.Where(a => a.Loses) ?? []) sb.Append($"impact: {Loss(lost)}\n");
            return sb.Append(Summary(plan)).ToString();
        }
        if (plan.Warnings.Length > 0 || plan.LockoutRisk is not null) sb.Append('\n');

        foreach (var change in plan.Changes)
        {
            var symbol = change.Action switch { ChangeAction.Create => '+', ChangeAction.Update => '~', ChangeAction.Delete => '-', _ => '=' };
            sb.Append($"{symbol} {Name(change)}  [{change.Module}]");
            if (change.After is { } after && change.Address.Kind is FileResource.Kind or DirectoryResource.Kind)
                sb.Append($" {after.Get("mode")} {after.Get("owner")}:{after.Get("group")}");
            if (change.Reason.Length > 0) sb.Append($"  ({change.Reason})");
            sb.Append('\n');
            if (change.IsChange && change.Diff.Length > 0)
            {
                foreach (var line in change.Diff.TrimEnd('\n').Split('\n')) sb.Append("    ").Append(line).Append('\n');
            }
            else if (change.IsChange && change.Sensitive)
                sb.Append("    (sensitive: content not shown; sha256 ").Append(change.After.Get("sha256")).Append(")\n");
        }

        if (plan.SshdConnections.Length > 0)
            sb.Append($"\nsshd is verified globally and for {plan.SshdConnections.Length} Match block(s): {string.Join("; ", plan.SshdConnections)}\n");
        if (plan.Validators.Length > 0)
            sb.Append($"\nChecks before anything is replaced (on a staged copy): {string.Join(", ", plan.Validators)}\n");
        if (plan.Handlers.Length > 0)
        {
            sb.Append("\nHandlers apply would run:\n");
            foreach (var h in plan.Handlers)
            {
                sb.Append(h.SkipReason is { } why
                    ? $"  - {h.Id}: skipped, {why}\n"
                    : $"  $ {CliWrapCommandRunner.Display(h.Argv)}   ({h.Id}, for {string.Join(", ", h.Modules)})\n");
            }
        }
        if (plan.SkippedModules.Length > 0)
        {
            sb.Append("\nSkipped modules:\n");
            foreach (var m in plan.SkippedModules) sb.Append($"  {m.Id}: {m.Reason}\n");
        }
        if (plan.NoLongerManaged.Length > 0)
        {
            sb.Append("\nNo longer managed (changed by earlier runs; 'apply --prune' returns them to their state before harden):\n");
            foreach (var m in plan.NoLongerManaged) sb.Append($"  {m.Address}  [{m.Module}, run {m.RunId}]\n");
        }

        if (plan.Impact is { } impact) AppendImpact(sb, impact);
        return sb.Append('\n').Append(Summary(plan)).ToString();
    }

    /// <summary>
    /// Who and what the plan affects, last before the summary so it is on the screen when the plan
    /// ends: every account that can log in or has jobs, with SSH and cron before -> after.
    /// </summary>
    private static void AppendImpact(StringBuilder sb, Access.Impact impact)
    {
        sb.Append("\nImpact (who and what this plan affects; apply refuses a loss nobody named):\n");
        if (impact.Accounts.Length == 0) sb.Append("  accounts: none can log in by SSH or has cron jobs\n");
        foreach (var a in impact.Accounts)
        {
            sb.Append($"  {(a.Loses ? (a.Intended ? "-" : "!") : " ")} {a.Account}: {a.KindReason}; ssh {a.SshNow ?? "none"} -> {a.SshAfter ?? "none"}");
            if (a.CronNow is { } cronNow) sb.Append($"; cron {(cronNow ? "allowed" : "refused")} -> {(a.CronAfter == true ? "allowed" : "refused")}");
            sb.Append('\n');
            if (a.Loses) sb.Append($"      {(a.Intended ? "loses access, as intended" : "LOSES ACCESS")}: {a.Why}\n");
            else if (a.Why is { } why) sb.Append($"      note: {why}\n");
            if (a.Password is { } password) sb.Append($"      password aging: {password}\n");
        }
        if (impact.Services.Length > 0) sb.Append($"  services restarted or reloaded: {string.Join("; ", impact.Services)}\n");
        if (impact.PackagesInstalled.Length > 0) sb.Append($"  packages installed: {string.Join(", ", impact.PackagesInstalled)}\n");
        if (impact.PackagesRemoved.Length > 0) sb.Append($"  packages removed: {string.Join(", ", impact.PackagesRemoved)}\n");
        foreach (var note in impact.Notes) sb.Append($"  note: {note}\n");
    }

    private static string Loss(Access.AccountImpact a) =>
        $"{a.Account} ({a.KindReason}) {(a.LosesSsh ? "loses SSH" : "loses cron")}{(a.Intended ? " as intended" : "")}: {a.Why}";

    /// <summary>The last line: no changes, or the counts of what apply would do.</summary>
    private static string Summary(Plan plan)
    {
        if (!plan.HasChanges) return $"No changes. The host matches profile {plan.Profile} ({plan.Changes.Length} resources checked).\n";
        var handlers = plan.Handlers.Count(h => h.SkipReason is null);
        return $"Plan: {plan.Count(ChangeAction.Create)} to create, {plan.Count(ChangeAction.Update)} to update, " +
               $"{plan.Count(ChangeAction.Delete)} to remove, {plan.Count(ChangeAction.NoOp)} unchanged, {handlers} handler(s).\n";
    }

    /// <summary>Files show as their path, as people know them; everything else by address.</summary>
    private static string Name(Change change) => change.Address.Kind == FileResource.Kind ? change.Address.Key : change.Address.ToString();
}
