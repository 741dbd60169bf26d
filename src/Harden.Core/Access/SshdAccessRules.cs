using System.Collections.Immutable;
using System.Text;
using Harden.Host;
using Harden.Planning;

namespace Harden.Access;

/// <summary>
/// The sshd settings that decide whether an account may log in at all, read as sshd reads its
/// files: sshd_config with its Include spliced in where it stands, first value wins, and a Match
/// block whose User or Group criteria fit the account overriding the global value. Match blocks
/// that depend on the connection (Address, Host, LocalPort…) cannot be known per account and are
/// left out: the real-client tests and <c>sshd -T -C</c> verification cover them.
/// </summary>
public sealed class SshdAccessRules
{
    private static readonly string[] Keys =
        ["allowusers", "allowgroups", "denyusers", "denygroups", "permitrootlogin", "pubkeyauthentication", "passwordauthentication", "kbdinteractiveauthentication", "usepam"];

    private readonly ImmutableArray<SshdConfig.Setting> _settings;
    private readonly ImmutableDictionary<string, string> _overrides;

    private SshdAccessRules(ImmutableArray<SshdConfig.Setting> settings, ImmutableDictionary<string, string> overrides)
    {
        _settings = settings;
        _overrides = overrides;
    }

    /// <summary>The rules as the host has them now.</summary>
    public static SshdAccessRules Now(HostSnapshot host) => new(ReadOrder(host), ImmutableDictionary<string, string>.Empty);

    /// <summary>The rules after a plan: the keys harden manages take its value everywhere (conflicting lines, Match blocks included, are neutralised).</summary>
    public SshdAccessRules With(IReadOnlyDictionary<string, string> managed) =>
        new(_settings, managed.Where(kv => Keys.Contains(kv.Key)).ToImmutableDictionary(kv => kv.Key, kv => kv.Value));

    private static ImmutableArray<SshdConfig.Setting> ReadOrder(HostSnapshot host)
    {
        var main = host.File(HostReader.SshdConfig);
        if (!main.Exists) return [];
        var result = ImmutableArray.CreateBuilder<SshdConfig.Setting>();
        var spliced = false;
        foreach (var s in SshdConfig.Parse(Encoding.UTF8.GetString(main.Content)))
        {
            if (s.Key == "include" && !spliced)
            {
                // Every Include line of the main file names the drop-in folder on Debian and Ubuntu: splice them once.
                spliced = true;
                foreach (var path in host.SshdIncludes.Where(p => host.File(p).Exists))
                    result.AddRange(SshdConfig.Parse(Encoding.UTF8.GetString(host.File(path).Content)));
                continue;
            }
            result.Add(s);
        }
        return result.ToImmutable();
    }

    /// <summary>The value sshd uses for <paramref name="key"/> for this account (lower-case), or null for sshd's default.</summary>
    public string? Value(string key, UserAccount user, Func<string, bool> inGroup)
    {
        if (_overrides.TryGetValue(key, out var managed)) return managed;
        string? global = null, matched = null;
        foreach (var s in _settings.Where(s => s.Key == key))
        {
            if (s.Global) global ??= s.Value;
            else if (matched is null && s.Match is { } criteria && Applies(criteria, user, inGroup)) matched = s.Value;
        }
        return matched ?? global;
    }

    /// <summary>Null when sshd lets the account in (as far as these settings go), else why not.</summary>
    public string? Refusal(UserAccount user, Func<string, bool> inGroup, ShadowEntry? shadow)
    {
        string? Get(string key) => Value(key, user, inGroup);
        bool On(string key, bool byDefault) => Get(key) is { } v ? v.Equals("yes", StringComparison.OrdinalIgnoreCase) : byDefault;
        // Root first: PermitRootLogin is the profile's own decision about root, whatever else refuses it.
        if (user.Uid == 0 && (Get("permitrootlogin") ?? "prohibit-password").ToLowerInvariant() is "no")
            return "it is root and PermitRootLogin is no";
        if (!On("usepam", false) && shadow is { Locked: true }) return "its password is locked and sshd runs without PAM (UsePAM no)";
        if (Words(Get("denyusers")) is { Length: > 0 } denyUsers && denyUsers.Any(p => UserPattern(p, user.Name)))
            return $"DenyUsers {Get("denyusers")} names it";
        if (Words(Get("allowusers")) is { Length: > 0 } allowUsers && !allowUsers.Any(p => UserPattern(p, user.Name)))
            return $"it is not in AllowUsers {Get("allowusers")}";
        if (Words(Get("denygroups")) is { Length: > 0 } denyGroups && denyGroups.Any(p => !p.StartsWith('!') && inGroup(p)))
            return $"it is in a group DenyGroups names ({Get("denygroups")})";
        if (Words(Get("allowgroups")) is { Length: > 0 } allowGroups && !allowGroups.Any(inGroup))
            return $"it is in none of AllowGroups {Get("allowgroups")}";
        return null;
    }

    public bool KeysAccepted(UserAccount user, Func<string, bool> inGroup) =>
        !(Value("pubkeyauthentication", user, inGroup) is { } v && v.Equals("no", StringComparison.OrdinalIgnoreCase))
        && !(user.Uid == 0 && (Value("permitrootlogin", user, inGroup) ?? "").Equals("forced-commands-only", StringComparison.OrdinalIgnoreCase));

    public bool PasswordsAccepted(UserAccount user, Func<string, bool> inGroup)
    {
        bool Yes(string key, bool byDefault) => Value(key, user, inGroup) is { } v ? v.Equals("yes", StringComparison.OrdinalIgnoreCase) : byDefault;
        var root = user.Uid != 0 || (Value("permitrootlogin", user, inGroup) ?? "prohibit-password").Equals("yes", StringComparison.OrdinalIgnoreCase);
        return root && (Yes("passwordauthentication", true) || Yes("kbdinteractiveauthentication", true) && Yes("usepam", false));
    }

    private static string[] Words(string? value) => value?.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>sshd's user pattern: a user@host pattern matches on the user part here (the host is the connection's).</summary>
    private static bool UserPattern(string pattern, string user) => Glob(pattern.Split('@')[0], user);

    /// <summary>A Match line's criteria fit the account: every User and Group criterion matches; any other criterion makes it unknowable here.</summary>
    private static bool Applies(string criteria, UserAccount user, Func<string, bool> inGroup)
    {
        var words = Words(criteria);
        if (words.Length == 1 && words[0].Equals("all", StringComparison.OrdinalIgnoreCase)) return true;
        for (var i = 0; i + 1 < words.Length; i += 2)
        {
            var list = words[i + 1].Split(',');
            var ok = words[i].ToLowerInvariant() switch
            {
                "user" => MatchList(list, p => Glob(p, user.Name)),
                "group" => MatchList(list, inGroup),
                _ => false,
            };
            if (!ok) return false;
        }
        return words.Length >= 2;
    }

    /// <summary>OpenSSH's match_pattern_list: a negated pattern that matches wins; else any positive one.</summary>
    private static bool MatchList(string[] patterns, Func<string, bool> fits)
    {
        var any = false;
        foreach (var p in patterns)
        {
            if (p.StartsWith('!')) { if (fits(p[1..])) return false; }
            else if (fits(p)) any = true;
        }
        return any;
    }

    /// <summary>OpenSSH's wildcard match: * any run, ? one character.</summary>
    public static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t])) { p++; t++; }
            else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
            else if (star >= 0) { p = star + 1; t = ++mark; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
