using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using Harden.Host;

namespace Harden.Planning;

/// <summary>
/// Just enough of sshd_config's grammar to find who sets what. sshd keeps the FIRST value it
/// reads for a key, and everything after a <c>Match</c> line belongs to that block until the next
/// Match (or the end of the file), so only the lines before the first Match are global.
/// </summary>
public static class SshdConfig
{
    public const string Marker = "# harden: disabled, conflicts with";

    /// <summary>Old and alternative keyword spellings sshd accepts for the same setting (servconf.c).</summary>
    private static readonly ImmutableDictionary<string, string> Aliases = new Dictionary<string, string>
    {
        ["challengeresponseauthentication"] = "kbdinteractiveauthentication",
        ["skeyauthentication"] = "kbdinteractiveauthentication",
        ["dsaauthentication"] = "pubkeyauthentication",
        ["pubkeyacceptedkeytypes"] = "pubkeyacceptedalgorithms",
        ["hostbasedacceptedkeytypes"] = "hostbasedacceptedalgorithms",
    }.ToImmutableDictionary();

    /// <param name="Match">The criteria of the Match block the line is in ("Address 10.0.0.0/8"); null when global.</param>
    public readonly record struct Setting(int Line, string Key, string Value, bool Global, string? Match = null);

    public static string Canonical(string key)
    {
        var lower = key.ToLowerInvariant();
        return Aliases.GetValueOrDefault(lower, lower);
    }

