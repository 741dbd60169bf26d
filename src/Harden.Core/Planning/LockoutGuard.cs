using Harden.Host;
using Harden.Resources;

namespace Harden.Planning;

/// <summary>
/// Refuses an SSH restriction that nobody could log in through. It reads what the plan makes
/// effective (password and root login, AllowGroups, AllowUsers), whichever module sets it: someone
/// must remain who is allowed, is not root when root login is off, and has a non-empty
/// well-formed key where sshd looks, in files StrictModes accepts, on an account with a shell that
/// has not expired (see <see cref="SshAccess"/>).
/// </summary>
public static class LockoutGuard
{
    /// <param name="operatorName">The person running harden (--operator or SUDO_USER); null under cloud-init.</param>
    /// <returns>Null when safe; otherwise why it is not, and how to fix it.</returns>
    public static string? Assess(Plan plan, HostSnapshot host, string? operatorName)
    {
        var expected = plan.Expected.Where(e => e.Source == Planner.SshdValidator).ToDictionary(e => e.Key, e => e.Value);
        if (expected.Count == 0 || !plan.Pending.Any(c => c.Resource is { } r ? Planner.IsSshd(r) : IsSshdAddress(c.Address))) return null;
        var passwordOff = expected.GetValueOrDefault("passwordauthentication", "").Equals("no", StringComparison.OrdinalIgnoreCase);
        var rootOff = expected.GetValueOrDefault("permitrootlogin", "").Equals("no", StringComparison.OrdinalIgnoreCase);
        var groups = Words(expected, "allowgroups");
        var allowedUsers = Words(expected, "allowusers");
        if (!passwordOff && !rootOff && groups.Length == 0 && allowedUsers.Length == 0) return null;

        // Members the plan itself adds count as members.
        var added = plan.Pending.Where(c => c.Address.Kind == MemberResource.Kind)
            .Select(c => c.Address.Key.Split('/', 2)).Select(p => (Group: p[0], User: p[1])).ToList();
        bool InAllowedGroup(UserAccount user) => groups.Length == 0 || groups.Any(name =>
            added.Contains((name, user.Name))
            || host.Groups.Any(x => x.Name == name && (x.Members.Contains(user.Name) || x.Gid == user.Gid)));
        bool Allowed(UserAccount user) => InAllowedGroup(user)
            && (allowedUsers.Length == 0 || allowedUsers.Any(p => p.Split('@')[0] == user.Name || p == "*"));

        var candidates = operatorName is not null
            ? host.Users.Where(u => u.Name == operatorName).ToList()
            : host.Users.Where(u => Allowed(u) && (groups.Length > 0 || allowedUsers.Length > 0 || u.Uid == 0 || u.Uid >= 1000)).ToList();
        if (operatorName is not null && candidates.Count == 0)
            return $"operator '{operatorName}' has no account on the target; create it, or name another with --operator";

        var problems = new List<string>();
        foreach (var user in candidates)
        {
            var why = new List<string>();
            if (!InAllowedGroup(user)) why.Add($"is not in {string.Join(" or ", groups)} (fix: usermod -aG {groups[0]} {user.Name}, or --set ssh_allow_members={user.Name})");
            if (allowedUsers.Length > 0 && !Allowed(user) && InAllowedGroup(user)) why.Add($"is not in AllowUsers ({string.Join(" ", allowedUsers)})");
            if (rootOff && user.Uid == 0) why.Add("is root, and root login will be off");
            if (!user.CanLogIn) why.Add($"has no login shell ({user.Shell}) (fix: chsh -s /bin/bash {user.Name})");
            if (host.ExpiredAccounts.Contains(user.Name)) why.Add($"is expired (fix: chage -E -1 {user.Name})");
            if (host.AuthorizedKeys.GetValueOrDefault(user.Name, KeyAccess.None) is { UsableKeys: 0 } keys)
                why.Add($"{keys.Problem}, and password login will be off (fix: ssh-copy-id {user.Name}@host)");
            if (why.Count == 0) return null;
            problems.Add($"{user.Name} {string.Join("; ", why)}");
        }
        var who = operatorName is not null
            ? $"the operator ({operatorName}) could not log in afterwards"
            : "no member of " + string.Join(", ", groups.DefaultIfEmpty("any login group")) + " could log in afterwards";
        var details = problems.Count > 0
            ? ": " + string.Join(". ", problems)
            : " (nobody is in it; add a user who has ~/.ssh/authorized_keys with --set ssh_allow_members=USER)";
        return $"this apply would lock out SSH logins: {who}{details}. " +
               "Fix that, or pass --accept-lockout-risk to apply anyway";
    }

    private static string[] Words(Dictionary<string, string> expected, string key) =>
        expected.TryGetValue(key, out var v) ? v.Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];

    private static bool IsSshdAddress(Address a) =>
        a.Kind is SshdConflictResource.GlobalKind or SshdConflictResource.MatchKind
        || a.Kind is FileResource.Kind or BlockResource.Kind && ResourceKinds.FileOf(a) is { } path && Planner.IsSshdPath(path);
}
