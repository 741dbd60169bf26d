using System.Text;
using Harden.Host;
using Harden.Planning;
using Polly;
using Polly.Retry;

namespace Harden.Execution;

public sealed record ApplyResult(string RunId, int FilesWritten, int CommandsRun);

/// <summary>
/// The one place that changes a host: back up, write atomically, run commands, validate, run
/// handlers, verify; and on any failure put every file back, in reverse order.
/// </summary>
/// <param name="retryDelay">First wait when the package manager is locked; doubles each try (tests shorten it).</param>
public sealed class Executor(HostRoot root, ICommandRunner runner, TimeProvider time, Action<string> report, TimeSpan? retryDelay = null)
{
    private const int AptRetries = 8;
    private static readonly string[] LockHeldSignatures = ["Could not get lock", "dpkg frontend lock", "is another process using it", "dpkg status database is locked"];

    /// <summary>Waits out an apt/dpkg lock held by unattended-upgrades at first boot; bounded, and says why.</summary>
    private readonly ResiliencePipeline<CommandResult> _aptRetry = new ResiliencePipelineBuilder<CommandResult>()
        .AddRetry(new RetryStrategyOptions<CommandResult>
        {
            ShouldHandle = new PredicateBuilder<CommandResult>().HandleResult(r =>
                !r.Succeeded && LockHeldSignatures.Any(s => r.StandardError.Contains(s, StringComparison.Ordinal))),
            MaxRetryAttempts = AptRetries,
            Delay = retryDelay ?? TimeSpan.FromSeconds(2),
            MaxDelay = TimeSpan.FromSeconds(30),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            OnRetry = args =>
            {
                report($"  the package manager is locked by another process; retry {args.AttemptNumber + 1} of {AptRetries} in {args.RetryDelay.TotalSeconds:0}s");
                return ValueTask.CompletedTask;
            },
        })
        .Build();

    public async Task<ApplyResult> ApplyAsync(Plan plan, CancellationToken ct)
    {
        var journal = RunJournal.Start(root, plan, time);
        report($"run {journal.RunId}: backups in {RunJournal.RunDirectory(root, journal.RunId)}");
        var written = 0;
        var commands = 0;
        var handlersStarted = false;
        try
        {
            // Packages and groups first: a package's own install must not meet our files half-way,
            // and files may name a group the run creates.
            foreach (var command in plan.Commands)
            {
                foreach (var touched in command.Touches) journal.BackUp(root, touched, "");
                report($"  $ {CliWrapCommandRunner.Display(command.Argv)}");
                var result = command.Retryable
                    ? await _aptRetry.ExecuteAsync(async token => await runner.RunAsync(command.Argv, token), ct)
                    : await runner.RunAsync(command.Argv, ct);
                if (!result.Succeeded)
                    throw new StepFailedException($"{CliWrapCommandRunner.Display(command.Argv)} failed (exit {result.ExitCode}): {result.Message}");
                foreach (var touched in command.Touches)
                    journal.MarkWritten(touched, HostReader.ReadFile(root, touched).Sha256);
                commands++;
            }

            foreach (var change in plan.Changes)
            {
                journal.BackUp(root, change.Path, change.AfterSha256);
                AtomicFile.Write(root, change.Path, Encoding.UTF8.GetBytes(change.Content),
                    Planner.ParseOctal(change.Mode), change.Uid, change.Gid);
                journal.MarkWritten(change.Path, change.AfterSha256);
                written++;
                report($"  {(change.Action == ChangeAction.Create ? "+ created" : "~ updated")} {change.Path}");
            }

            await ValidateAsync(plan, ct);
            foreach (var touched in plan.Handlers.SelectMany(h => h.Touches)) journal.BackUp(root, touched, "", derived: true);
            handlersStarted = true;
            await RunHandlersAsync(plan.Handlers, ct, failOnError: true);
            await VerifyAsync(plan, ct);

            journal.Finish(RunState.Completed, time.GetUtcNow());
            return new ApplyResult(journal.RunId, written, commands);
        }
        catch (Exception e)
        {
            // Whatever went wrong (a failed check, a full disk, Ctrl-C), the host goes back to how it
            // was before the run; only then is the error reported.
            report($"apply failed: {e.Message}");
            report("restoring every file of this run…");
            if (plan.Commands.Any(c => c.Retryable) && commands > 0)
                report("  note: packages this run installed stay installed; remove them with apt-get if unwanted");
            await RestoreAsync(journal, rerunHandlers: handlersStarted, CancellationToken.None);
            journal.Finish(RunState.FailedRestored, time.GetUtcNow(), e.Message);
            throw new HardenException(
                $"apply failed, host restored (run {journal.RunId}): {e.Message}", ExitCodes.ApplyFailedRestored, e);
        }
    }

