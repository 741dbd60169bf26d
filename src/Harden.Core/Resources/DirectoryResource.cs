using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;

namespace Harden.Resources;

/// <summary>
/// A directory with owner, group and mode, setgid included (PHI folders: 2770 root:phi-access).
/// Created with its missing parents; restore removes what the run created if it is still empty, or
/// puts the old mode and owner back.
/// </summary>
/// <param name="createOnly">Make the folder when it is missing, never change one that exists (an application's own folder).</param>
public sealed class DirectoryResource(string module, string path, string owner, string group, UnixFileMode mode, bool createOnly = false) : IResource
{
    public const string Kind = "dir";

    public Address Address { get; } = new(Kind, path);
    public string Module => module;
    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.Directory, path)];
    public IEnumerable<Address> DependsOn => [new(GroupResource.Kind, group), new(UserResource.Kind, owner)];

    public Change Plan(HostSnapshot host)
    {
        var now = host.Directory(path);
        if (now.Symlink is { } link)
            throw new HardenException($"{path}: refusing to manage a path that is or goes through a symlink ({link})");
        if (now.NotADirectory) throw new HardenException($"{path} exists and is not a directory");
        var after = State.Of(("mode", Planner.Octal(mode)), ("owner", owner), ("group", group));
        if (!now.Exists) return new Change(Address, module, ChangeAction.Create, null, after, "new directory") { Resource = this };
        var before = State.Of(("mode", Planner.Octal(now.Mode)), ("owner", host.OwnerName(now.Uid)), ("group", host.GroupName(now.Gid)));
        if (createOnly) return new Change(Address, module, ChangeAction.NoOp, before, before, "") { Resource = this };
        var reason = State.Describe(before, after);
        return new Change(Address, module, reason.Length == 0 ? ChangeAction.NoOp : ChangeAction.Update, before, after, reason) { Resource = this };
    }

    public Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        var (uid, gid) = fx.ResolveOwner(owner, group);
        // Journalled before they are made: a kill in between still leaves rollback knowing of them.
        if (fx.MissingFolders(path, self: true) is { Count: > 0 } missing) fx.Intend(Address, change.After!.Add("created", string.Join(':', missing)));
        var created = fx.EnsureDirectory(path, mode, uid, gid);
        fx.Report(created.Count > 0 ? $"  + created {string.Join(", ", created)}" : $"  ~ set {path} to {Planner.Octal(mode)} {owner}:{group}");
        // Parents it had to create are remembered, so restore can take them away again if still empty.
        var reached = change.After!.Add("created", string.Join(':', created));
        return Task.FromResult<ImmutableSortedDictionary<string, string>?>(reached);
    }

    private static string OwnerName(IHostEffects fx, uint uid) => fx.Users().FirstOrDefault(u => u.Uid == uid)?.Name ?? uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    private static string GroupName(IHostEffects fx, uint gid) => fx.Groups().FirstOrDefault(g => g.Gid == gid)?.Name ?? gid.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var path = entry.Address.Key;
        var state = fx.ReadDirectory(path);
        if (state.Symlink is { } link) return Task.FromResult(TextFile.Kept(path, $"is now a symlink ({link}); not followed"));
        if (entry.Before is null)
        {
            // A run killed part-way may have made only the outer folders of those it journalled.
            var created = entry.After.Get("created") is { Length: > 0 } c ? c.Split(':') : [path];
            var removed = false;
            foreach (var dir in created.Reverse())
            {
                if (fx.ReadDirectory(dir) is not { Exists: true }) continue;
                if (!fx.RemoveEmptyDirectory(dir))
                    return Task.FromResult(new RestoreOutcome(removed, Note: $"{dir} is not empty; left in place"));
                fx.Report($"  removed {dir}");
                removed = true;
            }
            return Task.FromResult(removed ? RestoreOutcome.Done : RestoreOutcome.Nothing);
        }
        if (!state.Exists) return Task.FromResult(RestoreOutcome.Nothing);
        var now = State.Of(("mode", Planner.Octal(state.Mode)), ("owner", OwnerName(fx, state.Uid)), ("group", GroupName(fx, state.Gid)));
        if (State.Describe(now, entry.Before) is { Length: 0 }) return Task.FromResult(RestoreOutcome.Nothing);
        if (!force && entry.After is { } after && State.Describe(after, now) is { Length: > 0 } since)
            return Task.FromResult(TextFile.Kept(path, $"changed since the run ({since}); kept (rollback --force sets {entry.Before["mode"]} {entry.Before["owner"]}:{entry.Before["group"]})"));
        var (uid, gid) = fx.ResolveOwner(entry.Before["owner"], entry.Before["group"]);
        fx.EnsureDirectory(path, Planner.ParseOctal(entry.Before["mode"]), uid, gid);
        fx.Report($"  restored {path} to {entry.Before["mode"]} {entry.Before["owner"]}:{entry.Before["group"]}");
        return Task.FromResult(RestoreOutcome.Done);
    }
}
