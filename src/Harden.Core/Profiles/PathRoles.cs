namespace Harden.Profiles;

/// <summary>
/// Where each kind of path variable may point, checked before anything is written. A data folder
/// (PHI, application, evidence) becomes group-writable to its group: never the root, a system
/// folder, the home root, a volatile or world-writable tree, or harden's own state. An output file a
/// root job writes never lands in /etc, /boot or /usr, where it could replace configuration or a
/// program. A program a root job runs must stay where only root installs programs.
/// </summary>
public static class PathRoles
{
    private static readonly string[] SystemFolders =
    [
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt", "/proc",
        "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/log", "/var/spool", "/var/cache",
        "/var/mail", "/var/backups", "/var/tmp", "/var/opt", "/var/local", "/var/www",
    ];

    /// <summary>Trees whose contents the system owns, or anyone may write.</summary>
    private static readonly string[] SystemTrees = ["/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp", "/var/lib/harden", "/boot", "/usr"];

    private static readonly string[] ConfigurationTrees = ["/etc", "/boot", "/usr", "/proc", "/sys", "/dev", "/bin", "/sbin", "/lib"];

    private static readonly string[] ProgramTrees = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin", "/usr/lib", "/usr/libexec", "/opt"];

    private static bool Under(string path, string tree) => path == tree || path.StartsWith(tree == "/" ? "/" : tree + "/", StringComparison.Ordinal);

    /// <summary>Null when <paramref name="path"/> (normalised) may have this role; else which rule it breaks.</summary>
    public static string? Refusal(PathRole role, string path) => role switch
    {
        PathRole.Data when SystemFolders.Contains(path) || path.StartsWith("/usr/", StringComparison.Ordinal) && path.Count(c => c == '/') == 2 =>
            "is a system folder; a data folder is made group-writable for its group, which would hand that group the system (use a folder of its own, e.g. /var/data/phi)",
        PathRole.Data when SystemTrees.FirstOrDefault(t => Under(path, t)) is { } tree =>
            $"lies in {tree}, which the system or everyone writes (or harden keeps its state in); a data folder must not",
        PathRole.Output when ConfigurationTrees.FirstOrDefault(t => Under(path, t)) is { } tree =>
            $"lies in {tree}: a report written there by a root job could replace configuration or a program (use /var/lib or /var/log)",
        PathRole.Output when SystemFolders.Contains(path) => "is a folder, not a file",
        PathRole.Program when !ProgramTrees.Any(t => Under(path, t) && path != t) =>
            $"is not under {string.Join(", ", ProgramTrees)}: a program a root job runs must sit where only root installs programs",
        _ => null,
    };

    /// <summary>The paths whose host state matters for their role, with every folder above them.</summary>
    public static IEnumerable<string> Chain(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = parts.Length; i >= 1; i--) yield return "/" + string.Join('/', parts.Take(i));
    }

    /// <summary>
    /// What only the host can tell: a data folder that exists and anyone may write (a sticky /tmp-like
    /// folder), a program that is not root's or sits in a folder someone else could write.
    /// </summary>
    public static string? HostRefusal(PathRole role, string path, Func<string, Host.Entry> stat)
    {
        const int OtherWrite = 0x2, GroupOrOtherWrite = 0x12;
        if (role == PathRole.Data && stat(path) is { Kind: Host.EntryKind.Directory } folder && ((int)folder.Mode & OtherWrite) != 0)
            return $"{path} is writable by everyone (mode {Planning.Planner.Octal(folder.Mode)}); a PHI or evidence folder must not be";
        if (role != PathRole.Program) return null;
        foreach (var p in Chain(path))
        {
            var e = stat(p);
            if (e.Kind == Host.EntryKind.Missing) continue;
            if (e.Kind == Host.EntryKind.Symlink) return $"{p} is a symlink; the program a root job runs must be reached without one";
            if (e.Uid != 0 || ((int)e.Mode & GroupOrOtherWrite) != 0)
                return $"{p} is owned by uid {e.Uid} with mode {Planning.Planner.Octal(e.Mode)}: someone other than root could replace the program a root job runs";
        }
        return null;
    }
}
