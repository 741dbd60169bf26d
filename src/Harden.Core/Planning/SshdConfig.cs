using System.Collections.Immutable;

namespace Harden.Planning;

/// <summary>
/// Just enough of sshd_config's grammar to find who sets what. sshd keeps the FIRST value it
/// reads for a key, and everything after a <c>Match</c> line belongs to that block, so only the
/// lines before the first Match are global.
/// </summary>
public static class SshdConfig
{
    public const string Marker = "# harden: disabled, conflicts with";

    public readonly record struct Setting(int Line, string Key, string Value, bool Global);

    public static ImmutableArray<Setting> Parse(string text)
    {
        var settings = ImmutableArray.CreateBuilder<Setting>();
        var global = true;
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var split = line.IndexOfAny([' ', '\t', '=']);
            var key = split < 0 ? line : line[..split];
            var value = split < 0 ? "" : line[(split + 1)..].Trim().TrimStart('=').Trim();
            if (key.Equals("Match", StringComparison.OrdinalIgnoreCase)) global = false;
            settings.Add(new Setting(i + 1, key.ToLowerInvariant(), value, global));
        }
        return settings.ToImmutable();
    }

    /// <summary>The global settings a drop-in manages: first value per key, as sshd would take it.</summary>
    public static ImmutableSortedDictionary<string, string> Managed(string dropIn)
    {
        var managed = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var s in Parse(dropIn).Where(s => s.Global && s.Key != "include"))
            managed.TryAdd(s.Key, s.Value);
        return managed.ToImmutable();
    }

    public static bool SameValue(string a, string b) =>
        string.Equals(string.Join(' ', a.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)),
            string.Join(' ', b.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)), StringComparison.OrdinalIgnoreCase);

    /// <summary>Comments out the given lines with a marker that names the managed drop-in.</summary>
    public static string Neutralise(string text, IEnumerable<int> lineNumbers, string managedBy)
    {
        var lines = text.Split('\n');
        foreach (var n in lineNumbers)
            lines[n - 1] = $"{Marker} {managedBy}: {lines[n - 1]}";
        return string.Join('\n', lines);
    }

    /// <summary>True when the text includes the given drop-in folder globally (before any Match).</summary>
    public static bool IncludesDropIns(string mainConfig, string dropInDir) =>
        Parse(mainConfig).Any(s => s.Global && s.Key == "include" && s.Value.Split(' ').Any(v => v.StartsWith(dropInDir + "/", StringComparison.Ordinal)
            || !v.StartsWith('/') && ("/etc/ssh/" + v).StartsWith(dropInDir + "/", StringComparison.Ordinal)));
}
