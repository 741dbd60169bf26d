using System.Collections.Immutable;
using System.Security.Cryptography;
using Harden.Resources;

namespace Harden.Host;

/// <summary>What one file on the target looked like when the host was read.</summary>
public sealed record FileState(
    bool Exists,
    byte[] Content,
    UnixFileMode Mode,
    uint Uid,
    uint Gid,
    string? Symlink)
{
    public static readonly FileState Missing = new(false, [], 0, 0, 0, null);

    /// <summary>What is there instead of a regular file harden can manage (a FIFO, a device, a huge file); never read.</summary>
    public string? Special { get; init; }

    /// <summary>Refuses to manage a path that is a link, a FIFO, a device, or too big to be a configuration file.</summary>
    public void EnsureManageable(string path)
    {
        if (Symlink is { } link) throw new HardenException($"{path}: refusing to manage a path that is or goes through a symlink ({link})");
        if (Special is { } what) throw new HardenException($"{path} is {what}, not a regular file harden can manage; refusing");
    }

    public string Sha256 => Exists ? Digest(Content) : "";

    public static string Digest(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}

/// <summary>What one directory on the target looked like; <see cref="NotADirectory"/> when something else is there.</summary>
public sealed record DirectoryState(bool Exists, UnixFileMode Mode, uint Uid, uint Gid, string? Symlink, bool NotADirectory = false)
{
    public static readonly DirectoryState Missing = new(false, 0, 0, 0, null);
}

public sealed record UserAccount(string Name, uint Uid, uint Gid, string Home, string Shell = "/bin/sh")
{
    /// <summary>nologin and false refuse every session, key or not; an empty shell field means /bin/sh (passwd(5)), which logs in.</summary>
    public bool CanLogIn => !Shell.EndsWith("/nologin", StringComparison.Ordinal) && !Shell.EndsWith("/false", StringComparison.Ordinal);

    /// <summary>A person's account as Debian numbers them (UID 1000–59999) with a login shell.</summary>
    public bool IsHuman => Uid is >= 1000 and <= 59999 && CanLogIn;
}

public sealed record GroupEntry(string Name, uint Gid, ImmutableArray<string> Members);

public sealed record PackageInfo(string Version, string Architecture)
{
    /// <summary>The packages it needs (Depends and Pre-Depends, every alternative): what keeps another from being removed.</summary>
    public ImmutableArray<string> Depends { get; init; } = [];
}

/// <summary>A resource an earlier run applied and nobody undid: the planner lists those the profile no longer manages.</summary>
/// <summary>What the running kernel's audit system holds: its rule lines, and whether they are locked until boot (-e 2).</summary>
public sealed record KernelAudit(ImmutableArray<string> Rules, bool Immutable);

public sealed record ManagedRecord(Address Address, string Module, string RunId);

/// <summary>
/// Everything the planner may know about the host, read once. The planner sees only this value,
/// which is what keeps it pure and testable without a machine.
/// </summary>
public sealed record HostSnapshot(
    string Root,
    bool IsLive,
    ImmutableDictionary<string, FileState> Files,
    ImmutableArray<UserAccount> Users,
    ImmutableArray<GroupEntry> Groups,
    ImmutableDictionary<string, PackageInfo> Packages,
    ImmutableArray<string> SshdIncludes,
    ImmutableDictionary<string, KeyAccess> AuthorizedKeys,
    string? UnfinishedRun)
{
    public ImmutableDictionary<string, DirectoryState> Directories { get; init; } = ImmutableDictionary<string, DirectoryState>.Empty;

    /// <summary>Unit name → enabled, disabled, masked, or absent (no unit file).</summary>
    public ImmutableDictionary<string, string> Services { get; init; } = ImmutableDictionary<string, string>.Empty;

    public ImmutableArray<ManagedRecord> Managed { get; init; } = [];

    /// <summary>The running kernel's audit rules (auditctl -l, -s), on a live host that was asked for them; else null.</summary>
    public KernelAudit? KernelAudit { get; init; }

    /// <summary>setuid/setgid programs found under each folder that was asked for (absolute target paths, sorted).</summary>
    public ImmutableDictionary<string, ImmutableArray<string>> PrivilegedPrograms { get; init; } = ImmutableDictionary<string, ImmutableArray<string>>.Empty;

    public ImmutableArray<string> PrivilegedProgramsUnder(string folder) => PrivilegedPrograms.TryGetValue(folder, out var p) ? p : [];

    /// <summary>What each path asked for by kind only (<see cref="HostQueryKind.Entry"/>) is, never followed; a path through a link is a symlink.</summary>
    public ImmutableDictionary<string, Entry> Entries { get; init; } = ImmutableDictionary<string, Entry>.Empty;

    public Entry EntryAt(string path) => Entries.TryGetValue(path, out var e) ? e : Host.Entry.Missing;

    /// <summary>The running kernel's value of each setting asked for (live hosts only; null when the kernel has no such setting).</summary>
    public ImmutableDictionary<string, string?> KernelSettings { get; init; } = ImmutableDictionary<string, string?>.Empty;

    public string? KernelSetting(string key) => KernelSettings.TryGetValue(key, out var v) ? v : null;

    /// <summary>The regular files of each folder asked for (<see cref="HostQueryKind.FolderFiles"/>), by name; links and others are left out.</summary>
    public ImmutableDictionary<string, ImmutableDictionary<string, FileState>> Folders { get; init; } = ImmutableDictionary<string, ImmutableDictionary<string, FileState>>.Empty;

    public ImmutableDictionary<string, FileState> FolderFiles(string folder) => Folders.TryGetValue(folder, out var f) ? f : ImmutableDictionary<string, FileState>.Empty;

    /// <summary>The names of every entry (links too, never followed) of each folder asked for (<see cref="HostQueryKind.FolderNames"/>).</summary>
    public ImmutableDictionary<string, ImmutableArray<string>> Listings { get; init; } = ImmutableDictionary<string, ImmutableArray<string>>.Empty;

    public ImmutableArray<string> FolderNames(string folder) => Listings.TryGetValue(folder, out var n) ? n : [];

    /// <summary>Run manifests that fail verification (edited, damaged, planted), with the reason.</summary>
    public ImmutableArray<string> RefusedRuns { get; init; } = [];

    /// <summary>Accounts past their expiry date (/etc/shadow): no login of any kind.</summary>
    public ImmutableHashSet<string> ExpiredAccounts { get; init; } = [];

    /// <summary>Today as /etc/shadow counts days (since 1970, UTC), fixed when the host was read so one plan sees one day.</summary>
    public long Today { get; init; }

    public FileState File(string path) => Files.TryGetValue(path, out var f) ? f : FileState.Missing;

    public DirectoryState Directory(string path) => Directories.TryGetValue(path, out var d) ? d : DirectoryState.Missing;

    public string Service(string name) => Services.TryGetValue(name, out var s) ? s : "absent";

    public string OwnerName(uint uid) => Users.FirstOrDefault(u => u.Uid == uid)?.Name ?? uid.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public string GroupName(uint gid) => Groups.FirstOrDefault(g => g.Gid == gid)?.Name ?? gid.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
