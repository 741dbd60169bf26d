using System.Collections.Immutable;
using System.Text;
using Harden.Host;
using Harden.Planning;
using Harden.Resources;

namespace Harden.Access;

/// <summary>One account as the plan affects it: SSH and cron before and after, and what aging does to its password.</summary>
/// <param name="SshNow">How it can log in by SSH today ("key", "password", "key, password"); null when it cannot.</param>
/// <param name="SshAfter">The same after the plan.</param>
/// <param name="Why">Why it cannot log in after the plan (or cannot run a command by key without a terminal); null when nothing is lost.</param>
/// <param name="Intended">The loss is named as intended (shut_out_accounts, or root login turned off by the profile).</param>
public sealed record AccountImpact(
    string Account,
    AccountKind Kind,
    string KindReason,
    string? SshNow,
    string? SshAfter,
    string? Why,
    bool LosesSsh,
    bool? CronNow,
    bool? CronAfter,
    string? Password,
    bool Intended)
{
    public bool LosesCron => CronNow == true && CronAfter == false;
    public bool Loses => LosesSsh || LosesCron;
}

/// <summary>
/// What a plan does to the people, jobs and programs of a host, before anything is written: the
/// accounts that lose SSH or cron, the passwords aging will expire and when, the services that
/// restart, the packages installed and removed. apply refuses a plan whose impact holds a loss
/// nobody named as intended.
/// </summary>
public sealed record Impact(
    ImmutableArray<AccountImpact> Accounts,
    ImmutableArray<string> Services,
    ImmutableArray<string> PackagesInstalled,
    ImmutableArray<string> PackagesRemoved,
    ImmutableArray<string> Notes)
{
    public IEnumerable<AccountImpact> UnintendedLosses => Accounts.Where(a => a.Loses && !a.Intended);
}

/// <summary>
/// Predicts who can log in by SSH, and whose cron jobs still run, before and after a plan, the way
/// sshd and PAM will decide it (see <see cref="SshdAccessRules"/>, <see cref="ShadowEntry.Phase"/>,
/// <see cref="CronAccess"/>). Pure: reads the plan and the snapshot only.
/// </summary>
public static class AccessModel
{
    /// <summary>Variables the model reads: accounts meant to lose access, and accounts known to run automation.</summary>
    public const string ShutOutVariable = "shut_out_accounts", AutomationVariable = "automation_accounts";

