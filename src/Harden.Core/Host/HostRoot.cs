namespace Harden.Host;

/// <summary>
/// The file system a run works on: <c>/</c> for the live host, or an offline image root. The root is
/// opened once; every target path is then reached from that handle by <see cref="ContainedDirectory"/>,
/// one component at a time and never through a symlink, so a link planted in an image (or swapped in
/// while harden runs) can never redirect a read or a write onto the real host's files.
/// </summary>
public sealed record HostRoot
{
    public string Path { get; }

    /// <summary>
    /// A running system: the root is <c>/</c> and this process is not inside a chroot. Only then
    /// do the kernel's settings and audit rules and the running services belong to the target.
    /// Run inside a chroot (an image build: <c>chroot IMAGE harden apply</c>), harden treats <c>/</c>
    /// as the offline root it is, and never reaches the kernel or services of the machine around it.
    /// </summary>
    public bool IsLive => IsProcessRoot && !InChroot.Value;

    /// <summary>The root is this process's own <c>/</c>: target paths are used as they are.</summary>
    public bool IsProcessRoot => Path == "/";

    /// <summary>
    /// As systemd's running_in_chroot: this process's <c>/</c> is not init's (<c>/proc/1/root</c>).
    /// Without /proc (a bare chroot) there is no way to see a kernel either, so that counts as a
    /// chroot; a user who may not look at init's root (EACCES) is on a running system.
    /// </summary>
    private static readonly Lazy<bool> InChroot = new(() =>
    {
        using var own = Native.TryOpenAt(null, "/", Native.ODirectory | Native.ORdOnly, 0, out _);
        using var init = Native.TryOpenAt(null, "/proc/1/root", Native.ODirectory | Native.ORdOnly, 0, out var errno);
        if (own is null) return true;
        if (init is null) return errno != Native.EAccess;
        var (a, b) = (Native.StatOf(own), Native.StatOf(init));
        return a.Inode != b.Inode || a.Device != b.Device;
    });

    /// <summary>Every read and write under the root goes through this handle.</summary>
    public ContainedDirectory Files { get; }

    private HostRoot(string path, ContainedDirectory files)
    {
        Path = path;
        Files = files;
    }

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
        return new HostRoot(real, ContainedDirectory.Open(real));
    }

    /// <summary>
    /// Maps an absolute target path (as seen inside the root) to a path on this machine: for messages,
    /// and for programs that take a path. harden's own reads and writes use <see cref="Files"/>.
    /// </summary>
    public string Map(string targetPath)
    {
        var relative = Relative(targetPath);
        return IsProcessRoot ? "/" + relative : relative.Length == 0 ? Path : Path + "/" + relative;
    }

    /// <summary>A target path ("/etc/x") as a path below the root handle ("etc/x").</summary>
    public static string Relative(string targetPath)
    {
        if (!SafePath.IsAbsolute(targetPath))
            throw new HardenException($"path '{targetPath}' must be absolute, without '.' or '..'");
        return string.Join('/', targetPath.Split('/', StringSplitOptions.RemoveEmptyEntries));
    }

    public Entry Stat(string targetPath) => Files.Stat(Relative(targetPath));

    /// <summary>A regular file's bytes (null for anything else, or above <paramref name="maxSize"/>), never through a link.</summary>
    public (Entry Entry, byte[]? Content) Read(string targetPath, ulong maxSize) => Files.Read(Relative(targetPath), maxSize);

    public void Write(string targetPath, ReadOnlySpan<byte> content, UnixFileMode mode, uint uid, uint gid, bool durable = true) =>
        Files.Write(Relative(targetPath), content, mode, uid, gid, durable);

    public bool Delete(string targetPath) => Files.Delete(Relative(targetPath));

    /// <returns>Target paths of the folders it created, outermost first.</returns>
    public IReadOnlyList<string> CreateParents(string targetPath) => [.. Files.CreateParents(Relative(targetPath)).Select(r => "/" + r)];

    /// <returns>Target paths of the folders it created, outermost first.</returns>
    public IReadOnlyList<string> EnsureDirectory(string targetPath, UnixFileMode mode, uint uid, uint gid) =>
        [.. Files.EnsureDirectory(Relative(targetPath), mode, uid, gid).Select(r => "/" + r)];

    public bool RemoveEmptyDirectory(string targetPath) => Files.RemoveEmptyDirectory(Relative(targetPath));

    public void RemoveTree(string targetPath) => Files.RemoveTree(Relative(targetPath));

    /// <summary>A folder's entries; null when it is missing, a link, not a folder, or reached through a link.</summary>
    public IReadOnlyList<(string Name, EntryKind Kind)>? List(string targetPath)
    {
        try
        {
            return Files.List(Relative(targetPath));
        }
        catch (PathBlockedException)
        {
            return null;
        }
    }

    public bool IsDirectory(string targetPath)
    {
        try
        {
            return Stat(targetPath).Kind == EntryKind.Directory;
        }
        catch (PathBlockedException)
        {
            return false;
        }
    }
}
