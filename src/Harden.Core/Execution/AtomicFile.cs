using Harden.Host;

namespace Harden.Execution;

/// <summary>
/// Writes that are never seen half-done: a temp file in the same directory, fsync, mode and owner
/// set on the open handle, rename over the target, fsync of the directory.
/// </summary>
public static class AtomicFile
{
    public static void Write(HostRoot root, string targetPath, byte[] content, UnixFileMode mode, uint uid, uint gid)
    {
        var mapped = root.Resolve(targetPath);
        CreateParents(root, targetPath);
        WriteMapped(mapped, content, mode, uid, gid);
    }

    /// <summary>For harden's own state files, whose paths it builds itself.</summary>
    /// <param name="durable">False for records whose loss in a power cut is harmless (still never seen half-written).</param>
    internal static void WriteMapped(string mapped, byte[] content, UnixFileMode mode, uint uid, uint gid, bool durable = true)
    {
        var directory = Path.GetDirectoryName(mapped)!;
        var temp = Path.Combine(directory, $".{Path.GetFileName(mapped)}.harden-{Guid.NewGuid():N}");
        try
        {
            using (var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: durable);
                Native.Chown(stream.SafeFileHandle, uid, gid);
                File.SetUnixFileMode(stream.SafeFileHandle, mode);
            }
            File.Move(temp, mapped, overwrite: true);
            if (durable) Native.FsyncDirectory(directory);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>
    /// Creates the missing folders above a target path, each 0755 root:root whatever the process
    /// umask (0000 would leave them world-writable), never through a link.
    /// </summary>
    /// <returns>The folders it created, outermost first.</returns>
    public static IReadOnlyList<string> CreateParents(HostRoot root, string targetPath)
    {
        var created = new List<string>();
        var current = "";
        var parts = targetPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var part in parts[..^1])
        {
            current += "/" + part;
            var mapped = root.Resolve(current);
            if (Directory.Exists(mapped)) continue;
            if (File.Exists(mapped)) throw new HardenException($"{current} exists and is not a directory");
            Directory.CreateDirectory(mapped);
            File.SetUnixFileMode(mapped, FolderMode);
            Native.Chown(mapped, 0, 0);
            created.Add(current);
        }
        return created;
    }

    private static readonly System.Text.RegularExpressions.Regex TemporaryName =
        new(@"^\..+\.harden-[0-9a-f]{32}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// Removes temporary files a killed run left half-written (never renamed into place) in the given
    /// folders of the root. Only names of harden's own pattern; links and folders are left alone.
    /// </summary>
    public static int SweepTemporaryFiles(HostRoot root, IEnumerable<string> targetDirectories)
    {
        var removed = 0;
        foreach (var dir in targetDirectories.Distinct())
        {
            if (!SafePath.IsAbsolute(dir) || root.FindSymlink(dir) is not null || !Directory.Exists(root.Map(dir))) continue;
            foreach (var file in Directory.EnumerateFiles(root.Map(dir)))
            {
                if (!TemporaryName.IsMatch(Path.GetFileName(file)) || new FileInfo(file).LinkTarget is not null) continue;
                File.Delete(file);
                removed++;
            }
        }
        return removed;
    }

    public static void Delete(HostRoot root, string targetPath)
    {
        var mapped = root.Resolve(targetPath);
        if (!File.Exists(mapped)) return;
        File.Delete(mapped);
        Native.FsyncDirectory(Path.GetDirectoryName(mapped)!);
    }
}
