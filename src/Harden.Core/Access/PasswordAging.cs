using System.Globalization;

namespace Harden.Access;

/// <summary>What password aging does to one existing account: the min:max:warn it gets (null: left alone) and why.</summary>
public sealed record AgingDecision(string Account, string? Wanted, string Note)
{
    public bool LeftAlone => Wanted is null;
}

/// <summary>
/// Password aging for accounts that already exist, decided the way a careful administrator would:
/// an account with no password to type (key-only, locked) or that runs automation is left alone,
/// because pam_unix's account phase would demand a new password from it on its next key login or
/// cron job and nobody is there to type one; an account whose password is already older than the
/// new maximum gets until <c>today + grace</c> instead of being expired on the spot. Pure.
/// </summary>
public static class PasswordAging
{
    public static AgingDecision Decide(AccountFacts facts, int minDays, int maxDays, int warnDays, int graceDays, long today, bool listed)
    {
        var decision = Choose(facts, minDays, maxDays, warnDays, graceDays, today, listed);
        // Whatever was chosen, it must not make PAM's answer worse today than it is (with inactive days
        // set, a lower maximum can turn "change your password" into "locked"): then only the maximum stays.
        if (decision.Wanted is { } wanted && facts.Shadow is { } shadow)
        {
            var phase = shadow.WithAging(wanted).Phase(today);
            if (Rank(phase) > Rank(shadow.Phase(today)))
                return decision with
                {
                    Wanted = $"{minDays}:{shadow.Max?.ToString(CultureInfo.InvariantCulture) ?? ""}:{warnDays}",
                    Note = $"keeps its maximum of {shadow.Max?.ToString(CultureInfo.InvariantCulture) ?? "none"} days: the new {maxDays}-day maximum would {ShadowEntry.Describe(phase)} today (its inactive days have run); it must change its password first",
                };
        }
        return decision;
    }

    private static int Rank(AccountPhase phase) => phase switch
    {
        AccountPhase.Allowed => 0,
        AccountPhase.NewPasswordRequired => 1,
        _ => 2,
    };

    private static AgingDecision Choose(AccountFacts facts, int minDays, int maxDays, int warnDays, int graceDays, long today, bool listed)
    {
        var name = facts.Name;
        var policy = Format(minDays, maxDays, warnDays);
        if (facts.Shadow is not { } shadow) return new AgingDecision(name, null, "has no line in /etc/shadow");
        if (!shadow.HasUsablePassword)
            return new AgingDecision(name, null, "has no password to type (key-only or locked), so there is nothing to age; aging it would make PAM demand a new password at its next key login");
        if (!listed && facts.Kind == AccountKind.Automation)
            return new AgingDecision(name, null, $"is {facts.KindReason}: an expired password would stop its key logins and cron jobs; left alone (list it in password_aging_users to age it)");
        if (shadow.LastChange is null)
            return new AgingDecision(name, null, $"has no date of last password change: any maximum age would expire it at once; set one with 'chage -d {ShadowEntry.Date(today)} {name}' (or make the user change the password), then apply again");
        if (shadow.Phase(today) != AccountPhase.Allowed || shadow.LastChange == 0)
            return new AgingDecision(name, policy, $"must already change its password ({ShadowEntry.Describe(shadow.Phase(today))}); the policy changes nothing for its logins");
        var last = shadow.LastChange.Value;
        if (last + maxDays >= today + graceDays)
            return new AgingDecision(name, policy, $"password changed {ShadowEntry.Date(last)}; next change due by {ShadowEntry.Date(last + maxDays)}");
        // Already given a grace window by an earlier run (or expiring within it by itself): keep that date.
        if (shadow.Max is { } current && current > maxDays && last + current >= today && last + current <= today + graceDays)
            return new AgingDecision(name, Format(minDays, (int)current, warnDays),
                $"password changed {ShadowEntry.Date(last)}, older than {maxDays} days: in its grace window until {ShadowEntry.Date(last + current)}; at its first login after that it must choose a new password");
        var graced = (int)(today + graceDays - last);
        return new AgingDecision(name, Format(minDays, graced, warnDays),
            $"password changed {ShadowEntry.Date(last)}, {today - last} days ago: the new {maxDays}-day maximum would make it due {(last + maxDays < today ? "at once" : $"on {ShadowEntry.Date(last + maxDays + 1)}")}; instead it may be used until {ShadowEntry.Date(today + graceDays)} ({graceDays} days' grace, password_aging_grace_days), then it must be changed at login");
    }

    public static string Format(int min, int max, int warn) => string.Create(CultureInfo.InvariantCulture, $"{min}:{max}:{warn}");
}
