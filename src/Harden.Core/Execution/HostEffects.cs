using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Harden.Host;
using Polly;


namespace Harden.Execution;

/// <summary>
/// The one door through which resources change a host: file writes, directories and commands, all
/// kept inside the root. Every file is backed up into the run's journal before its first write.
/// </summary>
public interface IHostEffects
{
    HostRoot Root { get; }
    string RunId { get; }
    void Report(string line);

    FileState ReadFile(string path);
    DirectoryState ReadDirectory(string path);
    ImmutableDictionary<string, PackageInfo> InstalledPackages();
    IReadOnlyList<GroupEntry> Groups();
    IReadOnlyList<UserAccount> Users();

    void WriteFile(string path, byte[] content, UnixFileMode mode, uint uid, uint gid);
    void DeleteFile(string path);

    /// <summary>Creates the directory (and missing parents, 0755 root) or sets its mode and owner.</summary>
    /// <returns>The directories it created, outermost first.</returns>
    IReadOnlyList<string> EnsureDirectory(string path, UnixFileMode mode, uint uid, uint gid);
    bool RemoveEmptyDirectory(string path);

    /// <summary>The missing folders above a path, made 0755 root:root; returns those it made, outermost first.</summary>
    IReadOnlyList<string> CreateParents(string path);

    /// <summary>The folders that do not exist yet on the way to <paramref name="path"/> (itself included when <paramref name="self"/>), outermost first.</summary>
    IReadOnlyList<string> MissingFolders(string path, bool self = false);

    /// <summary>
    /// Records in the journal, durably, what a step is about to make (folders) before it makes it, so
    /// a kill between the two leaves nothing rollback does not know of.
    /// </summary>
    void Intend(Resources.Address address, ImmutableSortedDictionary<string, string> after);

    /// <summary>Permission bits of an existing file or folder (never a link); false when it is not there.</summary>
    bool SetMode(string path, UnixFileMode mode);

    Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken ct, bool retryable = false);

    /// <summary>Owner and group names as the root resolves them now (a group this run created included); digits pass as ids.</summary>
    (uint Uid, uint Gid) ResolveOwner(string owner, string group);

    /// <summary>Backs up a file a tool will rewrite (e.g. shadow-utils' /etc/group-), to be put back after every inverse ran.</summary>
    void PreserveDerived(string path, string module);

    FileBackup? Backup(string path);
    byte[]? ReadCopy(string? copy);

    /// <summary>Everything the run's journal records, for restorers that must look beyond their own entry.</summary>
    IReadOnlyList<JournalEntry> Entries { get; }
}

