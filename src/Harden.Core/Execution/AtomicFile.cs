using Harden.Host;

namespace Harden.Execution;

/// <summary>
/// Writes that are never seen half-done, made through the root's handle (see
/// <see cref="ContainedDirectory.Write"/>): a temp file beside the target, fsync, mode and owner set
/// on the open handle, rename over the target, fsync of the directory.
/// </summary>
public static class AtomicFile
{
    public static void Write(HostRoot root, string targetPath, byte[] content, UnixFileMode mode, uint uid, uint gid)
    {
        RefuseLink(root, targetPath);
        root.CreateParents(targetPath);
        root.Write(targetPath, content, mode, uid, gid);
    }

    /// <summary>
    /// A rename would replace a link rather than write through it, which is safe; but a managed path
    /// that became a link is a change someone made on purpose, so harden says so instead.
    /// </summary>
    private static void RefuseLink(HostRoot root, string targetPath)
    {
        if (root.Stat(targetPath).Kind == EntryKind.Symlink)
            throw new PathBlockedException($"refusing to write through a symlink: {root.Map(targetPath)}", root.Map(targetPath));
    }

    /// <summary>Creates the missing folders above a target path, each 0755 root:root whatever the process umask, never through a link.</summary>
    /// <returns>The folders it created, outermost first.</returns>
    public static IReadOnlyList<string> CreateParents(HostRoot root, string targetPath) => root.CreateParents(targetPath);

    private static readonly System.Text.RegularExpressions.Regex TemporaryName =
        new(@"^\..+\.harden-[0-9a-f]{32}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// Removes temporary files a killed run left half-written (never renamed into place) in the given
    /// folders of the root. Only regular files named in harden's own pattern; links and folders are left alone.
    /// </summary>
    public static int SweepTemporaryFiles(HostRoot root, IEnumerable<string> targetDirectories)
    {
        var removed = 0;
        foreach (var dir in targetDirectories.Distinct())
        {
            if (!SafePath.IsAbsolute(dir) || root.List(dir) is not { } entries) continue;
            foreach (var (name, kind) in entries)
            {
                if (kind != EntryKind.File || !TemporaryName.IsMatch(name)) continue;
                if (root.Delete((dir == "/" ? "" : dir) + "/" + name)) removed++;
            }
        }
        return removed;
    }

    public static void Delete(HostRoot root, string targetPath)
    {
        RefuseLink(root, targetPath);
        root.Delete(targetPath);
    }
}
