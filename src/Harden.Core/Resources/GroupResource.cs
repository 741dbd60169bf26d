using System.Collections.Immutable;
using System.Globalization;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// A group that must exist (AllowGroups, PHI folders). Created with groupadd; the group database is
/// never written back whole: restore deletes the group only if nothing else uses it by then.
/// </summary>
public sealed class GroupResource(string module, string name) : IResource
{
    public const string Kind = "group";

    // groupadd and usermod also refresh the "-" backup copies shadow-utils keeps.
    internal static readonly string[] ToolBackups = ["/etc/group-", "/etc/gshadow-"];

    public Address Address { get; } = new(Kind, name);
    public string Module => module;
    public IEnumerable<HostQuery> Needs => [];
    public IEnumerable<Address> DependsOn => [];

    public Change Plan(HostSnapshot host) =>
        host.Groups.FirstOrDefault(g => g.Name == name) is { } existing
            ? new Change(Address, module, ChangeAction.NoOp, Exists(existing.Gid), Exists(existing.Gid), "") { Resource = this }
            : new Change(Address, module, ChangeAction.Create, null, State.Of(("exists", "yes")), $"create group {name}") { Resource = this };

    private static ImmutableSortedDictionary<string, string> Exists(uint gid) =>
        State.Of(("exists", "yes"), ("gid", gid.ToString(CultureInfo.InvariantCulture)));

    public async Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        foreach (var backup in ToolBackups) fx.PreserveDerived(backup, module);
        var result = await fx.RunAsync(["groupadd", "--", name], ct);
        if (!result.Succeeded) throw new HardenException($"groupadd {name} failed (exit {result.ExitCode}): {result.Message}");
        var gid = fx.Groups().FirstOrDefault(g => g.Name == name)?.Gid
            ?? throw new HardenException($"groupadd {name} reported success, but the group is not in /etc/group");
        return Exists(gid);
    }

    public static async Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        if (entry.Before is not null) return RestoreOutcome.Nothing;
        var name = entry.Address.Key;
        if (fx.Groups().FirstOrDefault(g => g.Name == name) is not { } group) return RestoreOutcome.Nothing;
        if (entry.After.Get("gid") is { } gid && gid != group.Gid.ToString(CultureInfo.InvariantCulture))
            return new RestoreOutcome(false, Note: $"group {name} was re-created since the run (gid {group.Gid}); left in place");
        // A folder or file of this run that is still there with this group (say, a PHI folder with
        // records in it) keeps the group: deleting it would free the gid for the next groupadd.
        if (RunOwnership.StillOwned(fx, "group", name, (_, gid) => gid == group.Gid) is { } owned)
            return new RestoreOutcome(false, Note: $"group {name} still owns {owned}; left in place");
        var primary = fx.Users().Where(u => u.Gid == group.Gid).Select(u => u.Name).ToList();
        if (group.Members.Length > 0 || primary.Count > 0)
            return new RestoreOutcome(false, Note: $"group {name} is in use ({string.Join(", ", group.Members.Concat(primary).Distinct())}); left in place");
        var result = await fx.RunAsync(["groupdel", "--", name], ct);
        if (!result.Succeeded) throw new HardenException($"groupdel {name} failed (exit {result.ExitCode}): {result.Message}");
        return RestoreOutcome.Done;
    }
}
