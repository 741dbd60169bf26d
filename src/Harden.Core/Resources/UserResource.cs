using System.Collections.Immutable;
using System.Globalization;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// A service account that must exist (the owner of the PHI folders): a system user with no home and
/// no login shell, made with useradd. The user database is never written back whole: restore deletes
/// the account only if it still has the uid the run gave it and owns nothing the run left in place.
/// </summary>
public sealed class UserResource(string module, string name) : IResource
{
    public const string Kind = "user";

    // useradd refreshes shadow-utils' backup copies.
    private static readonly string[] ToolBackups = ["/etc/passwd-", "/etc/shadow-", "/etc/group-", "/etc/gshadow-"];

    public Address Address { get; } = new(Kind, name);
    public string Module => module;
    public IEnumerable<HostQuery> Needs => [];
    public IEnumerable<Address> DependsOn => [];

    public Change Plan(HostSnapshot host) =>
        host.Users.FirstOrDefault(u => u.Name == name) is { } existing
            ? new Change(Address, module, ChangeAction.NoOp, Exists(existing.Uid), Exists(existing.Uid), "") { Resource = this }
            : new Change(Address, module, ChangeAction.Create, null, State.Of(("exists", "yes")), $"create system account {name} (no login, no home)") { Resource = this };

    private static ImmutableSortedDictionary<string, string> Exists(uint uid) =>
        State.Of(("exists", "yes"), ("uid", uid.ToString(CultureInfo.InvariantCulture)));

    public async Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        foreach (var backup in ToolBackups) fx.PreserveDerived(backup, module);
        var result = await fx.RunAsync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", "--", name], ct);
        if (!result.Succeeded) throw new HardenException($"useradd {name} failed (exit {result.ExitCode}): {result.Message}");
        var uid = fx.Users().FirstOrDefault(u => u.Name == name)?.Uid
            ?? throw new HardenException($"useradd {name} reported success, but the account is not in /etc/passwd");
        return Exists(uid);
    }

    public static async Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        if (entry.Before is not null) return RestoreOutcome.Nothing;
        var name = entry.Address.Key;
        if (fx.Users().FirstOrDefault(u => u.Name == name) is not { } user) return RestoreOutcome.Nothing;
        if (entry.After.Get("uid") is { } uid && uid != user.Uid.ToString(CultureInfo.InvariantCulture))
            return new RestoreOutcome(false, Note: $"account {name} was re-created since the run (uid {user.Uid}); left in place");
        // A folder of this run still owned by the account (a PHI folder with records in it) keeps it:
        // deleting it would leave files owned by a bare uid the next useradd could take.
        if (RunOwnership.StillOwned(fx, "owner", name, (uid, _) => uid == user.Uid) is { } owned)
            return new RestoreOutcome(false, Note: $"account {name} still owns {owned}; left in place");
        var result = await fx.RunAsync(["userdel", "--", name], ct);
        if (!result.Succeeded) throw new HardenException($"userdel {name} failed (exit {result.ExitCode}): {result.Message}");
        return RestoreOutcome.Done;
    }
}
