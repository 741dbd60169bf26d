using System.CommandLine;
using System.Text.Json;
using Harden.Cli.Views;
using Harden.Host;

namespace Harden.Cli;

internal static class PlanCommand
{
    public static Command Create(Streams io)
    {
        var common = new CommonOptions();
        var detailed = new Option<bool>("--detailed-exitcode")
        {
            Description = "Exit 0 when nothing would change, 2 when changes are pending, 1 on error",
        };
        var outFile = new Option<string?>("--out")
        {
            Description = "Save the plan as JSON, to apply later with 'harden apply PLANFILE'",
            HelpName = "PLANFILE",
        };
        var command = new Command("plan", "Show what apply would change (a dry run: writes nothing, anywhere)");
        foreach (var o in common.All) command.Options.Add(o);
        command.Options.Add(detailed);
        command.Options.Add(outFile);
        command.SetAction((r, ct) => io.GuardAsync(async () =>
        {
            var root = HostRoot.Open(r.GetValue(common.Root));
            var plan = Workflow.CreatePlan(common.Request(r), root);
            if (r.GetValue(outFile) is { } path)
            {
                // The one write plan makes is the file the user asked for: whole or not at all, and
                // readable by its owner only (a plan shows configuration and account names).
                var temp = $"{path}.tmp-{Environment.ProcessId}";
                await using (var stream = new FileStream(temp, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                }))
                {
                    await stream.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(plan, HardenJson.Default.Plan), ct);
                }
                File.Move(temp, path, overwrite: true);
            }
            var quiet = r.GetValue(CommonOptions.Quiet);
            await io.Out.WriteAsync(common.Json(r) ? new JsonPlanView().Render(plan) : io.Styled(new TextPlanView(quiet).Render(plan)));
            if (r.GetValue(outFile) is { } saved && !common.Json(r) && !quiet)
                await io.Out.WriteLineAsync($"Saved the plan to {saved}; apply it with: harden apply {saved}");
            // A drift check must never call a host clean while a run is unfinished on it.
            if (plan.UnfinishedRun is { } run)
                throw new HardenException($"run {run} did not finish; the host is in an unknown state. Restore it with: harden rollback{(root.IsProcessRoot ? "" : $" --root {root.Path}")} --run {run}");
            return r.GetValue(detailed) && (plan.HasChanges || !plan.NoLongerManaged.IsEmpty) ? ExitCodes.ChangesPending : ExitCodes.Success;
        }, common.Json(r)));
        return command;
    }
}