/// <summary>The real effects, bound to one root and one run's journal.</summary>
/// <param name="lockTimeout">How long package commands wait for another process's apt/dpkg lock (<see cref="AptLock.DefaultTimeout"/>).</param>
public sealed class HostEffects(HostRoot root, ICommandRunner runner, RunJournal journal, Action<string> report, TimeSpan? retryDelay = null,
    TimeSpan? lockTimeout = null, TimeProvider? time = null) : IHostEffects
{
    /// <summary>Waits out an apt/dpkg lock held by unattended-upgrades at first boot; bounded per command, and says why. Never used for writes.</summary>
    private ResiliencePipeline<CommandResult> AptRetry() =>
        AptLock.Pipeline(report, lockTimeout ?? AptLock.DefaultTimeout, retryDelay ?? TimeSpan.FromSeconds(5), time ?? TimeProvider.System);

    public HostRoot Root => root;
    public string RunId => journal.RunId;
    public RunJournal Journal => journal;

    public void Report(string line) => report(line);

    public FileState ReadFile(string path) => HostReader.ReadFile(root, path);
    public DirectoryState ReadDirectory(string path) => HostReader.ReadDirectory(root, path);
    public ImmutableDictionary<string, PackageInfo> InstalledPackages() => HostReader.ReadInstalledPackages(root);
    public IReadOnlyList<GroupEntry> Groups() => HostReader.ParseGroups(Text("/etc/group"));
    public IReadOnlyList<UserAccount> Users() => HostReader.ParseUsers(Text("/etc/passwd"));

    private string Text(string path) => ReadFile(path) is { Exists: true } f ? Encoding.UTF8.GetString(f.Content) : "";

    public void WriteFile(string path, byte[] content, UnixFileMode mode, uint uid, uint gid)
    {
        journal.BackUp(root, path);
        AtomicFile.Write(root, path, content, mode, uid, gid);
        journal.KeepWritten(path, content);
    }

    public IReadOnlyList<string> CreateParents(string path) => root.CreateParents(path);

    public IReadOnlyList<string> MissingFolders(string path, bool self = false)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var missing = new List<string>();
        for (var i = 1; i <= parts.Length - (self ? 0 : 1); i++)
        {
            var folder = "/" + string.Join('/', parts.Take(i));
            Entry entry;
            try
            {
                entry = root.Stat(folder);
            }
            catch (PathBlockedException)
            {
                break;
            }
            if (entry.Kind == EntryKind.Missing) missing.Add(folder);
        }
        return missing;
    }

    public void Intend(Resources.Address address, ImmutableSortedDictionary<string, string> after) =>
        journal.SetStep(address, EntryStep.Pending, after);

    public bool SetMode(string path, UnixFileMode mode) => root.Files.SetMode(HostRoot.Relative(path), mode);

    public void DeleteFile(string path)
    {
        journal.BackUp(root, path);
        AtomicFile.Delete(root, path);
    }

    public IReadOnlyList<string> EnsureDirectory(string path, UnixFileMode mode, uint uid, uint gid) =>
        root.EnsureDirectory(path, mode, uid, gid);

    public bool RemoveEmptyDirectory(string path) => root.RemoveEmptyDirectory(path);

    public async Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken ct, bool retryable = false)
    {
        report($"  $ {CliWrapCommandRunner.Display(argv)}");
        // Every program run here changes the host: a stop request lets it finish (see StopGrace), and
        // the retry loop between attempts still stops at once.
        return retryable
            // A package command is never cut off (dpkg half-way needs repair); a stop request ends only the waits between tries.
            ? await AptRetry().ExecuteAsync(async _ => await RunToEndAsync(argv, CancellationToken.None), ct)
            : await RunToEndAsync(argv, ct);
    }

    private async Task<CommandResult> RunToEndAsync(IReadOnlyList<string> argv, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        using var grace = StopGrace.For(ct);
        // Package installs and AIDE's first database take minutes: a line every half minute shows
        // the run is alive, and the time taken is said at the end.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var finished = new CancellationTokenSource();
        var heartbeat = HeartbeatAsync(argv[0], clock, finished.Token);
        try
        {
            return await runner.RunAsync(argv, grace.Token);
        }
        finally
        {
            await finished.CancelAsync();
            await heartbeat;
            if (clock.Elapsed >= LongStep) report($"    {argv[0]} took {clock.Elapsed.TotalSeconds:0} s");
        }
    }

    private static readonly TimeSpan LongStep = TimeSpan.FromSeconds(30);

    private async Task HeartbeatAsync(string program, System.Diagnostics.Stopwatch clock, CancellationToken done)
    {
        using var timer = new PeriodicTimer(LongStep);
        try
        {
            while (await timer.WaitForNextTickAsync(done)) report($"    {program} still running ({clock.Elapsed.TotalSeconds:0} s)…");
        }
        catch (OperationCanceledException)
        {
            // The program ended.
        }
    }

    public (uint Uid, uint Gid) ResolveOwner(string owner, string group)
    {
        uint Id(string name, Func<string, uint?> lookup, string what) =>
            uint.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
            : lookup(name) ?? throw new HardenException($"{what} '{name}' does not exist on the target");
        return (Id(owner, n => Users().FirstOrDefault(u => u.Name == n)?.Uid, "owner"),
            Id(group, n => Groups().FirstOrDefault(g => g.Name == n)?.Gid, "group"));
    }

    public void PreserveDerived(string path, string module)
    {
        if (journal.Backup(path) is not null) return;
        journal.BackUp(root, path);
        journal.Begin(new Resources.Change(new Resources.Address(Resources.FileResource.Kind, path), module,
            Resources.ChangeAction.Update, null, null, "regenerated by a tool"), derived: true);
    }

    public FileBackup? Backup(string path) => journal.Backup(path);
    public IReadOnlyList<JournalEntry> Entries => journal.Record.Entries;
    /// <summary>A backup copy, only when it still has the digest the signed journal recorded for it.</summary>
    public byte[]? ReadCopy(string? copy)
    {
        var bytes = journal.ReadCopy(copy);
        if (bytes is not null && journal.Record.Backups.FirstOrDefault(b => b.Copy == copy) is { } backup && FileState.Digest(bytes) != backup.Sha256)
            throw new HardenException($"the backup of {backup.Path} does not match the digest the run's signed journal recorded; it was changed after the run, so nothing is restored from it");
        return bytes;
    }
}
