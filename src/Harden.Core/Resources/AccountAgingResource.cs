using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Harden.Access;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// Password aging of the accounts that exist already: login.defs only applies to accounts made after
/// it changes. Human accounts (UID 1000–59999 with a login shell) and any listed extra users get the
/// wanted minimum, maximum and warning days through <c>chage</c>; the shadow file is never written
/// back whole. State is one "min:max:warn" value per account, so the plan lists each account with its
/// old values and restore sets exactly those back (an empty field is <c>-1</c> to chage).
/// </summary>
/// <remarks>
/// Which accounts get which values is <see cref="PasswordAging.Decide"/>'s: accounts with no password
/// to type and automation are left alone, and a password already older than the new maximum gets
/// <paramref name="graceDays"/> days instead of expiring on the spot.
/// </remarks>
public sealed class AccountAgingResource(string module, int minDays, int maxDays, int warnDays, ImmutableArray<string> extraUsers,
    int graceDays = 0, ImmutableArray<string> automation = default, ImmutableArray<string> people = default) : IResource
{
    public const string Kind = "aging";
    private const string Shadow = HostReader.ShadowPath;

    // chage refreshes shadow-utils' backup copy.
    private static readonly string[] ToolBackups = ["/etc/shadow-"];

    public Address Address { get; } = new(Kind, "accounts");
    public string Module => module;
    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.File, Shadow), .. AccountFactsReader.Needs];
    public IEnumerable<Address> DependsOn => [];

    private ImmutableArray<string> Automation => automation.IsDefault ? [] : automation;

    /// <summary>Each account aging is considered for (people and the listed ones) with what it gets, as the host has them now.</summary>
    public IReadOnlyList<AgingDecision> Decisions(HostSnapshot host)
    {
        var facts = AccountFactsReader.Read(host, Automation, people.IsDefault ? [] : people);
        return [.. host.Users.Where(u => u.IsHuman || extraUsers.Contains(u.Name)).Select(u => u.Name).Distinct().Order(StringComparer.Ordinal)
            .Select(a => PasswordAging.Decide(facts[a], minDays, maxDays, warnDays, graceDays, host.Today, extraUsers.Contains(a)))];
    }

    /// <summary>"min:max:warn" per account in /etc/shadow (fields 4 to 6), exactly as written (empty when unset).</summary>
    internal static ImmutableSortedDictionary<string, string> Aging(string shadow) =>
        shadow.Split('\n').Select(l => l.Split(':')).Where(p => p.Length >= 6 && p[0].Length > 0)
            .GroupBy(p => p[0]).ToImmutableSortedDictionary(g => g.Key, g => $"{g.First()[3]}:{g.First()[4]}:{g.First()[5]}", StringComparer.Ordinal);

    public Change Plan(HostSnapshot host)
    {
        var shadow = host.File(Shadow);
        if (!shadow.Exists)
            return new Change(Address, module, ChangeAction.NoOp, null, null, "") { Resource = this };
        var aging = Aging(Encoding.UTF8.GetString(shadow.Content));
        var decided = Decisions(host).Where(d => !d.LeftAlone && aging.ContainsKey(d.Account)).ToList();
        var before = State.Of([.. decided.Select(d => (d.Account, aging[d.Account]))]);
        var after = State.Of([.. decided.Select(d => (d.Account, d.Wanted!))]);
        var differ = decided.Where(d => aging[d.Account] != d.Wanted).ToList();
        return differ.Count == 0
            ? new Change(Address, module, ChangeAction.NoOp, before, after, "") { Resource = this }
            : new Change(Address, module, ChangeAction.Update, before, after, Describe(differ, aging)) { Resource = this };
    }

    /// <summary>"set password aging 7:90:14 (min:max:warn days) for alice (was 0:99999:7); carol gets 7:104:14 (was ::, grace …)".</summary>
    private string Describe(List<AgingDecision> differ, ImmutableSortedDictionary<string, string> aging)
    {
        var policy = PasswordAging.Format(minDays, maxDays, warnDays);
        var parts = new List<string>();
        if (differ.Where(d => d.Wanted == policy).Select(d => $"{d.Account} (was {Show(aging[d.Account])})").ToList() is { Count: > 0 } plain)
            parts.Add($"set password aging {policy} (min:max:warn days) for {string.Join(", ", plain)}");
        parts.AddRange(differ.Where(d => d.Wanted != policy).Select(d => $"{d.Account} gets {d.Wanted} (was {Show(aging[d.Account])}): {d.Note}"));
        return string.Join("; ", parts);
    }

    private static string Show(string aging) => aging == "::" ? "unset" : aging;

    public async Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        foreach (var backup in ToolBackups) fx.PreserveDerived(backup, module);
        foreach (var (account, value) in change.After ?? ImmutableSortedDictionary<string, string>.Empty)
        {
            if (change.Before.Get(account) == value) continue;
            await ChageAsync(fx, account, value, ct);
        }
        var now = Aging(Text(fx));
        return State.Of([.. (change.After ?? ImmutableSortedDictionary<string, string>.Empty).Keys.Where(now.ContainsKey).Select(a => (a, now[a]))]);
    }

    private static string Text(IHostEffects fx) => fx.ReadFile(Shadow) is { Exists: true } f ? Encoding.UTF8.GetString(f.Content) : "";

    private static async Task ChageAsync(IHostEffects fx, string account, string value, CancellationToken ct)
    {
        var parts = value.Split(':');
        string Days(string field) => field.Length == 0 ? "-1" : field;
        var result = await fx.RunAsync(["chage", "-m", Days(parts[0]), "-M", Days(parts[1]), "-W", Days(parts[2]), "--", account], ct);
        if (!result.Succeeded) throw new HardenException($"chage {account} failed (exit {result.ExitCode}): {result.Message}");
    }

    public static async Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        if (entry.Before is null) return RestoreOutcome.Nothing;
        var now = Aging(Text(fx));
        var kept = new List<string>();
        var restored = false;
        foreach (var (account, before) in entry.Before)
        {
            if (!now.TryGetValue(account, out var current) || current == before) continue;
            // Someone set other values since the run: theirs stay unless forced.
            if (!force && entry.After.Get(account) is { } reached && current != reached)
            {
                kept.Add($"{account} is {Show(current)} now, not the {Show(reached)} harden set");
                continue;
            }
            await ChageAsync(fx, account, before, ct);
            restored = true;
        }
        return kept.Count > 0
            ? new RestoreOutcome(restored, Kept: $"password aging: {string.Join("; ", kept)}; kept (rollback --force sets the old values back)")
            : new RestoreOutcome(restored);
    }
}
