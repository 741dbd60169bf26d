using System.Collections.Immutable;
using System.Globalization;

namespace Harden.Access;

/// <summary>What PAM's account phase (pam_unix) says about an account before any session starts, key logins included.</summary>
public enum AccountPhase
{
    /// <summary>The session may start.</summary>
    Allowed,
    /// <summary>A new password is demanded first: a terminal login can set one, a command without a terminal (BatchMode, scp, cron) is refused.</summary>
    NewPasswordRequired,
    /// <summary>Past the maximum age and the inactive days: locked for every login.</summary>
    PasswordExpired,
    /// <summary>Past the account's expiry date: refused for every login.</summary>
    AccountExpired,
}

/// <summary>
/// One line of /etc/shadow with its day numbers (days since 1970; null where the field is empty, as
/// glibc's -1), and the account phase pam_unix decides from it. The rules are those of Linux-PAM's
/// <c>check_shadow_expiry</c> (passverify.c), which runs for key logins too: sshd calls the account
/// phase whatever the authentication method.
/// </summary>
public sealed record ShadowEntry(string Name, string Hash, long? LastChange, long? Min, long? Max, long? Warn, long? Inactive, long? Expire)
{
    /// <summary>A password that can be typed: not empty, not locked ("!…") and not "no password" ("*").</summary>
    public bool HasUsablePassword => Hash.Length > 0 && Hash[0] is not ('!' or '*');

    /// <summary>"!" or "*" first: key-only or locked; sshd refuses such an account only when UsePAM is off.</summary>
    public bool Locked => Hash.StartsWith('!');

    public static ImmutableDictionary<string, ShadowEntry> Parse(string shadow)
    {
        var entries = ImmutableDictionary.CreateBuilder<string, ShadowEntry>(StringComparer.Ordinal);
        foreach (var line in shadow.Split('\n'))
        {
            var f = line.Split(':');
            if (f.Length < 8 || f[0].Length == 0 || entries.ContainsKey(f[0])) continue;
            entries[f[0]] = new ShadowEntry(f[0], f[1], Day(f[2]), Day(f[3]), Day(f[4]), Day(f[5]), Day(f[6]), Day(f[7]));
        }
        return entries.ToImmutable();
    }

    private static long? Day(string field) =>
        long.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var day) ? day : null;

    /// <summary>pam_unix's decision on day <paramref name="today"/>, field for field as check_shadow_expiry makes it.</summary>
    public AccountPhase Phase(long today)
    {
        long max = Max ?? -1, inactive = Inactive ?? -1, expire = Expire ?? -1, last = LastChange ?? -1;
        if (expire != -1 && today >= expire) return AccountPhase.AccountExpired;
        if (last == 0) return AccountPhase.NewPasswordRequired;
        if (today < last) return AccountPhase.Allowed;
        var age = today - last;
        if (max != -1 && inactive != -1 && age > max && age > inactive && age > max + inactive) return AccountPhase.PasswordExpired;
        if (max != -1 && age > max) return AccountPhase.NewPasswordRequired;
        return AccountPhase.Allowed;
    }

    /// <summary>
    /// The same line with the "min:max:warn" that password aging writes (an empty field is unset, as
    /// chage's -1); the line itself when the value is not three such fields.
    /// </summary>
    public ShadowEntry WithAging(string minMaxWarn)
    {
        var p = minMaxWarn.Split(':');
        return p.Length == 3 ? this with { Min = Day(p[0]), Max = Day(p[1]), Warn = Day(p[2]) } : this;
    }

    public static string Date(long day) => DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + (int)day).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static long DayOf(DateTimeOffset time) => (long)Math.Floor((time - DateTimeOffset.UnixEpoch).TotalDays);

    public static string Describe(AccountPhase phase) => phase switch
    {
        AccountPhase.NewPasswordRequired => "PAM demands a new password first (a login without a terminal is refused)",
        AccountPhase.PasswordExpired => "the password is expired past its inactive days (every login is refused)",
        AccountPhase.AccountExpired => "the account is expired (every login is refused)",
        _ => "allowed",
    };
}
