using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;

namespace Harden.Resources;

/// <summary>
/// An account with an empty password, locked (<c>usermod -L</c>): nobody logs in as it with no
/// password at all. Restore sets the empty password back, only if the account is still locked the
/// way this run left it. Planned only when the operator asks for it (it can cut off a service that
/// relies on such a login).
/// </summary>
public sealed class PasswordLockResource(string module, string account) : IResource
{
    public const string Kind = "password-lock";

    public Address Address { get; } = new(Kind, account);
    public string Module => module;
    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.File, HostReader.ShadowPath)];
    public IEnumerable<Address> DependsOn => [];

    public Change Plan(HostSnapshot host)
    {
        var empty = AccountsReview.EmptyPasswords(host).Contains(account);
        return empty
            ? new Change(Address, module, ChangeAction.Update, State.Of(("password", "empty")), State.Of(("password", "locked")), $"lock {account}: its password is empty") { Resource = this }
            : new Change(Address, module, ChangeAction.NoOp, null, null, "") { Resource = this };
    }

    public async Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        // usermod refreshes shadow-utils' backup copy.
        fx.PreserveDerived("/etc/shadow-", module);
        var result = await fx.RunAsync(["usermod", "-L", "--", account], ct);
        if (!result.Succeeded) throw new HardenException($"usermod -L {account} failed (exit {result.ExitCode}): {result.Message}");
        return change.After;
    }

    public static async Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var account = entry.Address.Key;
        if (entry.Before?.Get("password") != "empty") return RestoreOutcome.Nothing;
        var shadow = fx.ReadFile(HostReader.ShadowPath) is { Exists: true } f ? System.Text.Encoding.UTF8.GetString(f.Content) : "";
        var field = shadow.Split('\n').Select(l => l.Split(':')).FirstOrDefault(p => p.Length > 1 && p[0] == account)?[1];
        if (field is null or "") return RestoreOutcome.Nothing;
        if (field != "!" && !force) return TextFile.Kept($"account {account}", "has a password or another lock since the run; kept");
        var result = await fx.RunAsync(["usermod", "-p", "", "--", account], ct);
        if (!result.Succeeded) throw new HardenException($"usermod -p '' {account} failed (exit {result.ExitCode}): {result.Message}");
        fx.Report($"  unlocked {account} (its password is empty again, as before the run)");
        return RestoreOutcome.Done;
    }
}
