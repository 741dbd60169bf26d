namespace Harden.Host;

/// <summary>
/// What <c>/etc/os-release</c> (or <c>/usr/lib/os-release</c>) says the root is: the ID, VERSION_ID
/// and PRETTY_NAME fields, parsed as the freedesktop format describes (shell-style quoting, no expansion).
/// </summary>
public sealed record OsRelease(string Id, string VersionId, string PrettyName)
{
    public static readonly OsRelease Unknown = new("unknown", "", "an unknown system (no os-release)");

    /// <summary>"debian 12" matches VERSION_ID 12 and 12.x; "ubuntu 22.04" matches 22.04.</summary>
    public bool Is(string release)
    {
        var parts = release.Split(' ', 2);
        return parts.Length == 2 && parts[0] == Id && (VersionId == parts[1] || VersionId.StartsWith(parts[1] + ".", StringComparison.Ordinal));
    }

    public override string ToString() => $"{PrettyName} ({Id} {(VersionId.Length > 0 ? VersionId : "without a version")})";

    public static OsRelease Read(HostRoot root)
    {
        foreach (var path in (string[])["/etc/os-release", "/usr/lib/os-release"])
        {
            // /etc/os-release wins when it is a file; on Debian it is a link to ../usr/lib/os-release,
            // which is never followed: the target is read by its own path instead.
            if (HostReader.ReadFile(root, path, 1 << 16) is { Exists: true } file) return Parse(System.Text.Encoding.UTF8.GetString(file.Content));
        }
        return Unknown;
    }

    public static OsRelease Parse(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            var eq = line.IndexOf('=');
            if (line.StartsWith('#') || eq <= 0) continue;
            var value = line[(eq + 1)..];
            if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0]) value = value[1..^1];
            fields[line[..eq]] = new string([.. value.Where(c => !char.IsControl(c))]).Replace("\\\"", "\"", StringComparison.Ordinal);
        }
        var id = fields.GetValueOrDefault("ID", "linux").ToLowerInvariant();
        return new OsRelease(id, fields.GetValueOrDefault("VERSION_ID", ""), fields.GetValueOrDefault("PRETTY_NAME", id));
    }
}
