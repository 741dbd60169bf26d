using System.Collections.Immutable;
using System.Text.Json;
using Harden.Host;
using Harden.Planning;
using Harden.Resources;

namespace Harden.Execution;

public static class RunState
{
    public const string InProgress = "in-progress";
    public const string Completed = "completed";
    public const string FailedRestored = "failed-restored";
    /// <summary>The restore after a failure did not finish: what is left is listed in the manifest.</summary>
    public const string FailedIncomplete = "failed-incomplete";
    public const string RolledBack = "rolled-back";
    /// <summary>Rolled back except resources an admin changed since; <c>rollback --force</c> finishes it.</summary>
    public const string PartlyRolledBack = "partly-rolled-back";
}

public static class EntryStep
{
    public const string Pending = "pending";
    public const string Applied = "applied";
    public const string Restored = "restored";
    public const string Kept = "kept";
}

/// <summary>
/// One resource a run changes: its state before and the state apply reached. Restore works from this
/// alone. <see cref="Derived"/> marks output of a handler or a tool's own backup (compiled audit.rules,
/// /etc/group-): put back byte for byte after everything else, so the tools leave no traces.
/// </summary>
public sealed record JournalEntry(
    Address Address,
    string Module,
    string Step,
    ImmutableSortedDictionary<string, string>? Before,
    ImmutableSortedDictionary<string, string>? After,
    bool Derived = false,
    bool Sensitive = false);

/// <summary>A copy of a file as it was before the run first wrote it (and of what the run wrote).</summary>
public sealed record FileBackup(string Path, bool Existed, string Mode, uint Uid, uint Gid, string Sha256, string? Copy, string? Written = null);

/// <summary>The manifest of one run, as stored in <c>ROOT/var/lib/harden/runs/ID/manifest.json</c>.</summary>
/// <param name="Sequence">Orders runs independently of the clock (which may jump at first boot).</param>
public sealed record RunRecord(
    int FormatVersion,
    string RunId,
    long Sequence,
    string Profile,
    string State,
    int Pid,
    DateTimeOffset Started,
    DateTimeOffset? Finished,
    ImmutableArray<JournalEntry> Entries,
    ImmutableArray<FileBackup> Backups,
    ImmutableArray<PlannedHandler> Handlers,
    bool HandlersStarted,
    string? Error,
    string? Mac = null);

/// <summary>
/// The write-ahead record of a run. It is saved (atomically, fsync'd) before and after every step, so
/// after a crash the next harden knows exactly what was about to change and what did.
/// </summary>
public sealed class RunJournal
{
    public const string StateDirectory = "/var/lib/harden";
    public const string RunsDirectory = StateDirectory + "/runs";
    public const int FormatVersion = 2;
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateFolder = Private | UnixFileMode.UserExecute;

    private readonly HostRoot _root;
    /// <summary>The run's folder as a target path (/var/lib/harden/runs/ID), reached through the root's handle.</summary>
    private readonly string _directory;
    private readonly object _gate = new();

    public RunRecord Record { get; private set; }
    public string RunId => Record.RunId;

    private readonly byte[] _key;

    private RunJournal(HostRoot root, string directory, RunRecord record, byte[] key)
    {
        _root = root;
        _directory = directory;
        Record = record;
        _key = key;
    }

    public const string KeyFile = StateDirectory + "/journal.key";

    /// <summary>
    /// The key that signs every manifest (HMAC-SHA256), made on first use, 0600 under the state
    /// folder: a manifest edited by hand, or written by anything but harden, no longer verifies.
    /// </summary>
    private static byte[] Key(HostRoot root, bool create)
    {
        var (entry, content) = root.Read(KeyFile, 32);
        if (entry.Kind == EntryKind.Symlink) throw new HardenException($"refusing to use {root.Map(KeyFile)}: it is a symlink");
        if (entry.Kind != EntryKind.Missing)
        {
            if (content is not { Length: 32 }) throw new HardenException($"{root.Map(KeyFile)} is not harden's 32-byte journal key; move it away to start a new one");
            return content;
        }
        if (!create) return [];
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        root.Write(KeyFile, key, Private, 0, 0);
        return key;
    }

