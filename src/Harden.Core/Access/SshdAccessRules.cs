using System.Collections.Immutable;
using System.Text;
using Harden.Host;
using Harden.Planning;

namespace Harden.Access;

/// <summary>
/// The sshd settings that decide whether an account may log in at all, read as sshd reads its
/// files: sshd_config with its Include spliced in where it stands (harden's own marked block
/// included), first value wins — except the Allow/Deny lists, which add up across lines — and a
/// Match block whose User or Group criteria fit the account overriding the global value.
/// </summary>
/// <remarks>
/// A Match block on the connection (Address, Host, LocalPort…) cannot be decided per account. Where
/// it could only widen access (password or key login on, root login on, another method list) it is
/// counted as applying when <see cref="_optimistic"/> — for today, so a login it allows and the plan
/// takes away is seen as a loss — and never for the rules after the plan. Lists that restrict
/// (AllowGroups in such a block) are not applied from it: the gate errs towards "has access today".
/// </remarks>
public sealed class SshdAccessRules
{
    private static readonly string[] Keys =
    [
        "allowusers", "allowgroups", "denyusers", "denygroups", "permitrootlogin", "pubkeyauthentication", "passwordauthentication",
        "kbdinteractiveauthentication", "usepam", "authenticationmethods", "strictmodes", "forcecommand",
    ];

    private static readonly string[] Lists = ["allowusers", "allowgroups", "denyusers", "denygroups"];

    /// <summary>Keys whose value in a Match block can only let more in.</summary>
    private static readonly string[] Widening = ["permitrootlogin", "pubkeyauthentication", "passwordauthentication", "kbdinteractiveauthentication", "authenticationmethods", "strictmodes"];

    private readonly ImmutableArray<SshdConfig.Setting> _settings;
    private readonly ImmutableDictionary<string, string> _overrides;
    private readonly bool _optimistic;

    private SshdAccessRules(ImmutableArray<SshdConfig.Setting> settings, ImmutableDictionary<string, string> overrides, bool optimistic)
    {
        _settings = settings;
        _overrides = overrides;
        _optimistic = optimistic;
    }

    /// <summary>The rules as the host has them now.</summary>
    public static SshdAccessRules Now(HostSnapshot host) => new(ReadOrder(host), ImmutableDictionary<string, string>.Empty, optimistic: true);

    /// <summary>The rules after a plan: the keys harden manages take its value everywhere (conflicting lines, Match blocks included, are neutralised).</summary>
    public SshdAccessRules With(IReadOnlyDictionary<string, string> managed) =>
        new(_settings, managed.Where(kv => Keys.Contains(kv.Key)).ToImmutableDictionary(kv => kv.Key, kv => kv.Value), optimistic: false);

    private static ImmutableArray<SshdConfig.Setting> ReadOrder(HostSnapshot host)
    {
        var main = host.File(HostReader.SshdConfig);
        if (!main.Exists) return [];
        var result = ImmutableArray.CreateBuilder<SshdConfig.Setting>();
        var spliced = false;
        // Everything sshd reads, harden's own marked block included: on a host harden has hardened, AllowGroups may live only there.
        foreach (var s in SshdConfig.Parse(Encoding.UTF8.GetString(main.Content), withManagedBlocks: true))
        {
            if (s.Key == "include" && !spliced)
            {
                // Every Include line of the main file names the drop-in folder on Debian and Ubuntu: splice them once.
                spliced = true;
                foreach (var path in host.SshdIncludes.Where(p => host.File(p).Exists))
                    result.AddRange(SshdConfig.Parse(Encoding.UTF8.GetString(host.File(path).Content), withManagedBlocks: true));
                continue;
            }
            result.Add(s);
        }
        return result.ToImmutable();
    }

    /// <summary>The value sshd uses for <paramref name="key"/> for this account, or null for sshd's default.</summary>
    /// <param name="groups">The names of every group the account is in (primary and supplementary).</param>
    public string? Value(string key, UserAccount user, IReadOnlySet<string> groups)
    {
        if (_overrides.TryGetValue(key, out var managed)) return managed;
        var list = Lists.Contains(key);
        string? global = null, matched = null;
        foreach (var s in _settings.Where(s => s.Key == key))
        {
            if (s.Global)
            {
                global = list && global is not null ? global + " " + s.Value : global ?? s.Value;
                continue;
            }
            var applies = s.Match is { } criteria ? Applies(criteria, user, groups) : false;
            if (applies == true || applies is null && _optimistic && Widening.Contains(key))
                matched = list && matched is not null ? matched + " " + s.Value : matched ?? s.Value;
        }
        return matched ?? global;
    }

    private static bool Is(string? value, string word) => value is not null && value.Equals(word, StringComparison.OrdinalIgnoreCase);

