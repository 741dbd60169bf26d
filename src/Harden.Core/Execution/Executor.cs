using Harden.Host;
using Harden.Planning;
using Harden.Resources;

namespace Harden.Execution;

/// <param name="RebootNeeded">Set when the kernel could not take the new audit rules (immutable until boot): what to do.</param>
public sealed record ApplyResult(string RunId, int Changed, int Pruned, string? RebootNeeded = null);

/// <summary>What a rollback came to: what it restored, and what it kept because someone changed it since the run.</summary>
public sealed record RollbackResult(int Restored, IReadOnlyList<RestoreOutcome> Kept, IReadOnlyList<string> Notes, string? RebootNeeded = null);

/// <summary>
/// The one place that changes a host: check staged configuration, apply each resource through
/// <see cref="IHostEffects"/> with the journal written before and after, run handlers, verify; and
/// on any failure (a refused check, a full disk, SIGTERM) undo every resource, in reverse order.
/// </summary>
/// <param name="retryDelay">First wait when the package manager is locked; doubles each try (tests shorten it).</param>
public sealed partial class Executor(HostRoot root, ICommandRunner runner, TimeProvider time, Action<string> report, TimeSpan? retryDelay = null)
{
    /// <summary>How long a restore after a failure or a signal may take before it gives up and says what is left.</summary>
    public static TimeSpan RestoreBudget { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long package commands wait for another process's apt/dpkg lock (apply --package-lock-timeout).</summary>
    public TimeSpan PackageLockTimeout { get; init; } = AptLock.DefaultTimeout;

    /// <summary>How long one validator, handler or verification may run before the step fails (apply --program-timeout).</summary>
    public TimeSpan ProgramTimeout { get; init; } = DefaultProgramTimeout;

    public static readonly TimeSpan DefaultProgramTimeout = TimeSpan.FromMinutes(30);

    /// <summary>The runner for checks and handlers: bounded, with progress (see <see cref="BoundedRunner"/>).</summary>
    private BoundedRunner Checks => new(runner, ProgramTimeout, report);

    private HostEffects Effects(RunJournal journal) => new(root, runner, journal, report, retryDelay, PackageLockTimeout, time);

    /// <summary>
    /// Folders where an earlier, killed run may have left a temporary file: those of every file the
    /// journals name, the run folders and harden's state folder. Called with the lock held.
    /// </summary>
    private void SweepTemporaryFiles(IReadOnlyList<RunJournal> runs, IEnumerable<string> extra)
    {
        var files = runs.SelectMany(j => j.Record.Entries.Select(e => ResourceKinds.FileOf(e.Address)).OfType<string>()
                .Concat(j.Record.Backups.Select(b => b.Path)))
            .Concat(extra);
        var runFolders = runs.SelectMany(j => new[] { $"{RunJournal.RunsDirectory}/{j.RunId}", $"{RunJournal.RunsDirectory}/{j.RunId}/files" });
        var dirs = files.Where(SafePath.IsAbsolute).Select(f => Path.GetDirectoryName(f)!)
            .Concat(runFolders).Append(RunJournal.StateDirectory).Append(RunJournal.RunsDirectory);
        if (AtomicFile.SweepTemporaryFiles(root, dirs) is > 0 and var n)
            report($"removed {n} temporary file(s) an interrupted run left behind");
    }

    public async Task<ApplyResult> ApplyAsync(Plan plan, CancellationToken ct, bool prune = false)
    {
        // One read of the journals serves both the sweep and the new run's sequence number.
        var runs = RunJournal.All(root).ToList();
        SweepTemporaryFiles(runs, plan.Changes.Select(c => ResourceKinds.FileOf(c.Address)).OfType<string>());
        // Before the run exists: a host that cannot get its packages is refused with nothing changed,
        // and what apt will remove to install them is known (and said) before the first write.
        var installs = plan.Pending.Where(c => c.Resource is PackageResource { Present: true }).ToList();
        var preflight = installs.Count > 0
            ? await new PackageTransaction(root, runner, report, PackageLockTimeout, time, retryDelay).PrepareAsync(installs, ct)
            : null;
        var journal = RunJournal.Start(root, plan, time, runs);
        var fx = Effects(journal);
        report($"run {journal.RunId}: backups in {RunJournal.RunDirectory(root, journal.RunId)}");
        var changed = 0;
        string? rebootNeeded = null;
        try
        {
            var validated = false;
            foreach (var change in plan.Pending)
            {
                ct.ThrowIfCancellationRequested();
                // Packages, groups and folders first; then, before the first configuration file is
                // touched, every edit is checked on a staged copy.
                if (!validated && change.Resource is ITextEdit)
                {
                    await ValidateStagedAsync(plan, journal, ct);
                    validated = true;
                }
                if (preflight is not null && installs.Contains(change))
                {
                    // All of them at once, at the first: one apt transaction for the run.
                    if (change != installs[0]) continue;
                    // Begun with what the transaction is expected to add and remove, so a run killed inside it is undone fully.
                    for (var i = 0; i < installs.Count; i++) journal.Begin(installs[i] with { After = preflight.Expected(last: i == installs.Count - 1) });
                    var states = await PackageResource.InstallAllAsync(installs, preflight, fx, ct);
                    for (var i = 0; i < installs.Count; i++)
                    {
                        journal.Complete(installs[i].Address, states[i]);
                        changed++;
                        report($"  + {installs[i].Address}  ({installs[i].Reason})");
                    }
                    continue;
                }
                var resource = change.Resource ?? throw new HardenException($"{change.Address}: the plan has no resource to apply it (plans are made fresh for apply)");
                journal.Begin(change);
                var reached = await resource.ApplyAsync(change, fx, ct);
                journal.Complete(change.Address, reached);
                changed++;
                if (change.Resource is not (SshdConflictResource or DirectoryResource))
                    report($"  {Symbol(change.Action)} {change.Address}{(change.Reason.Length > 0 ? $"  ({change.Reason})" : "")}");
            }
            if (!validated) await ValidateStagedAsync(plan, journal, ct);

            foreach (var touched in plan.Handlers.SelectMany(h => h.Touches)) fx.PreserveDerived(touched, "handlers");
            journal.MarkHandlersStarted();
            await RunHandlersAsync(plan.Handlers, ct, failOnError: true);
            await VerifySshdAsync(plan, ct);
            // What this run manages must be in the kernel too: augenrules (audit 4, Debian 13) refuses
            // even to compile while the rules are immutable, so the compiled file alone can be stale.
            var managed = plan.Pending.Select(c => c.Resource).OfType<FileResource>()
                .Where(f => f.Validator == AuditWatches.Validator).SelectMany(f => AuditKernelResource.Rules(f.Content)).ToList();
            rebootNeeded = await VerifyAuditAsync(plan.Handlers, ct, managed);
            journal.Finish(RunState.Completed, time.GetUtcNow());
        }
        catch (Exception e)
        {
            var why = e is OperationCanceledException || ct.IsCancellationRequested ? "interrupted (SIGINT/SIGTERM)" : e.Message;
            report($"apply failed: {why}");
            report("restoring everything this run changed…");
            var (left, journalError) = await RestoreAfterFailureAsync(journal, fx);
            // The journal itself may be what failed (a full disk): the exit code must still tell the truth,
            // which is the host's state: restored is exit 4 even when the record of it could not be saved.
            if (!TryFinish(journal, left.Count == 0 ? RunState.FailedRestored : RunState.FailedIncomplete, why)) journalError ??= "the manifest could not be written";
            if (left.Count == 0)
            {
                var record = journalError is null ? "" :
                    $"\nThe host is as before, but run {journal.RunId}'s journal could not record it ({journalError}). " +
                    $"Free space under {root.Map(RunJournal.StateDirectory)}, then run: harden rollback{RootArg} --run {journal.RunId} (it finds nothing left to restore and closes the run)";
                throw new HardenException($"apply failed, host restored (run {journal.RunId}): {why}{record}", ExitCodes.ApplyFailedRestored, e);
            }
            throw new HardenException(
                $"apply failed (run {journal.RunId}): {why}\nThe restore did not finish; still to restore: {string.Join("; ", left)}.\n" +
                $"Fix the cause, then run: harden rollback{RootArg} --run {journal.RunId}", ExitCodes.RestoreIncomplete, e);
        }

        var pruned = prune ? await PruneAsync(plan, ct) : 0;
        return new ApplyResult(journal.RunId, changed, pruned, rebootNeeded);
    }

    private string RootArg => root.IsProcessRoot ? "" : $" --root {root.Path}";

    private bool TryFinish(RunJournal journal, string state, string why)
    {
        try
        {
            journal.Finish(state, time.GetUtcNow(), why);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            report($"  could not update the journal: {e.Message}");
            return false;
        }
    }

    private static char Symbol(ChangeAction action) => action switch
    {
        ChangeAction.Create => '+', ChangeAction.Update => '~', ChangeAction.Delete => '-', _ => '=',
    };

    private async Task ValidateStagedAsync(Plan plan, RunJournal journal, CancellationToken ct)
    {
        if (plan.Validators.Contains(Planner.SshdValidator)) EnsurePrivilegeSeparationDirectory();
        var staged = new StagedConfig(root, Checks, report);
        if (await staged.CheckAsync(plan.Changes, $"{RunJournal.RunsDirectory}/{journal.RunId}/stage", ct) is { } failure)
            throw new StepFailedException(failure);
    }

    private async Task RunHandlersAsync(IEnumerable<PlannedHandler> handlers, CancellationToken ct, bool failOnError)
    {
        var immutableAudit = await AuditImmutableAsync(handlers, ct);
        foreach (var handler in handlers)
        {
            // After a stop request no new program starts; only one already running gets its grace.
            ct.ThrowIfCancellationRequested();
            if (handler.SkipReason is { } why)
            {
                report($"  - handler {handler.Id} skipped: {why}");
                continue;
            }
            var argv = handler.Argv;
            if (immutableAudit && IsAuditLoad(handler))
            {
                // auditctl -R would fail on the first rule: compile only; the kernel reads them at boot.
                report($"  the kernel's audit rules are immutable (-e 2): compiling them for the next boot, not loading");
                argv = [.. argv.Where(a => a != "--load")];
            }
            report($"  $ {CliWrapCommandRunner.Display(argv)}   (handler {handler.Id})");
            // A handler changes the host (augenrules --load, pam-auth-update): let it finish on a stop request.
            CommandResult result;
            using (var grace = StopGrace.For(ct)) result = await Checks.RunAsync(argv, grace.Token);
            if (result.Succeeded) continue;
            var message = $"handler {handler.Id} ({CliWrapCommandRunner.Display(handler.Argv)}) failed (exit {result.ExitCode}): {result.Message}{QuoteFailedLine(result.Message)}";
            if (failOnError) throw new StepFailedException(message);
            report("  warning: " + message);
        }
    }

    /// <summary>
    /// On a live host, after <c>augenrules --load</c>: the kernel's rules (<c>auditctl -l</c>) must be
    /// the compiled ones, one loaded rule per rule line of /etc/audit/audit.rules with every key.
    /// augenrules can exit 0 and load nothing, so its exit code is not the proof. When the kernel's
    /// rules are immutable (<c>-e 2</c>, <c>auditctl -s</c> says "enabled 2") nothing can load before
    /// the next boot: that is returned as what the operator must do, never reported as success. Any
    /// other difference fails the step (and apply restores the host).
    /// </summary>
    private static bool IsAuditLoad(PlannedHandler handler) => handler.SkipReason is null && handler.Argv is ["augenrules", .., "--load"];

    /// <summary>On a live host about to load audit rules: are the kernel's rules locked until boot (auditctl -s: "enabled 2")?</summary>
    private async Task<bool> AuditImmutableAsync(IEnumerable<PlannedHandler> handlers, CancellationToken ct)
    {
        if (!root.IsLive || !handlers.Any(IsAuditLoad)) return false;
        var status = await Checks.RunAsync(["auditctl", "-s"], ct);
        return status.Succeeded && ImmutableAudit().IsMatch(status.StandardOutput);
    }

    private async Task<string?> VerifyAuditAsync(IEnumerable<PlannedHandler> handlers, CancellationToken ct, IReadOnlyList<string>? managed = null)
    {
        if (!root.IsLive || !handlers.Any(IsAuditLoad)) return null;
        var immutable = await AuditImmutableAsync(handlers, ct);
        var loaded = await Checks.RunAsync(["auditctl", "-l"], ct);
        if (!loaded.Succeeded) throw new StepFailedException($"auditctl -l failed (exit {loaded.ExitCode}): {loaded.Message}");
        var file = HostReader.ReadFile(root, AuditKernelResource.CompiledRules);
        var compiled = AuditKernelResource.Rules(file.Exists ? System.Text.Encoding.UTF8.GetString(file.Content) : "");
        var kernel = AuditKernelResource.Rules(loaded.StandardOutput);
        var missing = AuditKernelResource.Missing([.. compiled, .. managed ?? []], kernel);
        // augenrules --load deletes every rule first, so after a load the kernel holds exactly the compiled ones.
        if (kernel.Count != compiled.Count || missing.Count > 0)
        {
            if (immutable)
            {
                var reboot = $"the kernel's audit rules are immutable (-e 2): it keeps the {kernel.Count} rule(s) it had, and the {compiled.Count} now in " +
                    $"{AuditKernelResource.CompiledRules} load at the next boot, not before. Reboot to finish (e.g. sudo systemctl reboot).";
                report("  " + reboot);
                return reboot;
            }
            throw new StepFailedException($"the kernel loaded {kernel.Count} of the {compiled.Count} audit rules in {AuditKernelResource.CompiledRules}" +
                (missing.Count > 0 ? $"; missing: {string.Join(", ", missing)}" : "") + " (auditctl -l)");
        }
        report($"  verified {kernel.Count} audit rules loaded in the kernel with auditctl -l");
        return null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(?m)^enabled 2\b")]
    private static partial System.Text.RegularExpressions.Regex ImmutableAudit();

    /// <summary>
    /// auditctl (through augenrules --load) says only "There was an error in line 6 of
    /// /etc/audit/audit.rules", and that file is regenerated: quote the rule itself, so the message
    /// names what the kernel refused (a watch on a folder that does not exist, say).
    /// </summary>
    private string QuoteFailedLine(string message)
    {
        var match = FailedLine().Match(message);
        if (!match.Success || !int.TryParse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var number)) return "";
        try
        {
            var file = HostReader.ReadFile(root, match.Groups[2].Value);
            var lines = file.Exists ? System.Text.Encoding.UTF8.GetString(file.Content).Split('\n') : [];
            return number >= 1 && number <= lines.Length
                ? $" (line {number} of {match.Groups[2].Value} is: {Profiles.VariableDefinition.Printable(lines[number - 1].Trim())})"
                : "";
        }
        catch (HardenException)
        {
            return "";
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"error in line (\d+) of (/[^\s]+)")]
    private static partial System.Text.RegularExpressions.Regex FailedLine();

    /// <summary>
    /// Reads the effective sshd configuration, globally and once per Match block's connection
    /// (<c>sshd -T -C</c>), and compares every managed setting.
    /// </summary>
    private async Task VerifySshdAsync(Plan plan, CancellationToken ct)
    {
        var expected = plan.Expected.Count(e => e.Source == Planner.SshdValidator);
        if (expected == 0 || !plan.Pending.Any(c => c.Resource is { } r && Planner.IsSshd(r))) return;
        EnsurePrivilegeSeparationDirectory();
        var mismatches = (await SshdEffective.ReadAsync(Checks, plan, ct)).Where(s => !s.Satisfied).Select(s => s.Describe()).ToList();
        if (mismatches.Count > 0)
            throw new StepFailedException("sshd -T disagrees with the profile: " + string.Join("; ", mismatches));
        report($"  verified {expected} sshd settings with sshd -T{(plan.SshdConnections.IsEmpty ? "" : $" globally and for {plan.SshdConnections.Length} Match block(s)")}");
    }

    /// <summary>sshd -t/-T refuse to run without /run/sshd, which exists only while the service runs.</summary>
    public void EnsurePrivilegeSeparationDirectory()
    {
        // A link on the way is left alone: sshd -t then fails and says why.
        if (!root.IsDirectory("/run/sshd") && root.IsDirectory("/run") && root.Stat("/run/sshd").Kind == EntryKind.Missing)
            root.EnsureDirectory("/run/sshd", ContainedDirectory.FolderMode, 0, 0);
    }

    /// <summary>
    /// Undoes a failed run within <see cref="RestoreBudget"/>, whatever signal cut it short. Keeps
    /// going past a resource it cannot restore, and returns what is left (empty when all is back).
    /// </summary>
    private async Task<(List<string> Left, string? JournalError)> RestoreAfterFailureAsync(RunJournal journal, HostEffects fx)
    {
        using var budget = new CancellationTokenSource(RestoreBudget);
        var outcome = await RestoreEntriesAsync(journal, fx, force: false, budget.Token, failure: true);
        return ([.. outcome.Failed, .. outcome.Kept.Select(k => k.Kept!)], outcome.JournalError);
    }

    private sealed record Restoration(int Restored, List<RestoreOutcome> Kept, List<string> Notes, List<string> Failed)
    {
        /// <summary>Set when the host was put back but the journal could not record it (a full disk): the host's state is not in doubt, the record is.</summary>
        public string? JournalError { get; set; }
    }

    /// <summary>
    /// Undoing these can lock someone out while a service still runs with the run's settings
    /// (removing the operator from phi-access while sshd still says AllowGroups phi-access).
    /// </summary>
    private static bool NarrowsAccess(JournalEntry entry) =>
        entry.Address.Kind is MemberResource.Kind or GroupResource.Kind or UserResource.Kind;

    /// <summary>
    /// Every entry in reverse, except accounts; then the handlers; then accounts and memberships in
    /// reverse; then what tools and handlers regenerate, byte for byte.
    /// </summary>
    private async Task<Restoration> RestoreEntriesAsync(RunJournal journal, IHostEffects fx, bool force, CancellationToken ct, bool failure)
    {
        var result = new Restoration(0, [], [], []);
        var restored = 0;
        // The resource is back; only the note of it may fail to save (no space for the manifest).
        void Record(JournalEntry entry, string step)
        {
            try
            {
                journal.SetStep(entry.Address, step);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                result.JournalError ??= e.Message;
            }
        }
        async Task Restore(JournalEntry entry)
        {
            try
            {
                var outcome = await ResourceKinds.RestorerFor(entry.Address)(entry, fx, force || entry.Derived || failure && entry.Step == EntryStep.Pending, ct);
                if (outcome.Kept is not null)
                {
                    result.Kept.Add(outcome);
                    Record(entry, EntryStep.Kept);
                    return;
                }
                if (outcome.Note is not null) result.Notes.Add(outcome.Note);
                if (outcome.Restored) restored++;
                Record(entry, EntryStep.Restored);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var message = e is OperationCanceledException ? "not restored in time" : e.Message;
                result.Failed.Add($"{entry.Address} ({message})");
                report($"  could not restore {entry.Address}: {message}");
            }
        }
        var entries = journal.Record.Entries.Where(e => e.Step is not EntryStep.Restored).ToList();
        foreach (var entry in entries.Where(e => !e.Derived && !NarrowsAccess(e)).Reverse()) await Restore(entry);
        // Reload services so they drop the configuration that was just taken away.
        if (journal.Record.HandlersStarted && entries.Count > 0) await RunHandlersAsync(journal.Record.Handlers, ct, failOnError: false);
        // Only then take accounts and memberships away: sshd already runs without AllowGroups, so
        // the operator is never refused in between (access is never narrower than before or after).
        foreach (var entry in entries.Where(e => !e.Derived && NarrowsAccess(e)).Reverse()) await Restore(entry);
        // What tools and handlers regenerate goes back last, every time: a second pass (a rollback
        // after a restore that stopped half-way) runs the tools again.
        foreach (var entry in journal.Record.Entries.Where(e => e.Derived).Reverse()) await Restore(entry);
        return result with { Restored = restored, JournalError = result.JournalError };
    }

    /// <summary>Undoes a run by inverse steps; what an admin changed since is kept and reported unless forced.</summary>
    public async Task<RollbackResult> RollbackAsync(RunJournal journal, bool force, CancellationToken ct)
    {
        // Every backup is checked before anything is put back: one changed byte and nothing is restored.
        if (journal.TamperedBackups() is { Count: > 0 } tampered)
            throw new HardenException($"refusing to roll back run {journal.RunId}: the backup of {string.Join(", ", tampered)} in {RunJournal.RunDirectory(root, journal.RunId)} " +
                "does not match the digest its signed journal recorded (changed or removed since the run). Nothing was restored. Compare that backup with the file by hand; " +
                "the rest of the run can be undone once the backup is as harden wrote it");
        SweepTemporaryFiles([.. RunJournal.All(root)], []);
        var fx = Effects(journal);
        var outcome = await RestoreEntriesAsync(journal, fx, force, ct, failure: false);
        if (outcome.Failed.Count > 0)
        {
            journal.Finish(RunState.PartlyRolledBack, time.GetUtcNow(), "rollback could not restore: " + string.Join("; ", outcome.Failed));
            throw new HardenException($"rollback of run {journal.RunId} could not restore: {string.Join("; ", outcome.Failed)}. " +
                $"Fix the cause, then run: harden rollback{RootArg} --run {journal.RunId}", ExitCodes.RestoreIncomplete);
        }
        var rebootNeeded = journal.Record.HandlersStarted ? await VerifyAuditAsync(journal.Record.Handlers, ct) : null;
        journal.Finish(outcome.Kept.Count > 0 ? RunState.PartlyRolledBack : RunState.RolledBack, time.GetUtcNow());
        return new RollbackResult(outcome.Restored, outcome.Kept, outcome.Notes, rebootNeeded);
    }

    /// <summary>Returns what earlier runs changed and this profile no longer manages to its state before harden.</summary>
    private async Task<int> PruneAsync(Plan plan, CancellationToken ct)
    {
        var pruned = 0;
        foreach (var byRun in plan.NoLongerManaged.GroupBy(m => m.RunId))
        {
            var journal = RunJournal.Open(root, byRun.Key);
            var fx = Effects(journal);
            var addresses = byRun.Select(m => m.Address).ToHashSet();
            foreach (var entry in journal.Record.Entries.Where(e => addresses.Contains(e.Address)).Reverse())
            {
                var outcome = await ResourceKinds.RestorerFor(entry.Address)(entry, fx, false, ct);
                if (outcome.Kept is not null)
                {
                    report($"  kept {entry.Address}: {outcome.Kept}");
                    continue;
                }
                journal.SetStep(entry.Address, EntryStep.Restored);
                report($"  - pruned {entry.Address} (from run {journal.RunId})");
                pruned++;
            }
        }
        return pruned;
    }

    private sealed class StepFailedException(string message) : Exception(message);
}