    private static string Sign(byte[] key, RunRecord record) =>
        Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(key,
            JsonSerializer.SerializeToUtf8Bytes(record with { Mac = null }, HardenJson.Default.RunRecord)));

    /// <param name="existing">The runs already on the root (the caller has read them under the lock); the new one comes after the last.</param>
    public static RunJournal Start(HostRoot root, Plan plan, TimeProvider time, IEnumerable<RunJournal> existing)
    {
        var now = time.GetUtcNow();
        var id = $"{now:yyyyMMdd'T'HHmmss'Z'}-{Guid.NewGuid().ToString("N")[..6]}";
        // Each folder made (or re-moded) on its own handle; a link anywhere on the way is refused.
        root.EnsureDirectory(StateDirectory, PrivateFolder, 0, 0);
        root.EnsureDirectory(RunsDirectory, PrivateFolder, 0, 0);
        var sequence = existing.Select(j => j.Record.Sequence).DefaultIfEmpty(0).Max() + 1;
        var directory = $"{RunsDirectory}/{id}";
        root.EnsureDirectory(directory, PrivateFolder, 0, 0);
        root.EnsureDirectory(directory + "/files", PrivateFolder, 0, 0);
        var journal = new RunJournal(root, directory, new RunRecord(FormatVersion, id, sequence, plan.Profile, RunState.InProgress,
            Environment.ProcessId, now, null, [], [], plan.Handlers, false, null), Key(root, create: true));
        journal.Save();
        return journal;
    }

    public static string RunDirectory(HostRoot root, string id) => root.Map($"{RunsDirectory}/{id}");

    /// <summary>Records that a resource is about to change (before anything is touched).</summary>
    public void Begin(Change change, bool derived = false) => Update(r =>
    {
        var entry = new JournalEntry(change.Address, change.Module, EntryStep.Pending, change.Before, change.After, derived, change.Sensitive);
        return r.Entries.Any(e => e.Address == change.Address) ? r : r with { Entries = r.Entries.Add(entry) };
    });

    /// <summary>Records the state the resource reached.</summary>
    /// <remarks>
    /// Not fsync'd: if a power cut loses it, the entry stays "pending", which restore treats as
    /// possibly applied; what must be durable before a change (Begin, the backup) already is.
    /// </remarks>
    public void Complete(Address address, ImmutableSortedDictionary<string, string>? reached) =>
        SetStep(address, EntryStep.Applied, reached, durable: false);

    public void SetStep(Address address, string step, ImmutableSortedDictionary<string, string>? after = null, bool durable = true) => Update(r => r with
    {
        Entries = [.. r.Entries.Select(e => e.Address == address ? e with { Step = step, After = after ?? e.After } : e)],
    }, durable);

    public void MarkHandlersStarted() => Update(r => r with { HandlersStarted = true });

    /// <summary>Copies a file's current bytes into the run the first time the run is about to change it.</summary>
    public FileBackup BackUp(HostRoot root, string path)
    {
        if (Backup(path) is { } existing) return existing;
        var before = HostReader.ReadFile(root, path);
        if (before.Symlink is { } link) throw new HardenException($"refusing to write through a symlink: {link}");
        string? copy = null;
        if (before.Exists)
        {
            copy = $"files/{Record.Backups.Length:D4}";
            _root.Write($"{_directory}/{copy}", before.Content, Private, 0, 0);
        }
        var backup = new FileBackup(path, before.Exists, Planner.Octal(before.Mode), before.Uid, before.Gid, before.Sha256, copy,
            $"files/{Record.Backups.Length:D4}.written");
        Update(r => r with { Backups = r.Backups.Add(backup) });
        return backup;
    }

    /// <summary>Keeps what the run first wrote, so a later rollback can show an admin's edit as a diff (only a convenience: not fsync'd).</summary>
    public void KeepWritten(string path, byte[] content)
    {
        if (Backup(path) is not { Written: { } copy }) return;
        var file = $"{_directory}/{copy}";
        if (_root.Stat(file).Kind == EntryKind.Missing) _root.Write(file, content, Private, 0, 0, durable: false);
    }

    public FileBackup? Backup(string path) => Record.Backups.FirstOrDefault(b => b.Path == path);

    public byte[]? ReadCopy(string? copy)
    {
        if (copy is null || !Patterns.BackupName().IsMatch(copy)) return null;
        // Backups live in the run's own files/ folder, read through the root's handle: a link planted
        // there (or on the way) is refused rather than followed off the root.
        var (_, content) = _root.Read($"{_directory}/{copy}", HostReader.MaxFileSize);
        return content;
    }

    public void Finish(string state, DateTimeOffset when, string? error = null) =>
        Update(r => r with { State = state, Finished = when, Error = error ?? r.Error });

    private void Update(Func<RunRecord, RunRecord> change, bool durable = true)
    {
        lock (_gate)
        {
            Record = change(Record);
            Save(durable);
        }
    }

    private void Save(bool durable = true) =>
        _root.Write($"{_directory}/manifest.json",
            JsonSerializer.SerializeToUtf8Bytes(Record with { Mac = Sign(_key, Record) }, HardenJson.Default.RunRecord), Private, 0, 0, durable);

    /// <summary>Every run on the root whose manifest verifies, oldest first (by sequence, not by clock).</summary>
    public static IEnumerable<RunJournal> All(HostRoot root) => Scan(root).Valid;

    /// <summary>Run folders whose manifest does not verify, each with the reason: never acted on, always reported.</summary>
    public static IReadOnlyList<string> Refused(HostRoot root) => Scan(root).Refused;

    /// <summary>
    /// Refuses to go on when harden's own state could have been written by someone other than root:
    /// the state and run folders owned by root and writable by nobody else, the journal key readable
    /// by root alone. A backup or manifest another user could change is not evidence harden may act on.
    /// </summary>
    public static void EnsureRootOnly(HostRoot root)
    {
        const int GroupOrOtherWrite = 0x12, GroupOrOtherAny = 0x3F;
        var fix = new List<string>();
        void Check(string path, EntryKind kind, int forbidden)
        {
            Entry entry;
            try
            {
                entry = root.Stat(path);
            }
            catch (PathBlockedException)
            {
                throw new HardenException($"refusing to run: {root.Map(path)} goes through a symlink; harden's state must be a plain folder of root's");
            }
            if (entry.Kind == EntryKind.Missing) return;
            if (entry.Kind != kind) throw new HardenException($"refusing to run: {root.Map(path)} is {entry.Describe()}, not what harden keeps there");
            if (entry.Uid != 0 || ((int)entry.Mode & forbidden) != 0)
                fix.Add($"{root.Map(path)} (owner {entry.Uid}, mode {Planning.Planner.Octal(entry.Mode)})");
        }
        Check(StateDirectory, EntryKind.Directory, GroupOrOtherWrite);
        Check(KeyFile, EntryKind.File, GroupOrOtherAny);
        Check(RunsDirectory, EntryKind.Directory, GroupOrOtherWrite);
        foreach (var (name, kind) in root.List(RunsDirectory) ?? [])
        {
            if (kind != EntryKind.Directory) continue;
            Check($"{RunsDirectory}/{name}", EntryKind.Directory, GroupOrOtherWrite);
            Check($"{RunsDirectory}/{name}/files", EntryKind.Directory, GroupOrOtherWrite);
        }
        if (fix.Count > 0)
            throw new HardenException($"refusing to run: harden's state is not root's alone, so its journal and backups cannot be trusted: {string.Join(", ", fix)}. " +
                $"Check that nobody changed them, then fix with: chown -R root:root {root.Map(StateDirectory)} && chmod -R go-rwx {root.Map(StateDirectory)}");
    }

    /// <summary>The files whose backup copy in the run folder no longer has the digest the signed journal recorded.</summary>
    public IReadOnlyList<string> TamperedBackups() =>
        [.. Record.Backups.Where(b => b.Existed && b.Copy is not null)
            // A copy that is gone is reported by its own restore (with the fix); one that is there must be what harden wrote.
            .Where(b => ReadCopy(b.Copy) is { } bytes && FileState.Digest(bytes) != b.Sha256).Select(b => b.Path)];

    public static (List<RunJournal> Valid, List<string> Refused) Scan(HostRoot root)
    {
        EnsureRootOnly(root);
        if (root.List(RunsDirectory) is not { } runs) return ([], []);
        var key = Key(root, create: false);
        var found = new List<RunJournal>();
        var refused = new List<string>();
        foreach (var (name, kind) in runs.OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            var dir = $"{RunsDirectory}/{name}";
            var manifest = $"{dir}/manifest.json";
            if (kind != EntryKind.Directory)
            {
                refused.Add($"{root.Map(manifest)}: the run folder is {(kind == EntryKind.Symlink ? "a symlink" : "not a folder")}");
                continue;
            }
            var (entry, content) = ReadManifest(root, manifest);
            // A folder with no manifest at all is a run killed before its first record: nothing to act on.
            if (entry.Kind == EntryKind.Missing) continue;
            if (Verify(name, entry, content, key, out var record) is { } why)
            {
                refused.Add($"{root.Map(manifest)}: {why}");
                continue;
            }
            found.Add(new RunJournal(root, dir, record!, key));
        }
        return ([.. found.OrderBy(j => j.Record.Sequence).ThenBy(j => j.RunId, StringComparer.Ordinal)], refused);
    }

    private static (Entry Entry, byte[]? Content) ReadManifest(HostRoot root, string manifest)
    {
        try
        {
            return root.Read(manifest, 16 << 20);
        }
        catch (PathBlockedException)
        {
            return (Entry.Missing with { Kind = EntryKind.Symlink }, null);
        }
    }

    /// <summary>Null when the run folder and its manifest are what harden wrote; else why not.</summary>
    private static string? Verify(string folder, Entry entry, byte[]? content, byte[] key, out RunRecord? record)
    {
        record = null;
        if (entry.Kind == EntryKind.Symlink) return "the manifest is a symlink";
        if (content is null) return "the manifest is not a regular file of sane size";
        try
        {
            record = JsonSerializer.Deserialize(content, HardenJson.Default.RunRecord);
        }
        catch (Exception e) when (e is JsonException or HardenException)
        {
            return $"damaged ({e.Message})";
        }
        if (record is null) return "empty";
        if (record.RunId != folder) return $"it names run '{Profiles.VariableDefinition.Printable(record.RunId)}', not its own folder";
        if (key.Length == 0 || record.Mac is null || record.Mac != Sign(key, record))
            return "its signature does not verify: it was edited, or not written by harden on this root; harden will not act on it";
        if (record.Backups.Any(b => !Host.SafePath.IsAbsolute(b.Path) || b.Copy is not null && !Patterns.BackupName().IsMatch(b.Copy)
                || b.Written is not null && !Patterns.BackupName().IsMatch(b.Written)))
            return "a backup names a path outside the root or the run folder";
        return null;
    }

    public static RunJournal Open(HostRoot root, string id)
    {
        var (valid, refused) = Scan(root);
        return valid.FirstOrDefault(j => j.RunId == id)
            ?? throw new HardenException(refused.FirstOrDefault(r => r.Contains($"/{id}/manifest.json", StringComparison.Ordinal)) is { } why
                ? $"run '{Profiles.VariableDefinition.Printable(id)}' is refused: {why}"
                : $"no run '{Profiles.VariableDefinition.Printable(id)}' under {root.Map(RunsDirectory)}");
    }

    /// <summary>
    /// A run that did not finish: any in progress but this process's own (apply and rollback hold the
    /// lock while they look, so another in-progress run is dead; a pid alone could be reused after a
    /// reboot), or one whose restore stopped half-way.
    /// </summary>
    public static RunJournal? FindUnfinished(IEnumerable<RunJournal> runs) =>
        runs.LastOrDefault(j => j.Record.State is RunState.FailedIncomplete || j.Record.State is RunState.InProgress && j.Record.Pid != Environment.ProcessId);

    public static RunJournal? FindUnfinished(HostRoot root) => FindUnfinished(All(root));

    /// <summary>Resources that runs applied and nobody has undone since, newest run last.</summary>
    public static ImmutableArray<ManagedRecord> StillApplied(IEnumerable<RunJournal> runs) =>
        [.. runs.Where(j => j.Record.State is RunState.Completed or RunState.PartlyRolledBack)
            .SelectMany(j => j.Record.Entries.Where(e => !e.Derived && e.Step is EntryStep.Applied or EntryStep.Kept)
                .Select(e => new ManagedRecord(e.Address, e.Module, j.RunId)))];
}

internal static partial class Patterns
{
    [System.Text.RegularExpressions.GeneratedRegex(@"^files/[0-9]{4}(\.written)?$")]
    public static partial System.Text.RegularExpressions.Regex BackupName();
}
