using System.Collections.Immutable;
using System.Text;
using System.Text.RegularExpressions;
using Harden.Host;
using Harden.Resources;

namespace Harden.Access;

/// <summary>How an operator thinks of an account, which decides how carefully harden treats it.</summary>
public enum AccountKind { Person, Automation, System }

/// <summary>What the host says about one account beyond /etc/passwd: its shadow line, its keys, its jobs, its sudo rules.</summary>
public sealed record AccountFacts(UserAccount Account, ShadowEntry? Shadow, int UsableKeys, bool HasCrontab, bool HasAtJobs, bool NoPasswordSudo, bool NamedAutomation)
{
    public string Name => Account.Name;

    /// <summary>Named as a person (the operator, an SSH member of the PHI group): a key with no password is then just how that person logs in.</summary>
    public bool NamedPerson { get; init; }

    /// <summary>Jobs in /etc/crontab or /etc/cron.d that run as this account (cron.allow does not govern them; PAM's account phase does).</summary>
    public bool HasSystemCronJobs { get; init; }

    /// <summary>
    /// Automation: named so; else a person when named as one (the operator, an SSH member of the PHI
    /// group, even with NOPASSWD sudo: a person's password is aged); else automation when it has a
    /// crontab, cron or at jobs, NOPASSWD sudo, or a key and no password to type.
    /// </summary>
    public AccountKind Kind =>
        NamedAutomation ? AccountKind.Automation
        : NamedPerson ? AccountKind.Person
        : HasCrontab || HasAtJobs || HasSystemCronJobs || NoPasswordSudo || UsableKeys > 0 && Shadow is { HasUsablePassword: false } ? AccountKind.Automation
        : Account.IsHuman ? AccountKind.Person
        : AccountKind.System;

    /// <summary>Why it is what <see cref="Kind"/> says, in an operator's words.</summary>
    public string KindReason
    {
        get
        {
            var why = new List<string>();
            if (NamedAutomation) why.Add("named in automation_accounts");
            if (HasCrontab) why.Add("has a crontab");
            if (HasAtJobs) why.Add("has at jobs");
            if (HasSystemCronJobs) why.Add("runs jobs from /etc/crontab or /etc/cron.d");
            if (NoPasswordSudo) why.Add("NOPASSWD sudo");
            if (UsableKeys > 0 && Shadow is { HasUsablePassword: false }) why.Add("key-only");
            return Kind switch
            {
                AccountKind.Automation => $"automation ({string.Join(", ", why)})",
                AccountKind.Person => UsableKeys > 0 && Shadow is { HasUsablePassword: false } ? "person (key-only)" : "person",
                _ => "system account",
            };
        }
    }
}

/// <summary>Reads the account facts the access model needs from a host snapshot. Pure.</summary>
public static partial class AccountFactsReader
{
    public const string Crontabs = "/var/spool/cron/crontabs", AtJobs = "/var/spool/cron/atjobs";
    public const string Sudoers = "/etc/sudoers", SudoersDir = "/etc/sudoers.d";
    public const string SystemCrontab = "/etc/crontab", CronD = "/etc/cron.d";

    /// <summary>What the host reader must fetch: the spools and sudo's rules (small files, read whole).</summary>
    public static readonly HostQuery[] Needs =
    [
        new(HostQueryKind.FolderFiles, Crontabs), new(HostQueryKind.FolderFiles, AtJobs),
        new(HostQueryKind.File, Sudoers), new(HostQueryKind.FolderFiles, SudoersDir),
        new(HostQueryKind.File, SystemCrontab), new(HostQueryKind.FolderFiles, CronD),
        new(HostQueryKind.File, CronAccess.CronAllow), new(HostQueryKind.File, CronAccess.CronDeny),
        new(HostQueryKind.File, CronAccess.AtAllow), new(HostQueryKind.File, CronAccess.AtDeny),
    ];

    /// <summary>An account name as useradd allows it: nothing that could start a new line or a new field in a file harden writes.</summary>
    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$")]
    public static partial Regex AccountName();

    public static ImmutableDictionary<string, AccountFacts> Read(HostSnapshot host, IReadOnlyCollection<string> namedAutomation, IReadOnlyCollection<string>? namedPeople = null)
    {
        var shadow = ShadowEntry.Parse(Text(host.File(HostReader.ShadowPath)));
        var crontabs = SpoolOwners(host, Crontabs);
        var atJobs = SpoolOwners(host, AtJobs);
        var sudo = NoPasswordSudoers(host);
        var systemJobs = SystemCronUsers(host);
        return host.Users.GroupBy(u => u.Name).Select(g => g.First()).ToImmutableDictionary(u => u.Name, u => new AccountFacts(u,
            shadow.GetValueOrDefault(u.Name),
            host.AuthorizedKeys.GetValueOrDefault(u.Name)?.UsableKeys ?? 0,
            crontabs.Contains(u.Name), atJobs.Contains(u.Name),
            sudo.Users.Contains(u.Name) || sudo.Groups.Any(g => InGroup(host, u, g)),
            namedAutomation.Contains(u.Name)) { NamedPerson = namedPeople?.Contains(u.Name) ?? false, HasSystemCronJobs = systemJobs.Contains(u.Name) },
            StringComparer.Ordinal);
    }