    /// <summary>Null when sshd lets the account in (as far as these settings go), else why not.</summary>
    public string? Refusal(UserAccount user, IReadOnlySet<string> groups, ShadowEntry? shadow)
    {
        string? Get(string key) => Value(key, user, groups);
        // Root first: PermitRootLogin is the profile's own decision about root, whatever else refuses it.
        if (user.Uid == 0 && Is(Get("permitrootlogin") ?? "prohibit-password", "no"))
            return "it is root and PermitRootLogin is no";
        if (!Is(Get("usepam"), "yes") && shadow is { Locked: true }) return "its password is locked and sshd runs without PAM (UsePAM no)";
        // A user@host pattern refuses only from that host: it does not shut the account out.
        if (Words(Get("denyusers")).Where(p => !p.Contains('@')).Any(p => Glob(p, user.Name)))
            return $"DenyUsers {Get("denyusers")} names it";
        if (Words(Get("allowusers")) is { Length: > 0 } allowUsers && !allowUsers.Any(p => Glob(p[..(p.LastIndexOf('@') is var at && at > 0 ? at : p.Length)], user.Name)))
            return $"it is not in AllowUsers {Get("allowusers")}";
        if (Words(Get("denygroups")) is { Length: > 0 } denyGroups && groups.Any(g => denyGroups.Any(p => Glob(p, g))))
            return $"it is in a group DenyGroups names ({Get("denygroups")})";
        if (Words(Get("allowgroups")) is { Length: > 0 } allowGroups && !groups.Any(g => allowGroups.Any(p => Glob(p, g))))
            return $"it is in none of AllowGroups {Get("allowgroups")}";
        return null;
    }

    /// <summary>sshd runs internal-sftp itself, whatever the account's shell (an SFTP drop box with /usr/sbin/nologin).</summary>
    public bool SftpOnly(UserAccount user, IReadOnlySet<string> groups) =>
        Value("forcecommand", user, groups) is { } command && command.Split(' ')[0] == "internal-sftp";

    /// <summary>Does sshd use PAM (and so its account phase) for this account?</summary>
    public bool UsesPam(UserAccount user, IReadOnlySet<string> groups) => Is(Value("usepam", user, groups), "yes");

    public bool StrictModes(UserAccount user, IReadOnlySet<string> groups) => !Is(Value("strictmodes", user, groups), "no");

    /// <summary>
    /// The ways this account can get through authentication: "key" (a command without a terminal
    /// too), "interactive" (a person at a terminal: a password, or a key and a second factor).
    /// Null with the reason when no AuthenticationMethods list can be satisfied.
    /// </summary>
    /// <param name="hasKey">A key sshd would accept (StrictModes as these rules set it).</param>
    public (bool Key, bool Interactive, string? Why) Methods(UserAccount user, IReadOnlySet<string> groups, bool hasKey, bool hasPassword)
    {
        string? Get(string key) => Value(key, user, groups);
        bool Yes(string key, bool byDefault) => Get(key) is { } v ? Is(v, "yes") : byDefault;
        var root = user.Uid != 0 ? "yes" : (Get("permitrootlogin") ?? "prohibit-password").ToLowerInvariant();
        var publickey = hasKey && Yes("pubkeyauthentication", true) && root is "yes" or "prohibit-password" or "without-password";
        var password = hasPassword && root == "yes" && Yes("passwordauthentication", true);
        // keyboard-interactive goes through PAM: a password, or whatever second factor the PAM stack asks for.
        var keyboard = root == "yes" && Yes("kbdinteractiveauthentication", true) && Yes("usepam", false) && hasPassword;
        var lists = Words(Get("authenticationmethods"));
        if (lists.Length == 0 || lists is ["any"])
            return (publickey, password || keyboard, publickey || password || keyboard ? null : "neither a key nor a password is accepted for it");
        bool Can(string method) => method.Split(':')[0] switch
        {
            "publickey" => publickey,
            "password" => password,
            "keyboard-interactive" => Yes("kbdinteractiveauthentication", true) && Yes("usepam", false),
            _ => false,
        };
        var satisfiable = lists.Select(l => l.Split(',')).Where(l => l.All(Can)).ToList();
        if (satisfiable.Count == 0)
            return (false, false, $"no list of AuthenticationMethods {Get("authenticationmethods")} can be satisfied with the methods sshd will offer it");
        return (satisfiable.Any(l => l is ["publickey"]), satisfiable.Any(l => l is not ["publickey"]), null);
    }

    /// <summary>No AuthenticationMethods list: any one method that succeeds is enough.</summary>
    public bool AnyMethod(UserAccount user, IReadOnlySet<string> groups) => Words(Value("authenticationmethods", user, groups)) is [] or ["any"];

    private static string[] Words(string? value) => value?.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>
    /// A Match line's criteria for this account: true or false when every criterion is User, Group or
    /// All; null when one depends on the connection (Address, Host, LocalPort, …).
    /// </summary>
    private static bool? Applies(string criteria, UserAccount user, IReadOnlySet<string> groups)
    {
        var words = Words(criteria);
        if (words.Length == 1 && words[0].Equals("all", StringComparison.OrdinalIgnoreCase)) return true;
        if (words.Length < 2) return false;
        bool? result = true;
        for (var i = 0; i + 1 < words.Length; i += 2)
        {
            var list = words[i + 1].Split(',');
            bool? ok = words[i].ToLowerInvariant() switch
            {
                "user" => MatchList(list, p => Glob(p, user.Name)),
                "group" => MatchList(list, p => groups.Any(g => Glob(p, g))),
                _ => null,
            };
            if (ok == false) return false;
            if (ok is null) result = null;
        }
        return result;
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
