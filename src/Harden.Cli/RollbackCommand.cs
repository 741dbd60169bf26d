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
        var lockWait = ApplyCommand.LockWaitOption();
        var command = new Command("rollback", "Put back every file a run changed, byte for byte with its mode and owner, and delete the files it created")
        {
            root, run, yes, lockWait,
        };
        command.SetAction((r, ct) => io.GuardAsync(async () =>
        {
            Streams.RequireRoot("rollback");
            var host = HostRoot.Open(r.GetValue(root));
            void Report(string line) => io.Out.WriteLine(line);
            using var runLock = await RunLock.AcquireAsync(host, TimeSpan.FromSeconds(r.GetValue(lockWait)), Report, ct);

            var journal = r.GetValue(run) is { } id
                ? RunJournal.Open(host, id)
                : RunJournal.All(host).LastOrDefault(j => j.Record.State is RunState.Completed or RunState.InProgress)
                  ?? throw new HardenException($"nothing to roll back: no completed run under {host.Map(RunJournal.RunsDirectory)}");
            if (journal.Record.State is RunState.RolledBack or RunState.FailedRestored)
                throw new HardenException($"run {journal.RunId} is already undone ({journal.Record.State})");

            var entries = journal.Record.Entries;
            await io.Out.WriteLineAsync($"Run {journal.RunId} (profile {journal.Record.Profile}, {journal.Record.State}): " +
                $"{entries.Count(e => e.Existed)} file(s) to restore, {entries.Count(e => !e.Existed)} to remove");
            if (!await ApplyCommand.ConfirmAsync(io, r.GetValue(yes), "Roll back this run?"))
                return ExitCodes.Error;

            await new Executor(host, new CliWrapCommandRunner(host), TimeProvider.System, Report).RollbackAsync(journal, ct);
            await io.Out.WriteLineAsync($"Rolled back run {journal.RunId}.");
            return ExitCodes.Success;
        }));
        return command;
    }
}
