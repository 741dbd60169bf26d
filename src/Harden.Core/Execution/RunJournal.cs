using System.Collections.Immutable;
using System.Text.Json;
using Harden.Host;
using Harden.Planning;

namespace Harden.Execution;

public static class RunState
{
    public const string InProgress = "in-progress";
    public const string Completed = "completed";
    public const string FailedRestored = "failed-restored";
    public const string RolledBack = "rolled-back";
}

public static class EntryStep
{
    public const string Pending = "pending";
    public const string BackedUp = "backed-up";
    public const string Written = "written";
}

/// <summary>
/// One file a run touches: how it was before (and where its backup is) and what it became.
/// <see cref="Derived"/> marks output of a handler (e.g. compiled audit.rules): rollback restores it
/// after re-running the handlers, so the handler cannot leave its own traces behind.
/// </summary>
public sealed record JournalEntry(
    string Path,
    bool Existed,
    string Mode,
    uint Uid,
    uint Gid,
    string Sha256Before,
    string Sha256After,
    string? Backup,
    string Step,
    bool Derived = false);

/// <summary>The manifest of one run, as stored in <c>ROOT/var/lib/harden/runs/ID/manifest.json</c>.</summary>
public sealed record RunRecord(
    int FormatVersion,
    string RunId,
    string Profile,
    string State,
    int Pid,
    DateTimeOffset Started,
    DateTimeOffset? Finished,
    ImmutableArray<JournalEntry> Entries,
    ImmutableArray<PlannedHandler> Handlers,
    string? Error);

/// <summary>
/// The write-ahead record of a run. It is saved (atomically, fsync'd) before every step, so after a
/// crash the next harden knows exactly which files were backed up and which were written.
/// </summary>
public sealed class RunJournal
{
    public const string StateDirectory = "/var/lib/harden";
    public const string RunsDirectory = StateDirectory + "/runs";

    private readonly string _directory;

    public RunRecord Record { get; private set; }
    public string RunId => Record.RunId;

    private RunJournal(string directory, RunRecord record)
    {
        _directory = directory;
        Record = record;
    }

    public static RunJournal Start(HostRoot root, Plan plan, TimeProvider time)
    {
        var now = time.GetUtcNow();
        var id = $"{now:yyyyMMdd'T'HHmmss'Z'}-{Guid.NewGuid().ToString("N")[..6]}";
        if (root.FindSymlink(RunsDirectory) is { } link)
            throw new HardenException($"refusing to keep backups behind a symlink: {link}");
        var directory = RunDirectory(root, id);
        Directory.CreateDirectory(Path.Combine(directory, "files"));
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var journal = new RunJournal(directory, new RunRecord(1, id, plan.Profile, RunState.InProgress, Environment.ProcessId,
            now, null, [], plan.Handlers, null));
        journal.Save();
        return journal;
    }

    public static string RunDirectory(HostRoot root, string id) => root.Map(RunsDirectory) + "/" + id;

    /// <summary>Copies the file's current bytes into the run before anything overwrites it.</summary>
    public JournalEntry BackUp(HostRoot root, string path, string sha256After, bool derived = false)
    {
        var existing = Record.Entries.FirstOrDefault(e => e.Path == path);
        if (existing is not null) return existing;
        var before = HostReader.ReadFile(root, path);
        if (before.Symlink is { } link) throw new HardenException($"refusing to write through a symlink: {link}");
        string? backup = null;
        if (before.Exists)
        {
            backup = $"files/{Record.Entries.Length:D4}";
            AtomicFile.WriteMapped(Path.Combine(_directory, backup), before.Content, UnixFileMode.UserRead | UnixFileMode.UserWrite, 0, 0);
        }
        var entry = new JournalEntry(path, before.Exists, Planner.Octal(before.Mode), before.Uid, before.Gid,
            before.Sha256, sha256After, backup, EntryStep.BackedUp, derived);
        Record = Record with { Entries = Record.Entries.Add(entry) };
        Save();
        return entry;
    }

    public void MarkWritten(string path, string sha256After)
    {
        Record = Record with
        {
            Entries = [.. Record.Entries.Select(e => e.Path == path ? e with { Step = EntryStep.Written, Sha256After = sha256After } : e)],
        };
        Save();
    }

    public void Finish(string state, DateTimeOffset when, string? error = null)
    {
        Record = Record with { State = state, Finished = when, Error = error };
        Save();
    }

    public byte[] ReadBackup(JournalEntry entry) => File.ReadAllBytes(Path.Combine(_directory, entry.Backup!));

    private void Save() =>
        AtomicFile.WriteMapped(Path.Combine(_directory, "manifest.json"),
            JsonSerializer.SerializeToUtf8Bytes(Record, HardenJson.Default.RunRecord),
            UnixFileMode.UserRead | UnixFileMode.UserWrite, 0, 0);

    public static IEnumerable<RunJournal> All(HostRoot root)
    {
        var runs = root.Map(RunsDirectory);
        if (!Directory.Exists(runs) || root.FindSymlink(RunsDirectory) is not null) yield break;
        foreach (var dir in Directory.EnumerateDirectories(runs).Order(StringComparer.Ordinal))
        {
            var manifest = Path.Combine(dir, "manifest.json");
            if (!File.Exists(manifest)) continue;
            RunRecord? record;
            try
            {
                record = JsonSerializer.Deserialize(File.ReadAllBytes(manifest), HardenJson.Default.RunRecord);
            }
            catch (JsonException e)
            {
                throw new HardenException($"{manifest} is damaged: {e.Message}");
            }
            if (record is not null) yield return new RunJournal(dir, record);
        }
    }

    public static RunJournal Open(HostRoot root, string id) =>
        All(root).FirstOrDefault(j => j.RunId == id)
        ?? throw new HardenException($"no run '{VariableDefinitionPrintable(id)}' under {root.Map(RunsDirectory)}");

    private static string VariableDefinitionPrintable(string s) => Profiles.VariableDefinition.Printable(s);

    /// <summary>A run left in progress by a process that is no longer alive.</summary>
    public static RunJournal? FindUnfinished(HostRoot root) =>
        All(root).LastOrDefault(j => j.Record.State == RunState.InProgress && !IsAlive(j.Record.Pid));

    private static bool IsAlive(int pid) => pid > 0 && pid != Environment.ProcessId && Directory.Exists($"/proc/{pid}");
}
