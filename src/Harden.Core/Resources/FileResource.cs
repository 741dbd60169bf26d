using System.Collections.Immutable;
using System.Text;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;

namespace Harden.Resources;

/// <summary>
/// A whole file rendered from a template: content, mode, owner and group. Owner and group are names
/// resolved at apply time, so a file can belong to a group the same run creates. A sensitive file's
/// content never enters a plan: only its digest does.
/// </summary>
public sealed class FileResource(string module, string path, string content, UnixFileMode mode, string owner, string group,
    string? validator, bool sensitive = false) : IResource, ITextEdit
{
    public const string Kind = "file";

    public Address Address { get; } = new(Kind, path);
    public string Module => module;
    public string Path => path;
    public string Content => content;
    public string? Validator => validator;
    public bool Sensitive => sensitive;
    public string Owner => owner;
    public string Group => group;
    public UnixFileMode Mode => mode;

    public string Edit(string current) => content;

    /// <summary>A spool folder whose job owners stay listed (see <see cref="Profiles.ManagedFile.KeepOwnersOf"/>).</summary>
    public string? KeepOwnersOf { get; init; }

    public ImmutableArray<string> KeepOwnersExcept { get; init; } = [];

    /// <summary>The content may hold <see cref="SshdPortsMarker"/>, replaced at plan time by the ports sshd listens on.</summary>
    public bool FillsSshdPorts { get; init; }

    public const string SshdPortsMarker = "@SSHD_PORTS@";

    /// <summary>
    /// The firewall's SSH rule on the ports sshd really listens on (one port as itself, several as an
    /// nftables set), so rules and daemon cannot disagree at the next boot. Digits only reach the file.
    /// </summary>
    public FileResource WithSshdPorts(HostSnapshot host)
    {
        if (!FillsSshdPorts || !content.Contains(SshdPortsMarker, StringComparison.Ordinal)) return this;
        var ports = Access.FirewallReach.SshdPorts(host).Order().Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var text = content.Replace(SshdPortsMarker, ports.Count == 1 ? ports[0] : $"{{ {string.Join(", ", ports)} }}", StringComparison.Ordinal);
        return new FileResource(module, path, text, mode, owner, group, validator, sensitive) { KeepOwnersOf = KeepOwnersOf, KeepOwnersExcept = KeepOwnersExcept };
    }

    /// <summary>
    /// The same file with the owners of the jobs in <see cref="KeepOwnersOf"/> listed after the rendered
    /// names, one per line: an allow list must not take cron away from whoever uses it today. Only
    /// names that are valid account names can be added, so no value changes the file's structure.
    /// </summary>
    public FileResource WithJobOwners(HostSnapshot host)
    {
        if (KeepOwnersOf is not { } folder) return this;
        var listed = Access.CronAccess.Names(content);
        var owners = Access.AccountFactsReader.SpoolOwners(host, folder).Where(o => !listed.Contains(o) && !KeepOwnersExcept.Contains(o)).ToList();
        if (owners.Count == 0) return this;
        var text = content.Length == 0 || content.EndsWith('\n') ? content : content + "\n";
        return new FileResource(module, path, text + string.Join("", owners.Select(o => o + "\n")), mode, owner, group, validator, sensitive) { KeepOwnersOf = folder, KeepOwnersExcept = KeepOwnersExcept };
    }

    public IEnumerable<HostQuery> Needs => KeepOwnersOf is { } spool ? [new(HostQueryKind.File, path), new(HostQueryKind.FolderFiles, spool)] : [new(HostQueryKind.File, path)];
    public IEnumerable<Address> DependsOn => [new(GroupResource.Kind, group)];

    public static ImmutableSortedDictionary<string, string> Observe(FileState file, HostSnapshot? host) => State.Of(
        ("sha256", file.Sha256), ("mode", Planner.Octal(file.Mode)),
        ("owner", host?.OwnerName(file.Uid) ?? file.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("group", host?.GroupName(file.Gid) ?? file.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    public Change Plan(HostSnapshot host)
    {
        var before = host.File(path);
        before.EnsureManageable(path);
        if (host.Users.All(u => u.Name != owner))
            throw new HardenException($"{path}: owner '{owner}' does not exist on the target");
        var bytes = Encoding.UTF8.GetBytes(content);
        var after = State.Of(("sha256", FileState.Digest(bytes)), ("mode", Planner.Octal(mode)), ("owner", owner), ("group", group));
        var beforeState = before.Exists ? Observe(before, host) : null;
        var reasons = new List<string>();
        if (beforeState is null) reasons.Add("new file");
        else
        {
            if (beforeState["sha256"] != after["sha256"]) reasons.Add("content");
            if (State.Describe(beforeState, after, "sha256") is { Length: > 0 } props) reasons.Add(props);
        }
        var action = beforeState is null ? ChangeAction.Create : reasons.Count > 0 ? ChangeAction.Update : ChangeAction.NoOp;
        var reason = string.Join(", ", reasons);
        var diff = sensitive || action == ChangeAction.NoOp ? "" : TextFile.Diff(path, before, Encoding.UTF8.GetString(before.Content), content);
        return new Change(Address, module, action, beforeState, after, reason, diff, sensitive) { Resource = this };
    }

    public Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        var (uid, gid) = fx.ResolveOwner(owner, group);
        // Folders made for a new drop-in (journald.conf.d) are journalled before they are made, so a
        // restore (after a kill between the two too) takes them away again.
        if (fx.MissingFolders(path) is { Count: > 0 } missing) fx.Intend(Address, change.After!.Add("created", string.Join(':', missing)));
        var created = fx.CreateParents(path);
        fx.WriteFile(path, Encoding.UTF8.GetBytes(content), mode, uid, gid);
        return Task.FromResult<ImmutableSortedDictionary<string, string>?>(created.Count > 0 ? change.After!.Add("created", string.Join(':', created)) : change.After);
    }

    /// <summary>Puts the file back from the run's backup, unless someone changed it since the run.</summary>
    public static Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var path = entry.Address.Key;
        if (fx.Backup(path) is not { } backup) return Task.FromResult(RemoveCreatedFolders(entry, fx) ? RestoreOutcome.Done : RestoreOutcome.Nothing);
        var now = fx.ReadFile(path);
        if (now.Symlink is { } link) return Task.FromResult(TextFile.Kept(path, $"is now a symlink ({link}); not followed, restore it by hand"));
        if (now.Special is { } what) return Task.FromResult(TextFile.Kept(path, $"is now {what}; left alone, restore it by hand"));
        var asBefore = backup.Existed
            ? now.Exists && now.Sha256 == backup.Sha256 && Planner.Octal(now.Mode) == backup.Mode && now.Uid == backup.Uid && now.Gid == backup.Gid
            : !now.Exists;
        if (asBefore) return Task.FromResult(RestoreOutcome.Nothing);

        var expected = entry.After.Get("sha256");
        if (!entry.Derived && !force && expected is not null && now.Sha256 != expected && now.Sha256 != backup.Sha256)
        {
            var written = fx.ReadCopy(backup.Written) ?? [];
            var diff = entry.Sensitive ? "(sensitive: content not shown)\n" : UnifiedDiff.Compute("harden" + path, "now" + path, Encoding.UTF8.GetString(written), Encoding.UTF8.GetString(now.Content));
            return Task.FromResult(TextFile.Kept(path, "changed since the run; kept as it is (rollback --force puts back the version from before the run)", diff));
        }
        if (!entry.Derived && expected is not null && now.Exists && now.Sha256 != expected && now.Sha256 != backup.Sha256)
        {
            // Forced over someone's later edit: keep that edit beside the file, and say where.
            var saved = $"{path}.harden-saved-{fx.RunId}";
            fx.WriteFile(saved, now.Content, UnixFileMode.UserRead | UnixFileMode.UserWrite, now.Uid, now.Gid);
            fx.Report($"  kept the edit made since the run in {saved}");
        }
        if (!backup.Existed)
        {
            fx.DeleteFile(path);
            fx.Report($"  removed {path}");
            RemoveCreatedFolders(entry, fx);
            return Task.FromResult(RestoreOutcome.Done);
        }
        var bytes = fx.ReadCopy(backup.Copy)
            ?? throw new HardenException($"the backup of {path} is missing from the run folder; the file was left as it is");
        if (FileState.Digest(bytes) != backup.Sha256)
            throw new HardenException($"the backup of {path} does not match its recorded digest; the file was left as it is");
        fx.WriteFile(path, bytes, Planner.ParseOctal(backup.Mode), backup.Uid, backup.Gid);
        fx.Report($"  restored {path}");
        return Task.FromResult(RestoreOutcome.Done);
    }

    /// <summary>The folders the run made for the file, innermost first; one something else has put files in since stays.</summary>
    private static bool RemoveCreatedFolders(JournalEntry entry, IHostEffects fx)
    {
        var removed = false;
        foreach (var dir in (entry.After.Get("created") is { Length: > 0 } c ? c.Split(':') : []).Reverse())
        {
            if (fx.ReadDirectory(dir) is not { Exists: true }) continue;
            if (!fx.RemoveEmptyDirectory(dir)) break;
            fx.Report($"  removed {dir}");
            removed = true;
        }
        return removed;
    }
}
