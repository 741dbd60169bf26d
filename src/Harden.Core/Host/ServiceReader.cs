using System.Collections.Immutable;

namespace Harden.Host;

/// <summary>
/// Reads whether systemd units are enabled, disabled or masked from the unit symlinks themselves, as
/// <c>systemctl is-enabled</c> does offline: no process to start, and it works on an image root.
/// </summary>
public static class ServiceReader
{
    private const string Admin = "/etc/systemd/system";
    private static readonly string[] UnitDirectories = [Admin, "/usr/lib/systemd/system", "/lib/systemd/system"];

    public static ImmutableDictionary<string, string> Read(HostRoot root, IEnumerable<string> units)
    {
        var wanted = units.Distinct().ToList();
        if (wanted.Count == 0) return ImmutableDictionary<string, string>.Empty;
        // Every *.wants / *.requires link under /etc/systemd/system, read once.
        var links = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, kind) in root.List(Admin) ?? [])
        {
            if (kind != EntryKind.Directory || !name.EndsWith(".wants", StringComparison.Ordinal) && !name.EndsWith(".requires", StringComparison.Ordinal)) continue;
            foreach (var (link, _) in root.List($"{Admin}/{name}") ?? []) links.Add(link);
        }
        return wanted.ToImmutableDictionary(u => u, u => StateOf(root, u, links), StringComparer.Ordinal);
    }

    private static string StateOf(HostRoot root, string unit, HashSet<string> links)
    {
        if (!SafePath.IsRelative(unit) || unit.Contains('/', StringComparison.Ordinal)) return "absent";
        // A masked unit is a link to /dev/null; the link is read, never followed.
        if (root.Stat($"{Admin}/{unit}").Kind == EntryKind.Symlink && root.Files.ReadLink(HostRoot.Relative($"{Admin}/{unit}")) == "/dev/null") return "masked";
        // Names only, never following a link: a unit file that is a symlink must not lead outside the root.
        if (!UnitDirectories.Any(d => root.List(d)?.Any(e => e.Name == unit) == true))
            return "absent";
        return links.Contains(unit) ? "enabled" : "disabled";
    }
}
