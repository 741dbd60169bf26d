using System.Text;
using System.Text.Json;
using Harden.Execution;
using Harden.Planning;

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

public sealed class TextPlanView : IPlanView
{
    public string Render(Plan plan)
    {
        var sb = new StringBuilder();
        sb.Append($"Profile {plan.Profile} on {plan.Root}{(plan.Live ? " (this host)" : " (offline root)")}\n\n");
        foreach (var warning in plan.Warnings) sb.Append($"warning: {warning}\n");
        if (plan.LockoutRisk is { } risk) sb.Append($"warning: {risk}\n");
        if (plan.Warnings.Length > 0 || plan.LockoutRisk is not null) sb.Append('\n');

        foreach (var file in plan.Files)
        {
            var symbol = file.Action switch { ChangeAction.Create => '+', ChangeAction.Update => '~', _ => '=' };
            sb.Append($"{symbol} {file.Path}  [{file.Module}] {file.Mode} {file.Owner}:{file.Group}");
            if (file.Reason.Length > 0) sb.Append($"  ({file.Reason})");
            sb.Append('\n');
            if (file.Action != ChangeAction.Unchanged)
            {
                foreach (var line in file.Diff.TrimEnd('\n').Split('\n')) sb.Append("    ").Append(line).Append('\n');
            }
        }

        if (plan.Conflicts.Length > 0)
        {
            sb.Append("\nConflicting sshd settings (apply comments them out, rollback restores them):\n");
            foreach (var c in plan.Conflicts) sb.Append($"  {c.File}:{c.Line}  {c.Key} {c.Value}  (profile wants {c.Wanted})\n");
        }
        if (plan.Commands.Length > 0)
        {
            sb.Append("\nCommands apply would run:\n");
            foreach (var c in plan.Commands) sb.Append($"  $ {CliWrapCommandRunner.Display(c.Argv)}   ({c.Module}: {c.Reason})\n");
        }
        if (plan.Validators.Length > 0)
            sb.Append($"\nChecks before activation: {string.Join(", ", plan.Validators)}\n");
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

        sb.Append('\n');
        if (!plan.HasChanges)
        {
            sb.Append($"No changes. The host matches profile {plan.Profile} ({plan.Files.Length} files checked).\n");
            return sb.ToString();
        }
        var create = plan.Files.Count(f => f.Action == ChangeAction.Create);
        var update = plan.Files.Count(f => f.Action == ChangeAction.Update);
        var same = plan.Files.Count(f => f.Action == ChangeAction.Unchanged);
        var handlers = plan.Handlers.Count(h => h.SkipReason is null);
        sb.Append($"Plan: {create} to create, {update} to update, {same} unchanged, {plan.Commands.Length} command(s), {handlers} handler(s).\n");
        return sb.ToString();
    }
}