    /// <param name="people">Accounts named as people: the operator and the PHI group's SSH members.</param>
    public static Impact Assess(Plan plan, HostSnapshot host, IReadOnlyCollection<string> automation, IReadOnlyCollection<string> shutOut, IReadOnlyCollection<string> people)
    {
        var facts = AccountFactsReader.Read(host, automation, people);
        var now = SshdAccessRules.Now(host);
        var managed = plan.Expected.Where(e => e.Source == Planner.SshdValidator).ToDictionary(e => e.Key, e => e.Value);
        var after = now.With(managed);

        var added = plan.Pending.Where(c => c.Address.Kind == MemberResource.Kind)
            .Select(c => c.Address.Key.Split('/', 2)).Select(p => (Group: p[0], User: p[1])).ToHashSet();
        var shadowAfter = ShadowAfter(plan, facts);
        var aging = plan.Changes.Select(c => c.Resource).OfType<AccountAgingResource>().SelectMany(r => r.Decisions(host))
            .GroupBy(d => d.Account, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var (cronNow, cronAfter) = (CronFiles(host, null), CronFiles(host, plan));
        var (atNow, atAfter) = (AtFiles(host, null), AtFiles(host, plan));

        var accounts = ImmutableArray.CreateBuilder<AccountImpact>();
        foreach (var f in facts.Values.OrderBy(f => f.Account.Uid).ThenBy(f => f.Name, StringComparer.Ordinal))
        {
            var user = f.Account;
            var groupsNow = host.Groups.Where(g => g.Gid == user.Gid || g.Members.Contains(user.Name)).Select(g => g.Name).ToHashSet(StringComparer.Ordinal);
            var groupsAfter = groupsNow.Concat(added.Where(a => a.User == user.Name).Select(a => a.Group)).ToHashSet(StringComparer.Ordinal);
            var keys = host.AuthorizedKeys.GetValueOrDefault(user.Name);
            var (wayNow, _, batchNow) = Ways(now, user, groupsNow, keys, f.Shadow, host.Today);
            // The folders on the way to its keys, as the plan leaves them: a key sshd cannot reach is no key.
            var keysAfter = keys is not null && KeysCutOff(plan, host, user, groupsAfter, keys) is { } cut
                ? keys with { UsableKeys = 0, KeysWithoutStrictModes = 0, Problem = cut }
                : keys;
            var (wayAfter, whyAfter, batchAfter) = Ways(after, user, groupsAfter, keysAfter, shadowAfter.GetValueOrDefault(user.Name), host.Today);
            var losesSsh = wayNow is not null && wayAfter is null
                // Automation lives on key logins without a terminal: losing those is losing access.
                || f.Kind == AccountKind.Automation && batchNow && !batchAfter;
            bool? cronWas = f.HasCrontab ? CronAccess.Allowed(user.Name, cronNow.Allow, cronNow.Deny) : f.HasAtJobs ? CronAccess.Allowed(user.Name, atNow.Allow, atNow.Deny, false) : null;
            bool? cronIs = f.HasCrontab ? CronAccess.Allowed(user.Name, cronAfter.Allow, cronAfter.Deny) : f.HasAtJobs ? CronAccess.Allowed(user.Name, atAfter.Allow, atAfter.Deny, false) : null;
            var password = aging.TryGetValue(user.Name, out var decision) ? decision.Note : null;
            if (wayNow is null && wayAfter is null && cronWas is null && password is null) continue;
            var why = losesSsh ? whyAfter : null;
            if (cronWas == true && cronIs == false) why = (why is null ? "" : why + "; ") + (f.HasCrontab ? $"its crontab would no longer run or be editable ({CronAccess.CronAllow} does not list it)" : $"its at jobs would be refused ({CronAccess.AtAllow} does not list it)");
            var intended = shutOut.Contains(user.Name)
                || user.Uid == 0 && losesSsh && after.Refusal(user, groupsAfter, f.Shadow) is { } r && r.Contains("PermitRootLogin", StringComparison.Ordinal);
            accounts.Add(new AccountImpact(user.Name, f.Kind, f.KindReason, wayNow, wayAfter, why, losesSsh, cronWas, cronIs, password, intended));
        }

        var services = plan.Handlers.Where(h => h.SkipReason is null).Select(h => $"{string.Join(' ', h.Argv)} ({h.Description})").ToImmutableArray();
        var installed = plan.Pending.Where(c => c.Resource is PackageResource { Present: true } || c.Address.Kind == PackageResource.Kind && c.Action == ChangeAction.Create)
            .Select(c => $"{c.Address.Key} [{c.Module}]").ToImmutableArray();
        var removed = plan.Pending.Where(c => c.Address.Kind == PackageResource.Kind && c.Action == ChangeAction.Delete)
            .Select(c => $"{c.Address.Key} {c.Before.Get("version")} [{c.Module}]").ToImmutableArray();
        var notes = ImmutableArray.CreateBuilder<string>();
        if (installed.Length > 0)
            notes.Add("apt may remove a package that conflicts with one it installs (chrony replaces systemd-timesyncd): apply asks apt first (apt-get -s), shows it, records it and rollback reinstalls it");
        foreach (var unknown in shutOut.Where(n => !facts.ContainsKey(n))) notes.Add($"{ShutOutVariable} names '{unknown}', which has no account on the target");
        return new Impact(accounts.ToImmutable(), services, installed, removed, notes.ToImmutable());
    }

    /// <summary>
    /// How the account can log in by SSH under these rules: with a key (a command without a terminal
    /// too, when PAM's account phase lets the session start), or at a terminal (a password, a key with
    /// a second factor, or a key after PAM's demand for a new password, which a person who knows the
    /// current one can answer). Returns the ways, why there is none, and whether a key login can run
    /// a command without a terminal.
    /// </summary>
    private static (string? Way, string? Why, bool Batch) Ways(SshdAccessRules rules, UserAccount user, IReadOnlySet<string> groups, KeyAccess? keys,
        ShadowEntry? shadow, long today)
    {
        if (!user.CanLogIn && !rules.SftpOnly(user, groups)) return (null, $"its shell is {user.Shell}", false);
        if (rules.Refusal(user, groups, shadow) is { } refused) return (null, $"sshd refuses it: {refused}", false);
        // Without PAM, sshd reads no password ages: the account phase does not stop a key login.
        var phase = rules.UsesPam(user, groups) ? shadow?.Phase(today) ?? AccountPhase.Allowed : AccountPhase.Allowed;
        if (phase is AccountPhase.AccountExpired or AccountPhase.PasswordExpired) return (null, $"PAM refuses it: {ShadowEntry.Describe(phase)}", false);
        var keyCount = keys is null ? 0 : rules.StrictModes(user, groups) ? keys.UsableKeys : keys.KeysWithoutStrictModes;
        var hasPassword = shadow is { HasUsablePassword: true };
        var (key, interactive, why) = rules.Methods(user, groups, keyCount > 0, hasPassword);
        if (why is not null)
            return (null, keyCount == 0 && !hasPassword ? $"it has no usable key ({keys?.Problem ?? "no authorized_keys"}) and no password" : why, false);
        if (key && phase == AccountPhase.NewPasswordRequired && !hasPassword)
            return (null, $"PAM demands a new password at its key login, and it has no password to change ({ShadowEntry.Describe(phase)})", false);
        var batch = key && phase == AccountPhase.Allowed;
        var ways = new List<string>();
        if (key) ways.Add(phase == AccountPhase.Allowed ? "key" : "key (with a terminal, after setting a new password)");
        if (interactive) ways.Add(rules.AnyMethod(user, groups) ? "password" : "at a terminal (AuthenticationMethods)");
        if (ways.Count == 0) return (null, "sshd accepts neither its key nor a password", false);
        return (string.Join(", ", ways), batch ? null : $"key logins without a terminal are refused: {ShadowEntry.Describe(phase)}", batch);
    }

    /// <summary>
    /// Why no key file of this account stays readable for sshd after the plan, or null when one does:
    /// sshd reads authorized_keys as the user, so each folder on the way must still let the user through
    /// (x for owner, group or others), and StrictModes wants each owned by root or the user and
    /// writable by neither group nor others. Folder modes, owners and groups come from the plan's own
    /// changes where it has one (a home folder made 0750, a data folder made 2770 root:phi-access).
    /// </summary>
    private static string? KeysCutOff(Plan plan, HostSnapshot host, UserAccount user, IReadOnlySet<string> groups, KeyAccess keys)
    {
        if (keys.KeyFiles.IsEmpty) return null;
        string? firstWhy = null;
        foreach (var (file, folders) in keys.KeyFiles)
        {
            string? why = null;
            foreach (var (path, mode, uid, gid) in folders)
            {
                // In the order apply makes them (a folder's owner and mode, then a cap on its mode): the last word on each wins.
                var changes = plan.Pending.Where(c => c.Address.Kind is ModeResource.Kind or DirectoryResource.Kind && c.Address.Key == path && c.After is not null).ToList();
                var change = changes.LastOrDefault();
                var newMode = changes.LastOrDefault(c => c.After.Get("mode") is not null)?.After.Get("mode") is { } m ? Planner.ParseOctal(m) : mode;
                var newUid = changes.LastOrDefault(c => c.After.Get("owner") is not null)?.After.Get("owner") is { } o ? host.Users.FirstOrDefault(u => u.Name == o)?.Uid ?? uid : uid;
                var groupName = changes.LastOrDefault(c => c.After.Get("group") is not null)?.After.Get("group") ?? host.GroupName(gid);
                var bits = (int)newMode;
                var through = newUid == user.Uid ? (bits & 0x40) != 0
                    : groups.Contains(groupName) ? (bits & 0x8) != 0
                    : (bits & 0x1) != 0;
                if (!through)
                {
                    why = $"the plan leaves {path} {Planner.Octal(newMode)} {host.OwnerName(newUid)}:{groupName}, which {user.Name} cannot pass through to {file}";
                    break;
                }
                if (change is not null && (newUid != 0 && newUid != user.Uid || (bits & 0x12) != 0))
                {
                    why = $"the plan leaves {path} {Planner.Octal(newMode)} {host.OwnerName(newUid)}:{groupName}, which sshd's StrictModes refuses for {file}";
                    break;
                }
            }
            if (why is null) return null;
            firstWhy ??= why;
        }
        return firstWhy;
    }

    /// <summary>Shadow lines as they will be after the plan's aging change (only min, max and warn change).</summary>
    private static ImmutableDictionary<string, ShadowEntry> ShadowAfter(Plan plan, ImmutableDictionary<string, AccountFacts> facts)
    {
        var after = facts.Values.Where(f => f.Shadow is not null).ToImmutableDictionary(f => f.Name, f => f.Shadow!, StringComparer.Ordinal);
        foreach (var change in plan.Pending.Where(c => c.Address.Kind == AccountAgingResource.Kind && c.After is not null))
        {
            foreach (var (account, value) in change.After!)
            {
                if (after.TryGetValue(account, out var entry)) after = after.SetItem(account, entry.WithAging(value));
            }
        }
        return after;
    }

    private static (string? Allow, string? Deny) CronFiles(HostSnapshot host, Plan? plan) => (Text(host, plan, CronAccess.CronAllow), Text(host, plan, CronAccess.CronDeny));

    private static (string? Allow, string? Deny) AtFiles(HostSnapshot host, Plan? plan) => (Text(host, plan, CronAccess.AtAllow), Text(host, plan, CronAccess.AtDeny));

    /// <summary>A file's text as the host has it, or as the plan leaves it; null when absent.</summary>
    private static string? Text(HostSnapshot host, Plan? plan, string path)
    {
        if (plan?.Pending.FirstOrDefault(c => c.Address == new Address(FileResource.Kind, path)) is { } change)
            return change.Action == ChangeAction.Delete ? null : change.Resource is FileResource f ? f.Content : null;
        var file = host.File(path);
        return file.Exists ? Encoding.UTF8.GetString(file.Content) : null;
    }

    /// <summary>
    /// The refusal apply gives when the impact holds a loss nobody named: each account, why, and the
    /// one-line fix. Null when every loss is intended.
    /// </summary>
    public static string? Refusal(Impact impact)
    {
        var lost = impact.UnintendedLosses.ToList();
        if (lost.Count == 0) return null;
        var lines = lost.Select(a => $"{a.Account} ({a.KindReason}) {(a.LosesSsh ? "would lose SSH" : "would lose cron")}: {a.Why}. Fix: {Fix(a)}");
        return $"this apply would take access away from {lost.Count} account(s) that have it today: " + string.Join("; ", lines) +
               $". If that is intended, name them with --set {ShutOutVariable}={string.Join(",", lost.Select(a => a.Account))}";
    }

    private static string Fix(AccountImpact a)
    {
        var why = a.Why ?? "";
        if (why.Contains("AllowGroups", StringComparison.Ordinal))
            return a.Kind == AccountKind.Automation
                ? $"--set ssh_automation_members={a.Account} (an SSH group of its own, outside the PHI group; --set ssh_allow_members={a.Account} if it is a person)"
                : $"--set ssh_allow_members={a.Account}";
        if (why.Contains("the plan leaves", StringComparison.Ordinal))
            return "keep that folder out of the profile's folder variables (phi_directories, app_directories), so the way to the keys stays as it is";
        if (why.Contains("no usable key", StringComparison.Ordinal) || why.Contains("password login", StringComparison.Ordinal))
            return $"give it a key first (ssh-copy-id {a.Account}@HOST)";
        if (why.Contains("new password", StringComparison.Ordinal) || why.Contains("PAM", StringComparison.Ordinal))
            return $"raise password_aging_grace_days, or list it in {AutomationVariable} (aging then leaves it alone)";
        if (why.Contains("crontab", StringComparison.Ordinal) || why.Contains("at jobs", StringComparison.Ordinal))
            return $"--set cron_allow_users={a.Account}";
        return "see the impact section of 'harden plan'";
    }
}
