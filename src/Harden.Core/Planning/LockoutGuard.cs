using Harden.Host;

namespace Harden.Planning;

/// <summary>
/// Refuses an SSH restriction that nobody could log in through. Someone must remain who is in an
/// allowed group, is not root when root login is off, and has a non-empty authorized_keys where
/// sshd looks (the default AuthorizedKeysFile, ~/.ssh/authorized_keys).
/// </summary>
public static class LockoutGuard
{
    /// <param name="operatorName">The person running harden (--operator or SUDO_USER); null under cloud-init.</param>
    /// <param name="addedMembers">Users the plan itself adds to the allowed groups.</param>
    /// <returns>Null when safe; otherwise why it is not, and how to fix it.</returns>
    public static string? Assess(Plan plan, HostSnapshot host, string? operatorName, IReadOnlyCollection<string> addedMembers)
    {
        var expected = plan.Expected.Where(e => e.Source == Planner.SshdValidator).ToDictionary(e => e.Key, e => e.Value);
        if (expected.Count == 0 || !plan.Changes.Any(c => c.Validator == Planner.SshdValidator)) return null;
        var passwordOff = expected.GetValueOrDefault("passwordauthentication", "").Equals("no", StringComparison.OrdinalIgnoreCase);
        var rootOff = expected.GetValueOrDefault("permitrootlogin", "").Equals("no", StringComparison.OrdinalIgnoreCase);
        var groups = expected.TryGetValue("allowgroups", out var g) ? g.Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
        if (!passwordOff && !rootOff && groups.Length == 0) return null;

        bool InAllowedGroup(UserAccount user) => groups.Length == 0 || groups.Any(name =>
            addedMembers.Contains(user.Name)
            || host.Groups.Any(x => x.Name == name && (x.Members.Contains(user.Name) || x.Gid == user.Gid)));

        var candidates = operatorName is not null
            ? host.Users.Where(u => u.Name == operatorName).ToList()
            : host.Users.Where(u => InAllowedGroup(u) && (groups.Length > 0 || u.Uid == 0 || u.Uid >= 1000)).ToList();
        if (operatorName is not null && candidates.Count == 0)
            return $"operator '{operatorName}' has no account on the target; create it, or name another with --operator";

        var problems = new List<string>();
        foreach (var user in candidates)
        {
            var why = new List<string>();
            if (!InAllowedGroup(user)) why.Add($"is not in {string.Join(" or ", groups)} (fix: usermod -aG {groups[0]} {user.Name}, or --set ssh_allow_members={user.Name})");
            if (rootOff && user.Uid == 0) why.Add("is root, and root login will be off");
            if (host.AuthorizedKeys.GetValueOrDefault(user.Name) <= 0)
                why.Add($"has no key in {user.Home}/.ssh/authorized_keys, and password login will be off (fix: ssh-copy-id {user.Name}@host)");
            if (why.Count == 0) return null;
            problems.Add($"{user.Name} {string.Join("; ", why)}");
        }
        var who = operatorName is not null ? $"the operator ({operatorName})" : "no member of " + string.Join(", ", groups.DefaultIfEmpty("any login group"));
        var details = problems.Count > 0
            ? ": " + string.Join(". ", problems)
            : " (nobody is in it; add a user who has ~/.ssh/authorized_keys with --set ssh_allow_members=USER)";
        return $"this apply would lock out SSH logins: {who} could log in afterwards{details}. " +
               "Fix that, or pass --accept-lockout-risk to apply anyway";
    }
}
