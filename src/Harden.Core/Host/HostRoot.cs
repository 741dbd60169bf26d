namespace Harden.Host;

/// <summary>
/// The file system a run works on: <c>/</c> for the live host, or an offline image root. Every
/// target path goes through <see cref="Resolve"/>, which keeps it inside the root and refuses
/// symlinks anywhere on the way, so a link planted in an image can never redirect a write
/// onto the real host's files.
/// </summary>
public sealed record HostRoot
{
    public string Path { get; }
    public bool IsLive => Path == "/";

    private HostRoot(string path) => Path = path;

    public static HostRoot Open(string? root)
    {
        var given = string.IsNullOrEmpty(root) ? "/" : root;
        if (given.Any(char.IsControl))
            throw new HardenException("--root contains a control character");
        var full = System.IO.Path.GetFullPath(given);
        var dir = new DirectoryInfo(full);
        if (!dir.Exists)
            throw new HardenException($"--root '{given}' does not exist or is not a directory");
        // The root itself may be reached through a link (e.g. /mnt/image -> /srv/img); use its real path.
        var real = dir.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
        real = real.Length > 1 ? real.TrimEnd('/') : real;
        return new HostRoot(real);
    }

    /// <summary>Maps an absolute target path (as seen inside the root) to a path on this machine.</summary>
    public string Map(string targetPath)
    {
        if (!SafePath.IsAbsolute(targetPath))
            throw new HardenException($"path '{targetPath}' must be absolute, without '.' or '..'");
        return IsLive ? targetPath : Path + targetPath;
    }

    /// <summary>
    /// The first symlink among the path's existing components (including the file itself), or null.
    /// </summary>
    public string? FindSymlink(string targetPath)
    {
        var current = IsLive ? "" : Path;
        foreach (var part in targetPath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current += "/" + part;
            var info = new FileInfo(current);
            if (info.LinkTarget is { } target) return $"{current} -> {target}";
            if (!info.Exists && !Directory.Exists(current)) return null;
        }
        return null;
    }

    /// <summary>Maps and checks a path that is about to be written or deleted.</summary>
    public string Resolve(string targetPath)
    {
        var mapped = Map(targetPath);
        if (FindSymlink(targetPath) is { } link)
            throw new HardenException($"refusing to write through a symlink: {link}");
        return mapped;
    }
}
