using System.Collections.Immutable;
using System.Security.Cryptography;

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

    public string Sha256 => Exists ? Digest(Content) : "";

    public static string Digest(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}

public sealed record UserAccount(string Name, uint Uid, uint Gid, string Home);

public sealed record GroupEntry(string Name, uint Gid, ImmutableArray<string> Members);

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
    ImmutableHashSet<string> InstalledPackages,
    ImmutableArray<string> SshdDropIns,
    ImmutableDictionary<string, long> AuthorizedKeys,
    string? UnfinishedRun)
{
    public FileState File(string path) => Files.TryGetValue(path, out var f) ? f : FileState.Missing;
}
