using System.Collections.Immutable;

namespace Harden.Profiles;

/// <summary>Turns a profile's defaults plus the user's <c>--set KEY=VALUE</c> pairs into checked values.</summary>
public static class VariableBinder
{
    /// <param name="release">The root's release: its <c>releases:</c> defaults apply over the general ones.</param>
    public static ImmutableSortedDictionary<string, VariableValue> Bind(Profile profile, IEnumerable<string> assignments, Host.OsRelease? release = null)
    {
        var values = ImmutableSortedDictionary.CreateBuilder<string, VariableValue>(StringComparer.Ordinal);
        foreach (var def in profile.Variables)
        {
            if (def.Default is { } d) values[def.Name] = d;
            else if (def.Optional) values[def.Name] = def.Type is VariableType.Names or VariableType.Paths or VariableType.Networks or VariableType.Ports ? new VariableValue.List([]) : new VariableValue.Text("");
        }

        foreach (var (name, raw) in profile.ReleaseDefaults.Where(r => release?.Is(r.Key) == true).SelectMany(r => r.Value))
            values[name] = profile.FindVariable(name)!.Parse(raw);

        foreach (var assignment in assignments)
        {
            var eq = assignment.IndexOf('=');
            if (eq <= 0)
                throw new HardenException($"--set '{VariableDefinition.Printable(assignment)}' is not KEY=VALUE");
            var key = assignment[..eq];
            var def = profile.FindVariable(key) ?? throw new HardenException(
                $"unknown variable '{VariableDefinition.Printable(key)}' for profile '{profile.Name}'{Suggest(profile, key)}; " +
                $"known variables: {string.Join(", ", profile.Variables.Select(v => v.Name))}");
            values[key] = def.Parse(assignment[(eq + 1)..]);
        }

        var missing = profile.Variables.Where(v => !values.ContainsKey(v.Name)).Select(v => v.Name).ToList();
        if (missing.Count > 0)
            throw new HardenException($"profile '{profile.Name}' needs a value for {string.Join(", ", missing)}: pass --set NAME=VALUE");
        return values.ToImmutable();
    }

    private static string Suggest(Profile profile, string key)
    {
        var best = profile.Variables.Select(v => (v.Name, Distance: Levenshtein(v.Name, key)))
            .Where(x => x.Distance <= Math.Max(2, key.Length / 4)).OrderBy(x => x.Distance).FirstOrDefault();
        return best.Name is null ? "" : $" (did you mean '{best.Name}'?)";
    }

    private static int Levenshtein(string a, string b)
    {
        var prev = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var cur = new int[b.Length + 1];
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            prev = cur;
        }
        return prev[b.Length];
    }
}
