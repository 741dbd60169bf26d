using System.CommandLine;
using Harden.Execution;
using Harden.Host;

namespace Harden.Cli;

internal static class RollbackCommand
{
    public static Command Create(Streams io)
    {
        var root = new Option<string>("--root")
        {
            Description = "Root the run was applied to",
            HelpName = "DIR",
            DefaultValueFactory = _ => "/",
        };
        var run = new Option<string?>("--run") { Description = "Run ID to undo (default: the last run not yet undone)", HelpName = "ID" };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation" };
        var force = new Option<bool>("--force")
        {
            Description = "Also put back what was changed since the run (an admin's edit is otherwise kept, shown, and rollback exits 6)",
        };
        var lockWait = ApplyCommand.LockWaitOption();
        var command = new Command("rollback",
            "Undo a run by the inverse of each change: files from their backups, groups and members with groupdel/gpasswd, packages purged or reinstalled. Nothing changed since the run is overwritten without --force")
        {
            root, run, yes, force, lockWait,
        };
        command.SetAction((r, ct) => io.GuardAsync(async () =>
        {
            Streams.RequireRoot("rollback");
            var host = HostRoot.Open(r.GetValue(root));
            var quiet = r.GetValue(CommonOptions.Quiet);
            var report = io.Progress(json: false, quiet);
            using var runLock = await RunLock.AcquireAsync(host, TimeSpan.FromSeconds(r.GetValue(lockWait)), report, ct);

            var journal = r.GetValue(run) is { } id
                ? RunJournal.Open(host, id)
                : RunJournal.All(host).LastOrDefault(j => j.Record.State is RunState.Completed or RunState.InProgress or RunState.FailedIncomplete or RunState.PartlyRolledBack)
                  ?? throw new HardenException($"nothing to roll back: no completed run under {host.Map(RunJournal.RunsDirectory)}");
            if (journal.Record.State is RunState.RolledBack or RunState.FailedRestored)
                throw new HardenException($"run {journal.RunId} is already undone ({journal.Record.State})");
            // Runs are undone newest first: an older run's "before" is what the newer run found, not what is there now.
            var newer = RunJournal.All(host).Where(j => j.Record.Sequence > journal.Record.Sequence
                && j.Record.State is RunState.Completed or RunState.InProgress or RunState.FailedIncomplete or RunState.PartlyRolledBack).Select(j => j.RunId).ToList();
            if (newer.Count > 0)
                throw new HardenException($"run {journal.RunId} is older than run(s) still applied ({string.Join(", ", newer)}); roll those back first, newest first: " +
                    string.Join("; ", newer.AsEnumerable().Reverse().Select(id => $"harden rollback{(host.IsProcessRoot ? "" : $" --root {host.Path}")} --run {id}")));

            var entries = journal.Record.Entries.Where(e => !e.Derived && e.Step != EntryStep.Restored).ToList();
            report($"Run {journal.RunId} (profile {journal.Record.Profile}, {journal.Record.State}): {entries.Count} change(s) to undo");
            foreach (var e in entries) report($"  {e.Address}  [{e.Module}]");
            if (!await ApplyCommand.ConfirmAsync(io, r.GetValue(yes), "Roll back this run?"))
                return ExitCodes.Error;

            var result = await new Executor(host, new CliWrapCommandRunner(host), TimeProvider.System, report)
                .RollbackAsync(journal, r.GetValue(force), ct);
            foreach (var note in result.Notes) await io.Out.WriteLineAsync($"  note: {note}");
            if (result.Kept.Count == 0)
            {
                await io.Out.WriteLineAsync($"Rolled back run {journal.RunId}.");
                if (result.RebootNeeded is not { } reboot) return ExitCodes.Success;
                await io.Error.WriteLineAsync($"harden: not finished: {reboot}");
                return ExitCodes.RebootNeeded;
            }
            await io.Error.WriteLineAsync($"harden: rolled back run {journal.RunId} except {result.Kept.Count} change(s) made since the run, kept as they are:");
            foreach (var kept in result.Kept)
            {
                await io.Error.WriteLineAsync($"  {kept.Kept}");
                foreach (var line in kept.Diff.TrimEnd('\n').Split('\n').Where(l => l.Length > 0)) await io.Error.WriteLineAsync($"    {line}");
            }
            await io.Error.WriteLineAsync($"To put those back as well: harden rollback{(host.IsProcessRoot ? "" : $" --root {host.Path}")} --run {journal.RunId} --force");
            return ExitCodes.RollbackKeptChanges;
        }));
        return command;
    }
}