    private async Task ValidateAsync(Plan plan, CancellationToken ct)
    {
        var validators = new Validators(runner);
        if (plan.Changes.Any(c => c.Validator == Planner.SshdValidator)) EnsurePrivilegeSeparationDirectory();
        var checkedOnce = new HashSet<string>(StringComparer.Ordinal);
        foreach (var change in plan.Changes.Where(c => c.Validator is not null))
        {
            // sshd -t and rsyslogd -N1 check the whole configuration: once is enough.
            if (change.Validator is Planner.SshdValidator or "rsyslog" && !checkedOnce.Add(change.Validator)) continue;
            report($"  checking {change.Path} ({change.Validator})");
            if (await validators.CheckAsync(change.Validator!, change, ct) is { } failure)
                throw new StepFailedException(failure);
        }
    }

    private async Task RunHandlersAsync(IEnumerable<PlannedHandler> handlers, CancellationToken ct, bool failOnError)
    {
        foreach (var handler in handlers)
        {
            if (handler.SkipReason is { } why)
            {
                report($"  - handler {handler.Id} skipped: {why}");
                continue;
            }
            report($"  $ {CliWrapCommandRunner.Display(handler.Argv)}   (handler {handler.Id})");
            var result = await runner.RunAsync(handler.Argv, ct);
            if (result.Succeeded) continue;
            var message = $"handler {handler.Id} ({CliWrapCommandRunner.Display(handler.Argv)}) failed (exit {result.ExitCode}): {result.Message}";
            if (failOnError) throw new StepFailedException(message);
            report("  warning: " + message);
        }
    }

    /// <summary>Reads the effective sshd configuration and compares every managed setting.</summary>
    private async Task VerifyAsync(Plan plan, CancellationToken ct)
    {
        var expected = plan.Expected.Where(e => e.Source == Planner.SshdValidator).ToList();
        if (expected.Count == 0 || !plan.Changes.Any(c => c.Validator == Planner.SshdValidator)) return;
        EnsurePrivilegeSeparationDirectory();
        var result = await runner.RunAsync(["sshd", "-T"], ct);
        if (!result.Succeeded)
            throw new StepFailedException($"sshd -T failed (exit {result.ExitCode}): {result.Message}");
        var effective = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 2))
            .GroupBy(p => p[0].ToLowerInvariant())
            .ToDictionary(g => g.Key, g => string.Join(' ', g.Select(p => p.Length > 1 ? p[1] : "")));
        var mismatches = expected
            .Where(e => !effective.TryGetValue(e.Key, out var actual) || !SshdConfig.SameValue(actual, e.Value))
            .Select(e => $"{e.Key}: wanted '{e.Value}', effective '{effective.GetValueOrDefault(e.Key, "(not reported)")}'")
            .ToList();
        if (mismatches.Count > 0)
            throw new StepFailedException("sshd -T disagrees with the profile: " + string.Join("; ", mismatches));
        report($"  verified {expected.Count} sshd settings with sshd -T");
    }

    /// <summary>sshd -t/-T refuse to run without /run/sshd, which exists only while the service runs.</summary>
    public void EnsurePrivilegeSeparationDirectory()
    {
        var run = root.Map("/run/sshd");
        if (root.FindSymlink("/run/sshd") is null && !Directory.Exists(run)) Directory.CreateDirectory(run);
    }

    /// <param name="rerunHandlers">False when the run failed before any handler ran: nothing was reloaded, so nothing needs reloading back.</param>
    private async Task RestoreAsync(RunJournal journal, bool rerunHandlers, CancellationToken ct)
    {
        var entries = journal.Record.Entries.Reverse().ToList();
        foreach (var entry in entries.Where(e => !e.Derived)) Restore(journal, entry);
        // Reload services so they drop the configuration that was just taken away; then put back
        // what the handlers themselves regenerate, byte for byte.
        if (rerunHandlers && entries.Count > 0) await RunHandlersAsync(journal.Record.Handlers, ct, failOnError: false);
        foreach (var entry in entries.Where(e => e.Derived)) Restore(journal, entry);
    }

    private void Restore(RunJournal journal, JournalEntry entry)
    {
        if (entry.Existed)
        {
            AtomicFile.Write(root, entry.Path, journal.ReadBackup(entry), Planner.ParseOctal(entry.Mode), entry.Uid, entry.Gid);
            report($"  restored {entry.Path}");
        }
        else if (File.Exists(root.Map(entry.Path)))
        {
            AtomicFile.Delete(root, entry.Path);
            report($"  removed {entry.Path}");
        }
    }

    public async Task RollbackAsync(RunJournal journal, CancellationToken ct)
    {
        foreach (var entry in journal.Record.Entries.Where(e => e.Step == EntryStep.Written))
        {
            var now = HostReader.ReadFile(root, entry.Path);
            if (now.Sha256 != entry.Sha256After && entry.Sha256After.Length > 0)
                report($"  note: {entry.Path} changed after run {journal.RunId}; restoring the version from before the run");
        }
        // A run killed mid-way may or may not have reached its handlers: run them to be sure.
        await RestoreAsync(journal, rerunHandlers: true, ct);
        journal.Finish(RunState.RolledBack, time.GetUtcNow());
    }

    private sealed class StepFailedException(string message) : Exception(message);
}
