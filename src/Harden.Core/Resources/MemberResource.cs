using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>A user in a group (the image's default user in phi-access at first boot). Restore is <c>gpasswd -d</c>, never a rewrite of /etc/group.</summary>
public sealed class MemberResource(string module, string group, string user) : IResource
{
    public const string Kind = "member";

    public Address Address { get; } = new(Kind, $"{group}/{user}");
    public string Module => module;
    public IEnumerable<HostQuery> Needs => [];
    public IEnumerable<Address> DependsOn => [new(GroupResource.Kind, group)];

    public Change Plan(HostSnapshot host)
    {
        if (host.Users.All(u => u.Name != user))
            throw new HardenException($"'{user}' is to be added to {group} but has no account on the target");
        var member = host.Groups.FirstOrDefault(g => g.Name == group) is { } g && g.Members.Contains(user);
        return member
            ? new Change(Address, module, ChangeAction.NoOp, State.Of(("member", "yes")), State.Of(("member", "yes")), "") { Resource = this }
            : new Change(Address, module, ChangeAction.Create, null, State.Of(("member", "yes")), $"add {user} to {group}") { Resource = this };
    }

    public async Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        foreach (var backup in GroupResource.ToolBackups) fx.PreserveDerived(backup, module);
        var result = await fx.RunAsync(["usermod", "-aG", group, "--", user], ct);
        if (!result.Succeeded) throw new HardenException($"usermod -aG {group} {user} failed (exit {result.ExitCode}): {result.Message}");
        return change.After;
    }

    public static async Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        if (entry.Before is not null) return RestoreOutcome.Nothing;
        var slash = entry.Address.Key.IndexOf('/', StringComparison.Ordinal);
        var (group, user) = (entry.Address.Key[..slash], entry.Address.Key[(slash + 1)..]);
        if (fx.Groups().FirstOrDefault(g => g.Name == group) is not { } g || !g.Members.Contains(user)) return RestoreOutcome.Nothing;
        var result = await fx.RunAsync(["gpasswd", "-d", user, group], ct);
        if (!result.Succeeded) throw new HardenException($"gpasswd -d {user} {group} failed (exit {result.ExitCode}): {result.Message}");
        return RestoreOutcome.Done;
    }
}