    public static bool InGroup(HostSnapshot host, UserAccount user, string group) =>
        host.Groups.Any(g => g.Name == group && (g.Gid == user.Gid || g.Members.Contains(user.Name)));

    /// <summary>
    /// Who owns a job in a spool folder: the file is named after its owner and owned by that account
    /// (crontab(1) writes it so); a file whose owner does not match its name is nobody's job.
    /// For at, each job file is owned by the account that queued it.
    /// </summary>
    public static ImmutableSortedSet<string> SpoolOwners(HostSnapshot host, string folder)
    {
        var owners = ImmutableSortedSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var (name, file) in host.FolderFiles(folder))
        {
            if (folder == AtJobs)
            {
                if (name.StartsWith('.')) continue;
                if (host.Users.FirstOrDefault(u => u.Uid == file.Uid) is { } queued && AccountName().IsMatch(queued.Name)) owners.Add(queued.Name);
                continue;
            }
            // cron accepts a crontab owned by its user or by root (crontab -u as root).
            if (host.Users.FirstOrDefault(u => u.Name == name) is { } owner && (owner.Uid == file.Uid || file.Uid == 0) && AccountName().IsMatch(name)) owners.Add(name);
        }
        return owners.ToImmutable();
    }

    /// <summary>
    /// Users and %groups with a NOPASSWD rule in sudoers and the files of sudoers.d that sudo reads
    /// (names with a dot or ending in ~ are skipped, as sudo does). Aliases are not expanded.
    /// </summary>
    private static (HashSet<string> Users, HashSet<string> Groups) NoPasswordSudoers(HostSnapshot host)
    {
        var users = new HashSet<string>(StringComparer.Ordinal);
        var groups = new HashSet<string>(StringComparer.Ordinal);
        var texts = new[] { Text(host.File(Sudoers)) }
            .Concat(host.FolderFiles(SudoersDir).Where(kv => !kv.Key.Contains('.') && !kv.Key.EndsWith('~')).Select(kv => Text(kv.Value)));
        foreach (var line in texts.SelectMany(t => t.Split('\n')).Select(l => l.Trim()))
        {
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith("Defaults", StringComparison.Ordinal) || !line.Contains("NOPASSWD", StringComparison.Ordinal)) continue;
            var who = line.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries)[0];
            foreach (var name in who.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                if (name.StartsWith('%')) groups.Add(name[1..]);
                else users.Add(name);
            }
        }
        return (users, groups);
    }

    /// <summary>The user field of every job in /etc/crontab and /etc/cron.d (files cron reads: no dot in the name).</summary>
    private static HashSet<string> SystemCronUsers(HostSnapshot host)
    {
        var users = new HashSet<string>(StringComparer.Ordinal);
        var texts = new[] { Text(host.File(SystemCrontab)) }
            .Concat(host.FolderFiles(CronD).Where(kv => !kv.Key.Contains('.') && !kv.Key.EndsWith('~')).Select(kv => Text(kv.Value)));
        foreach (var line in texts.SelectMany(t => t.Split('\n')).Select(l => l.Trim()))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            // NAME=value sets the environment; "@daily user cmd" or "m h dom mon dow user cmd" is a job.
            if (words[0].Contains('=')) continue;
            var user = words[0].StartsWith('@') ? words.ElementAtOrDefault(1) : words.ElementAtOrDefault(5);
            if (user is not null && AccountName().IsMatch(user)) users.Add(user);
        }
        return users;
    }

    private static string Text(FileState file) => file.Exists ? Encoding.UTF8.GetString(file.Content) : "";
}

/// <summary>Who cron and at accept, from their allow and deny files, as Debian's cron and at decide it.</summary>
public static class CronAccess
{
    public const string CronAllow = "/etc/cron.allow", CronDeny = "/etc/cron.deny", AtAllow = "/etc/at.allow", AtDeny = "/etc/at.deny";

    /// <summary>
    /// An allow file that exists admits only the names in it; else a deny file refuses the names in it;
    /// with neither, Debian admits everyone (cron) — at then admits root only, but Debian ships an at.deny.
    /// </summary>
    public static bool Allowed(string user, string? allow, string? deny, bool everyoneWithoutFiles = true)
    {
        if (allow is not null) return Names(allow).Contains(user);
        if (deny is not null) return !Names(deny).Contains(user);
        return everyoneWithoutFiles || user == "root";
    }

    public static HashSet<string> Names(string text) =>
        text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToHashSet(StringComparer.Ordinal);
}
