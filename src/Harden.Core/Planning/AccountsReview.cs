using Harden.Host;
using Harden.Resources;

namespace Harden.Planning;

/// <summary>
/// What auditors' scanners report about accounts and harden cannot decide for the operator: accounts
/// with an empty password, a second account with UID 0, system accounts that have a login shell. Plan
/// names each one (a module with <c>verify: accounts</c> turns this on); accounts with an empty
/// password are locked only when the module's variable asks for it. Pure: reads the snapshot only.
/// </summary>
public static class AccountsReview
{
    public const string Verifier = "accounts";

    /// <summary>The flag that turns the report of empty passwords into locks.</summary>
    public const string LockVariable = "lock_empty_password_accounts";

    /// <summary>System accounts whose "shell" is a single command by design (sync, shutdown, halt).</summary>
    private static readonly string[] CommandShells = ["sync", "shutdown", "halt"];

    public static IEnumerable<string> Findings(HostSnapshot host)
    {
        foreach (var name in EmptyPasswords(host))
            yield return $"account {name} has an empty password: set one, or lock it (--set lock_empty_password_accounts=true)";
        foreach (var user in host.Users.Where(u => u.Uid == 0 && u.Name != "root"))
            yield return $"account {user.Name} has UID 0 and so is root by another name; only root may have UID 0";
        foreach (var user in host.Users.Where(u => u.Uid is > 0 and < 1000 && u.CanLogIn && !CommandShells.Contains(u.Name)))
            yield return $"system account {user.Name} (UID {user.Uid}) has the login shell {user.Shell}; give it /usr/sbin/nologin (usermod -s /usr/sbin/nologin {user.Name})";
    }

    /// <summary>Accounts whose /etc/shadow password field is empty: no password at all (locked ones start with ! or *).</summary>
    public static IEnumerable<string> EmptyPasswords(HostSnapshot host) =>
        TextFile.Read(host.File(HostReader.ShadowPath), HostReader.ShadowPath).Split('\n')
            .Select(l => l.Split(':')).Where(f => f.Length > 1 && f[0].Length > 0 && f[1].Length == 0).Select(f => f[0]);
}
