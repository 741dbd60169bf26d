using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Harden.Profiles;

/// <summary>Time: a time of day as systemd's OnCalendar and unattended-upgrades read it (HH:MM or HH:MM:SS).</summary>
public enum VariableType { String, Int, Bool, Host, Port, Names, Path, Paths, Networks, Ports, Mode, Time }

/// <summary>What a path variable names, which decides where it may point (see <see cref="PathRoles"/>).</summary>
public enum PathRole { Data, Output, Program }

/// <summary>A typed profile variable: the single place where user input becomes trusted.</summary>
public sealed partial record VariableDefinition(
    string Name,
    VariableType Type,
    VariableValue? Default,
    string Description,
    long? Min = null,
    long? Max = null,
    bool Optional = false)
{
    /// <summary>For path variables: what the path names (a data folder, an output file, a program), checked by <see cref="PathRoles"/>.</summary>
    public PathRole? Role { get; init; }

    /// <summary>Parses a raw string (from --set or YAML) into a checked value, or throws with a reason.</summary>
    public VariableValue Parse(string raw)
    {
        // Control characters (newline above all) could smuggle extra directives into a rendered
        // configuration file, e.g. "x\nPermitRootLogin yes"; no variable type admits them.
        foreach (var ch in raw)
        {
            if (char.IsControl(ch))
                throw Invalid(raw, $"contains a control character (U+{(int)ch:X4}); values must be a single line");
        }

        switch (Type)
        {
            case VariableType.Port when raw.Length == 0 && Optional:
                return new VariableValue.Text("");
            case VariableType.Int:
            case VariableType.Port:
                if (!long.TryParse(raw.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
                    throw Invalid(raw, "is not a whole number");
                var (min, max) = Type == VariableType.Port ? (Min ?? 1, Max ?? 65535) : (Min, Max);
                if (min is { } lo && n < lo || max is { } hi && n > hi)
                    throw Invalid(raw, $"is out of range ({min?.ToString(CultureInfo.InvariantCulture) ?? "…"}..{max?.ToString(CultureInfo.InvariantCulture) ?? "…"})");
                return new VariableValue.Number(n);
            case VariableType.Bool:
                return raw.Trim().ToLowerInvariant() switch
                {
                    "true" or "yes" or "on" or "1" => new VariableValue.Flag(true),
                    "false" or "no" or "off" or "0" => new VariableValue.Flag(false),
                    _ => throw Invalid(raw, "is not a boolean (true or false)"),
                };
            case VariableType.Host:
                if (raw.Length == 0 && Optional) return new VariableValue.Text("");
                if (!Patterns.Host().IsMatch(raw) || raw.Length > 253)
                    throw Invalid(raw, "is not a host name or IP address");
                return new VariableValue.Text(raw);
            case VariableType.Path:
                if (raw.Length == 0 && Optional) return new VariableValue.Text("");
                if (!IsAbsolutePath(raw))
                    throw Invalid(raw, "is not an absolute path without '..' (letters, digits, . _ - / only)");
                var path = Host.SafePath.Normalize(raw);
                if (Role is { } role && PathRoles.Refusal(role, path) is { } why) throw Invalid(raw, why);
                return new VariableValue.Text(path);
            case VariableType.Paths:
                var paths = raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                if (paths.FirstOrDefault(p => !IsAbsolutePath(p)) is { } bad)
                    throw Invalid(raw, $"has '{bad}', which is not an absolute path without '..' (letters, digits, . _ - / only)");
                if (paths.Length == 0 && !Optional) throw Invalid(raw, "needs at least one path");
                paths = [.. paths.Select(Host.SafePath.Normalize)];
                if (Role is { } roles && paths.Select(p => (p, Why: PathRoles.Refusal(roles, p))).FirstOrDefault(x => x.Why is not null) is { Why: { } refused } hit)
                    throw Invalid(raw, $"has '{hit.p}', which {refused}");
                return new VariableValue.List([.. paths]);
            case VariableType.Names:
                var items = raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                foreach (var item in items)
                {
                    if (!Patterns.Name().IsMatch(item))
                        throw Invalid(raw, $"has '{item}', which is not a name (letters, digits, . _ - @ + : / only)");
                }
                if (items.Length == 0 && !Optional) throw Invalid(raw, "needs at least one name");
                return new VariableValue.List([.. items]);
            case VariableType.Networks:
                var networks = raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                // Parsed, then written back in canonical form: only digits, dots, colons and a /prefix reach a file.
                var canonical = networks.Select(n => System.Net.IPNetwork.TryParse(n, out var net) ? net.ToString()
                    : System.Net.IPAddress.TryParse(n, out var ip) && !n.Contains('%') ? ip.ToString()
                    : throw Invalid(raw, $"has '{n}', which is not an IP address or network (10.0.0.0/8, 2001:db8::/32)")).ToList();
                if (canonical.Count == 0 && !Optional) throw Invalid(raw, "needs at least one network");
                return new VariableValue.List([.. canonical]);
            case VariableType.Time:
                // Checked the way systemd's calendar parser reads a time: an hour 0-23, minutes and seconds
                // 0-59. "25:00", "99:99" or "4" would make the timer unit fail to load, and its job never run.
                if (!TimeOfDay().IsMatch(raw))
                    throw Invalid(raw, "is not a time of day HH:MM (00:00 to 23:59, seconds optional), as systemd's OnCalendar reads it");
                var t = raw.Split(':').Select(f => int.Parse(f, CultureInfo.InvariantCulture)).ToArray();
                if (t[0] > 23 || t[1] > 59 || t.Length == 3 && t[2] > 59)
                    throw Invalid(raw, "is out of range: the hour is 0 to 23, minutes and seconds 0 to 59");
                return new VariableValue.Text(string.Join(':', t.Select(f => f.ToString("00", CultureInfo.InvariantCulture))));
            case VariableType.Mode:
                if (raw.Length is < 3 or > 4 || !raw.All(c => c is >= '0' and <= '7'))
                    throw Invalid(raw, "is not an octal mode such as 2770 or 0750");
                return new VariableValue.Text(raw);
            case VariableType.Ports:
                var ports = raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                foreach (var p in ports)
                {
                    if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
                        throw Invalid(raw, $"has '{p}', which is not a port (1..65535)");
                }
                if (ports.Length == 0 && !Optional) throw Invalid(raw, "needs at least one port");
                return new VariableValue.List([.. ports.Select(p => int.Parse(p, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture))]);
            default:
                if (raw.Length == 0 && !Optional) throw Invalid(raw, "must not be empty");
                // A string lands inside other files' syntax (a quoted rsyslog parameter, an sshd
                // value): only characters that are plain words in every one of them are allowed.
                if (raw.Length > 0 && !Patterns.Word().IsMatch(raw))
                    throw Invalid(raw, "may contain only letters, digits and . _ - : / @ + (no spaces, quotes or other punctuation)");
                return new VariableValue.Text(raw);
        }
    }

    [GeneratedRegex(@"^[0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?$")]
    private static partial Regex TimeOfDay();

    private static bool IsAbsolutePath(string s) =>
        Host.SafePath.IsAbsolute(s) && Patterns.PathChars().IsMatch(s);

    private HardenException Invalid(string raw, string why) =>
        new($"variable '{Name}' ({Type.ToString().ToLowerInvariant()}): value '{Printable(raw)}' {why}");

    /// <summary>Shows a hostile value safely on one line.</summary>
    public static string Printable(string raw) =>
        string.Concat(raw.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));
}

/// <summary>A checked variable value. Rendered into templates through a ScriptObject model.</summary>
public abstract record VariableValue
{
    public sealed record Text(string Value) : VariableValue
    {
        public override string ToString() => Value;
    }
    public sealed record Number(long Value) : VariableValue
    {
        public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
    }
    public sealed record Flag(bool Value) : VariableValue
    {
        public override string ToString() => Value ? "true" : "false";
    }
    public sealed record List(ImmutableArray<string> Items) : VariableValue
    {
        public override string ToString() => string.Join(",", Items);
        public bool Equals(List? other) => other is not null && Items.SequenceEqual(other.Items);
        public override int GetHashCode() => Items.Length;
    }

    /// <summary>True when the value is "not set": empty text, an empty list, or a flag that is off.</summary>
    public bool IsEmpty => this switch
    {
        Text t => t.Value.Length == 0,
        Flag f => !f.Value,
        List l => l.Items.IsEmpty,
        _ => false,
    };
}

internal static partial class Patterns
{
    [GeneratedRegex(@"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?))*\.?$|^[0-9.]+$|^[0-9A-Fa-f:]+$")]
    public static partial Regex Host();

    [GeneratedRegex(@"^[A-Za-z0-9._@+:/-]+$")]
    public static partial Regex Name();

    [GeneratedRegex(@"^[A-Za-z0-9._@+:/-]+$")]
    public static partial Regex Word();

    [GeneratedRegex(@"^/[A-Za-z0-9._/-]*$")]
    public static partial Regex PathChars();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$")]
    public static partial Regex Identifier();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    public static partial Regex ProfileName();

    /// <summary>"debian 12", "ubuntu 22.04": an os-release ID and VERSION_ID.</summary>
    [GeneratedRegex(@"^[a-z0-9._-]+ [0-9][0-9.]*$")]
    public static partial Regex Release();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9:_.@-]*\.(service|socket|timer|path|target|mount)$")]
    public static partial Regex UnitName();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9+.-]+$")]
    public static partial Regex PackageName();
}
