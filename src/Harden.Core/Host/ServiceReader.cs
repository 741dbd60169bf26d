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
        var admin = root.Map(Admin);
        if (Directory.Exists(admin) && root.FindSymlink(Admin) is null)
        {
            foreach (var dir in Directory.EnumerateDirectories(admin))
            {
                var name = Path.GetFileName(dir);
                if (!name.EndsWith(".wants", StringComparison.Ordinal) && !name.EndsWith(".requires", StringComparison.Ordinal)) continue;
                if (new DirectoryInfo(dir).LinkTarget is not null) continue;
                foreach (var link in Directory.EnumerateFileSystemEntries(dir)) links.Add(Path.GetFileName(link));
            }
        }
        return wanted.ToImmutableDictionary(u => u, u => StateOf(root, u, links), StringComparer.Ordinal);
    }

    private static string StateOf(HostRoot root, string unit, HashSet<string> links)
    {
        var adminEntry = new FileInfo(root.Map($"{Admin}/{unit}"));
        if (adminEntry.LinkTarget == "/dev/null") return "masked";
        // Names only, never following a link: a unit file that is a symlink must not lead outside the root.
        if (!UnitDirectories.Any(d => root.FindSymlink(d) is null && Directory.Exists(root.Map(d))
                && Directory.EnumerateFileSystemEntries(root.Map(d), unit).Any()))
            return "absent";
        return links.Contains(unit) ? "enabled" : "disabled";
    }
}