    /// <param name="withManagedBlocks">Also the lines of harden's own marked blocks: what sshd reads, rather than what conflicts with harden.</param>
    public static ImmutableArray<Setting> Parse(string text, bool withManagedBlocks = false)
    {
        var settings = ImmutableArray.CreateBuilder<Setting>();
        string? match = null;
        var lines = text.Split('\n');
        var inBlock = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            // Lines in harden's own managed blocks are harden's, not conflicts.
            if (line.StartsWith("# BEGIN harden ", StringComparison.Ordinal)) inBlock = true;
            if (line.StartsWith("# END harden ", StringComparison.Ordinal)) inBlock = false;
            if (line.Length == 0 || line.StartsWith('#') || inBlock && !withManagedBlocks) continue;
            var split = line.IndexOfAny([' ', '\t', '=']);
            var key = split < 0 ? line : line[..split];
            var value = split < 0 ? "" : line[(split + 1)..].Trim().TrimStart('=').Trim();
            if (key.Equals("Match", StringComparison.OrdinalIgnoreCase)) match = value;
            settings.Add(new Setting(i + 1, Canonical(key), value, match is null, match));
        }
        return settings.ToImmutable();
    }

    /// <summary>The global settings a drop-in manages: first value per key, as sshd would take it.</summary>
    public static ImmutableSortedDictionary<string, string> Managed(string dropIn)
    {
        var managed = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var s in Parse(dropIn).Where(s => s.Global && s.Key is not ("include" or "match")))
        {
            // Every line of a cumulative key counts (two HostKey lines offer two keys); else the first wins.
            if (Cumulative.Contains(s.Key) && managed.TryGetValue(s.Key, out var earlier)) managed[s.Key] = earlier + " " + s.Value;
            else managed.TryAdd(s.Key, s.Value);
        }
        return managed.ToImmutable();
    }

    public static bool SameValue(string a, string b) =>
        string.Equals(string.Join(' ', a.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)),
            string.Join(' ', b.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)), StringComparison.OrdinalIgnoreCase);

    /// <summary>Keys whose values add up across lines (every AllowGroups line counts), so the effective value is a set.</summary>
    private static readonly string[] Cumulative = ["allowgroups", "allowusers", "denygroups", "denyusers", "hostkey"];

    /// <summary>Whether the effective value sshd -T reports is what the profile wants.</summary>
    public static bool Satisfies(string key, string wanted, string effective) =>
        Cumulative.Contains(key)
            ? Words(wanted).SetEquals(Words(effective))
            : SameValue(AsReported(key, wanted), effective);

    /// <summary>
    /// A value as <c>sshd -T</c> prints it: times in seconds (<c>1m</c> is 60) and sizes in bytes
    /// (<c>RekeyLimit 512M 1h</c> is <c>536870912 3600</c>), so a readable profile value still verifies.
    /// </summary>
    public static string AsReported(string key, string value)
    {
        var words = value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return key switch
        {
            "logingracetime" or "clientaliveinterval" when words.Length == 1 && Seconds(words[0]) is { } t => t.ToString(CultureInfo.InvariantCulture),
            "rekeylimit" when words.Length is 1 or 2 && Bytes(words[0]) is { } b && (words.Length == 1 || Seconds(words[1]) is not null) =>
                $"{b} {(words.Length == 2 ? Seconds(words[1])!.Value : 0).ToString(CultureInfo.InvariantCulture)}",
            _ => value,
        };
    }

    /// <summary>sshd's time format: numbers each with an optional unit s, m, h, d or w, added up.</summary>
    private static long? Seconds(string text)
    {
        long total = 0, number = 0;
        var digits = false;
        foreach (var c in text.ToLowerInvariant())
        {
            if (c is >= '0' and <= '9') { number = number * 10 + (c - '0'); digits = true; continue; }
            if (!digits) return null;
            total += number * c switch { 's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86400, 'w' => 604800, _ => -1 };
            if (c is not ('s' or 'm' or 'h' or 'd' or 'w')) return null;
            number = 0;
            digits = false;
        }
        return total + number;
    }

    /// <summary>sshd's size format: a number with an optional K, M or G (powers of 1024); "default" is 0.</summary>
    private static long? Bytes(string text)
    {
        if (text.Equals("default", StringComparison.OrdinalIgnoreCase)) return 0;
        var unit = text.Length > 0 ? char.ToUpperInvariant(text[^1]) : ' ';
        var scale = unit switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1L };
        var digits = scale == 1 ? text : text[..^1];
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n * scale : null;
    }

    /// <summary>Whether a line elsewhere undoes what the profile wants: another value, or for a cumulative key one it does not list.</summary>
    public static bool Weakens(string key, string wanted, string line) =>
        Cumulative.Contains(key) ? !Words(line).IsSubsetOf(Words(wanted)) : !SameValue(AsReported(key, wanted), AsReported(key, line));

    private static HashSet<string> Words(string value) =>
        value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

    public static string Neutralised(string line, string managedBy) => $"{Marker} {managedBy}: {line}";

    /// <summary>True when the text includes the given drop-in folder globally (before any Match).</summary>
    public static bool IncludesDropIns(string mainConfig, string dropInDir) =>
        Parse(mainConfig).Any(s => s.Global && s.Key == "include" && s.Value.Split(' ').Any(v => v.StartsWith(dropInDir + "/", StringComparison.Ordinal)
            || !v.StartsWith('/') && ("/etc/ssh/" + v).StartsWith(dropInDir + "/", StringComparison.Ordinal)));

    /// <summary>
    /// A connection that a Match block's criteria select, as <c>sshd -T -C</c> takes it
    /// (<c>user=…,host=…,addr=…,laddr=…,lport=…</c>), or null when none can be built (a negation, a
    /// Group with no members). Every field is given, so no block is skipped for a missing one.
    /// </summary>
    public static string? Connection(string criteria, HostSnapshot host)
    {
        var spec = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["user"] = "nobody", ["host"] = "harden-check.invalid", ["addr"] = "192.0.2.1", ["laddr"] = "127.0.0.1", ["lport"] = "22",
        };
        var words = criteria.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < words.Length; i++)
        {
            var word = words[i].ToLowerInvariant();
            if (word == "all") continue;
            if (i + 1 >= words.Length) return null;
            var pattern = words[++i].Split(',').FirstOrDefault(p => !p.StartsWith('!'));
            if (pattern is null) return null;
            var sample = pattern.Replace('*', 'x').Replace('?', 'x');
            switch (word)
            {
                case "user": spec["user"] = sample; break;
                case "group":
                    var group = host.Groups.FirstOrDefault(g => g.Name == pattern);
                    var member = group?.Members.FirstOrDefault() ?? host.Users.FirstOrDefault(u => group is not null && u.Gid == group.Gid)?.Name;
                    if (member is null) return null;
                    spec["user"] = member;
                    break;
                case "host": spec["host"] = sample; break;
                case "address": spec["addr"] = SampleAddress(pattern) ?? ""; break;
                case "localaddress": spec["laddr"] = SampleAddress(pattern) ?? ""; break;
                case "localport": spec["lport"] = sample.Replace('x', '2'); break;
                case "rdomain": spec["rdomain"] = sample; break;
                default: return null;
            }
            if (spec.Values.Any(v => v.Length == 0)) return null;
        }
        return string.Join(',', spec.Select(kv => $"{kv.Key}={kv.Value}"));
    }

    /// <summary>An address inside a CIDR or wildcard pattern (10.0.0.0/8 → 10.0.0.1; 10.1.* → 10.1.1).</summary>
    private static string? SampleAddress(string pattern)
    {
        if (pattern.Contains('*') || pattern.Contains('?'))
        {
            var parts = pattern.Split('.').Select(p => p.Replace("*", "1", StringComparison.Ordinal).Replace('?', '1')).ToList();
            while (parts.Count < 4) parts.Add("1");
            return string.Join('.', parts.Take(4));
        }
        var slash = pattern.IndexOf('/', StringComparison.Ordinal);
        if (!IPAddress.TryParse(slash < 0 ? pattern : pattern[..slash], out var address)) return null;
        if (slash < 0) return address.ToString();
        if (!int.TryParse(pattern[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var bits)) return null;
        var bytes = address.GetAddressBytes();
        if (bits < bytes.Length * 8) bytes[^1] |= 1;
        return new IPAddress(bytes).ToString();
    }
}
