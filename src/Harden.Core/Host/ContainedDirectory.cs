using Microsoft.Win32.SafeHandles;

namespace Harden.Host;

/// <summary>What a path names, seen without following it.</summary>
public enum EntryKind { Missing, File, Directory, Symlink, Fifo, Socket, Device, Other }

/// <summary>One entry's kind, permission bits, owner and size.</summary>
public readonly record struct Entry(EntryKind Kind, UnixFileMode Mode, uint Uid, uint Gid, ulong Size)
{
    public static readonly Entry Missing = new(EntryKind.Missing, 0, 0, 0, 0);

    internal static Entry From(Native.Stat s) => new(KindOf(s.Type), s.Mode, s.Uid, s.Gid, s.Size);

    internal static EntryKind KindOf(int type) => type switch
    {
        Native.RegularFile => EntryKind.File,
        Native.DirectoryType => EntryKind.Directory,
        Native.SymlinkType => EntryKind.Symlink,
        0x1000 => EntryKind.Fifo,
        0xC000 => EntryKind.Socket,
        0x2000 or 0x6000 => EntryKind.Device,
        _ => EntryKind.Other,
    };

    public string Describe() => Kind switch
    {
        EntryKind.Fifo => "a FIFO",
        EntryKind.Socket => "a socket",
        EntryKind.Device => "a device",
        EntryKind.Directory => "a directory",
        EntryKind.Symlink => "a symlink",
        EntryKind.Missing => "missing",
        EntryKind.File => "a file",
        _ => "not a regular file",
    };
}

/// <summary>A path that cannot be reached without following a symlink or passing through something that is not a directory.</summary>
public sealed class PathBlockedException(string message, string blocker) : HardenException(message)
{
    /// <summary>The component that blocks, as "host path -> link target" for a link.</summary>
    public string Blocker { get; } = blocker;
}

/// <summary>
/// A directory opened once, under which every path is reached one component at a time relative to
/// the handle of its parent (openat with O_NOFOLLOW on each component, the portable form of
/// <c>openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)</c>). A symlink anywhere on the way is refused,
/// not resolved, and ".." never appears, so nothing an image or a templates folder contains can lead
/// a read or a write outside it, even if it is swapped between a check and the use. Files are
/// opened only when they are regular files; new files and folders get explicit modes (no umask).
/// </summary>
public sealed class ContainedDirectory
{
    private readonly SafeFileHandle _handle;

    /// <summary>The directory's path on this machine (for messages, and for programs given a path).</summary>
    public string Path { get; }

    private ContainedDirectory(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
    }

    /// <summary>Opens a directory of this machine; the path itself is the operator's and may go through links.</summary>
    public static ContainedDirectory Open(string path)
    {
        var handle = Native.TryOpenAt(null, path, Native.ORdOnly | Native.ODirectory, 0, out var errno)
            ?? throw new HardenException($"'{path}' does not exist or is not a directory ({Native.Describe(errno)})");
        return new ContainedDirectory(path, handle);
    }

    /// <summary>
    /// One of the operator's own input files (a saved plan, a profile), by the path they gave: links in
    /// that path are theirs to use, but only a regular file of at most <paramref name="maxSize"/> is
    /// read, so a FIFO or a device cannot hang or feed harden.
    /// </summary>
    public static byte[] ReadInput(string path, ulong maxSize, string what)
    {
        using var file = Native.TryOpenAt(null, path, Native.ORdOnly | Native.ONonBlock | Native.ONoCtty, 0, out var errno)
            ?? throw new HardenException(errno == Native.ENoEnt ? $"{what} '{path}' does not exist" : $"{what} '{path}': {Native.Describe(errno)}");
        var stat = Native.StatOf(file);
        if (stat.Type != Native.RegularFile) throw new HardenException($"{what} '{path}' is {Entry.From(stat).Describe()}, not a regular file");
        if (stat.Size > maxSize) throw new HardenException($"{what} '{path}' is {stat.Size} bytes; harden reads at most {maxSize >> 20} MiB");
        return Native.ReadAll(file, stat.Size);
    }

    /// <summary>A relative path's host form, for messages.</summary>
    public string Show(string relative) => relative.Length == 0 ? Path : (Path == "/" ? "/" : Path + "/") + relative;

    private static string[] Split(string relative)
    {
        if (relative.Length == 0) return [];
        if (!SafePath.IsRelative(relative)) throw new HardenException($"path '{relative}' has an empty, '.' or '..' segment");
        return relative.Split('/');
    }

    /// <summary>
    /// Walks to the folder that holds the last component. Null when a folder on the way is missing
    /// (and <paramref name="created"/> is null); with <paramref name="created"/>, missing folders are
    /// made 0755 root:root and listed.
    /// </summary>
    private (SafeFileHandle Parent, string Name)? Walk(string relative, List<string>? created = null)
    {
        var parts = Split(relative);
        if (parts.Length == 0) throw new HardenException($"{Path}: expected a path below it");
        var current = _handle;
        var walked = "";
        try
        {
            foreach (var part in parts[..^1])
            {
                walked = walked.Length == 0 ? part : walked + "/" + part;
                // O_RDONLY rather than O_PATH: the folder's handle is also fsync'd after a rename in it.
                var next = Native.TryOpenAt(current, part, Native.ORdOnly | Native.ODirectory | Native.ONoFollow, 0, out var errno);
                if (next is null && errno == Native.ENoEnt && created is not null)
                {
                    var made = Native.TryMkdirAt(current, part, 0);
                    if (made != 0 && made != Native.EExist) throw new IOException($"mkdir {Show(walked)}: {Native.Describe(made)}");
                    next = OpenDirectory(current, part, walked);
                    if (made == 0)
                    {
                        Native.Chown(next, 0, 0);
                        // Set, not masked: a 0000 umask would otherwise leave the folder world-writable.
                        Native.Chmod(next, FolderMode);
                        created.Add(walked);
                    }
                }
                if (next is null)
                {
                    if (errno == Native.ENoEnt) return null;
                    throw Blocked(current, part, walked, errno);
                }
                if (current != _handle) current.Dispose();
                current = next;
            }
            return (current, parts[^1]);
        }
        catch
        {
            if (current != _handle) current.Dispose();
            throw;
        }
    }

    private SafeFileHandle OpenDirectory(SafeFileHandle parent, string name, string relative) =>
        Native.TryOpenAt(parent, name, Native.ORdOnly | Native.ODirectory | Native.ONoFollow, 0, out var errno)
            ?? throw Blocked(parent, name, relative, errno);

    private PathBlockedException Blocked(SafeFileHandle parent, string name, string relative, int errno)
    {
        if (Native.TryStatAt(parent, name, out var stat) == 0 && stat.Type == Native.SymlinkType)
        {
            var blocker = $"{Show(relative)} -> {Native.ReadLinkAt(parent, name)}";
            return new PathBlockedException($"{Show(relative)} is a symlink ({blocker}); harden never follows links inside {Path}", blocker);
        }
        if (errno is Native.ENotDir or Native.ELoop || Native.TryStatAt(parent, name, out _) == 0)
            return new PathBlockedException($"{Show(relative)} is not a directory", $"{Show(relative)} (not a directory)");
        return new PathBlockedException($"{Show(relative)}: {Native.Describe(errno)}", Show(relative));
    }

    private void Release(SafeFileHandle parent)
    {
        if (parent != _handle) parent.Dispose();
    }

    /// <summary>What the path names, without following it. A symlink on the way throws <see cref="PathBlockedException"/>.</summary>
    public Entry Stat(string relative)
    {
        if (relative.Length == 0) return Entry.From(Native.StatOf(_handle));
        if (Walk(relative) is not var (parent, name)) return Entry.Missing;
        try
        {
            var errno = Native.TryStatAt(parent, name, out var stat);
            if (errno is Native.ENoEnt) return Entry.Missing;
            return errno == 0 ? Entry.From(stat) : throw new IOException($"stat {Show(relative)}: {Native.Describe(errno)}");
        }
        finally
        {
            Release(parent);
        }
    }

    /// <summary>
    /// A regular file's bytes and metadata; for anything else (or a file above <paramref name="maxSize"/>)
    /// only the metadata, and the file is never opened (a FIFO would block, a device could act).
    /// </summary>
    public (Entry Entry, byte[]? Content) Read(string relative, ulong maxSize)
    {
        if (Walk(relative) is not var (parent, name)) return (Entry.Missing, null);
        try
        {
            var errno = Native.TryStatAt(parent, name, out var before);
            if (errno == Native.ENoEnt) return (Entry.Missing, null);
            if (errno != 0) throw new IOException($"stat {Show(relative)}: {Native.Describe(errno)}");
            if (before.Type != Native.RegularFile || before.Size > maxSize) return (Entry.From(before), null);
            using var file = Native.TryOpenAt(parent, name, Native.ORdOnly | Native.ONoFollow | Native.ONonBlock | Native.ONoCtty, 0, out errno);
            if (file is null)
            {
                if (errno == Native.ENoEnt) return (Entry.Missing, null);
                throw errno == Native.ELoop ? Blocked(parent, name, relative, errno) : new IOException($"open {Show(relative)}: {Native.Describe(errno)}");
            }
            // Swapped between the look and the open: judge what was opened.
            var opened = Native.StatOf(file);
            if (opened.Type != Native.RegularFile || opened.Size > maxSize) return (Entry.From(opened), null);
            return (Entry.From(opened), Native.ReadAll(file, opened.Size));
        }
        finally
        {
            Release(parent);
        }
    }

    /// <summary>
    /// Replaces a file so it is never seen half-written: a new file (O_EXCL, never a link) beside the
    /// target, owner and mode set on the handle, fsync, renameat over the target, fsync of the folder.
    /// The folder must exist. A target that is a directory, or a link on the way, is refused.
    /// </summary>
    /// <param name="durable">False for records whose loss in a power cut is harmless (still never seen half-written).</param>
    public void Write(string relative, ReadOnlySpan<byte> content, UnixFileMode mode, uint uid, uint gid, bool durable = true)
    {
        if (Walk(relative) is not var (parent, name))
            throw new IOException($"{Show(relative)}: its folder does not exist");
        var temp = $".{name}.harden-{Guid.NewGuid():N}";
        var placed = false;
        try
        {
            using (var file = Native.TryOpenAt(parent, temp, Native.OWrOnly | Native.OCreat | Native.OExcl | Native.ONoFollow, 0b110_000_000, out var errno)
                ?? throw new IOException($"create: {Native.Describe(errno)}"))
            {
                Native.WriteAll(file, content);
                Native.Chown(file, uid, gid);
                // After chown, which clears setuid/setgid bits.
                Native.Chmod(file, mode);
                if (durable) Native.Fsync(file);
            }
            Native.RenameAt(parent, temp, name);
            placed = true;
            if (durable) Native.Fsync(parent);
        }
        catch (IOException e)
        {
            throw new IOException($"{Show(relative)}: {e.Message}", e);
        }
        finally
        {
            if (!placed) Native.TryUnlinkAt(parent, temp, 0);
            Release(parent);
        }
    }

    /// <summary>
    /// Sets the permission bits of an existing regular file or folder, never through a link and never
    /// on anything else (opening a device can act). False when the path is missing or of another kind.
    /// </summary>
    public bool SetMode(string relative, UnixFileMode mode)
    {
        if (Walk(relative) is not var (parent, name)) return false;
        try
        {
            if (Native.TryStatAt(parent, name, out var seen) != 0 || seen.Type is not (Native.RegularFile or Native.DirectoryType)) return false;
            var flags = Native.ORdOnly | Native.ONoFollow | Native.ONonBlock | (seen.Type == Native.DirectoryType ? Native.ODirectory : 0);
            using var handle = Native.TryOpenAt(parent, name, flags, 0, out var errno) ?? throw new IOException($"open {Show(relative)}: {Native.Describe(errno)}");
            // The entry may have been swapped between stat and open: change only what was looked at.
            var opened = Native.StatOf(handle);
            if (opened.Inode != seen.Inode || opened.Type != seen.Type) return false;
            Native.Chmod(handle, mode);
            return true;
        }
        finally
        {
            Release(parent);
        }
    }

    /// <summary>Removes a file (never a directory, never through a link). False when it was not there.</summary>
    /// <summary>
    /// Removes a symbolic link itself (never what it points to); the folders on the way are walked
    /// without following links like every other path. False when nothing is there; anything that is
    /// not a link is refused.
    /// </summary>
    public bool DeleteLink(string relative)
    {
        if (Walk(relative) is not var (parent, name)) return false;
        try
        {
            var errno = Native.TryStatAt(parent, name, out var stat);
            if (errno == Native.ENoEnt) return false;
            if (errno != 0) throw new IOException($"stat {Show(relative)}: {Native.Describe(errno)}");
            if (stat.Type != Native.SymlinkType) throw new HardenException($"{Show(relative)} is not a symbolic link");
            errno = Native.TryUnlinkAt(parent, name, 0);
            if (errno != 0 && errno != Native.ENoEnt) throw new IOException($"delete {Show(relative)}: {Native.Describe(errno)}");
            Native.Fsync(parent);
            return errno == 0;
        }
        finally
        {
            Release(parent);
        }
    }

    public bool Delete(string relative, bool durable = true)
    {
        if (Walk(relative) is not var (parent, name)) return false;
        try
        {
            var errno = Native.TryStatAt(parent, name, out var stat);
            if (errno == Native.ENoEnt) return false;
            if (errno != 0) throw new IOException($"stat {Show(relative)}: {Native.Describe(errno)}");
            if (stat.Type == Native.SymlinkType) throw Blocked(parent, name, relative, Native.ELoop);
            if (stat.Type == Native.DirectoryType) throw new HardenException($"{Show(relative)} is a directory, not a file");
            errno = Native.TryUnlinkAt(parent, name, 0);
            if (errno == Native.ENoEnt) return false;
            if (errno != 0) throw new IOException($"delete {Show(relative)}: {Native.Describe(errno)}");
            if (durable) Native.Fsync(parent);
            return true;
        }
        finally
        {
            Release(parent);
        }
    }

    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Creates the missing folders above a path, each 0755 root:root.</summary>
    /// <returns>The folders it created, outermost first.</returns>
    public IReadOnlyList<string> CreateParents(string relative)
    {
        var created = new List<string>();
        if (Walk(relative, created) is var (parent, _)) Release(parent);
        return created;
    }

    /// <summary>Creates the folder (and missing parents) or sets its owner and mode, on the folder's own handle.</summary>
    /// <returns>The folders it created, outermost first.</returns>
    public IReadOnlyList<string> EnsureDirectory(string relative, UnixFileMode mode, uint uid, uint gid)
    {
        var created = new List<string>();
        var (parent, name) = Walk(relative, created)!.Value;
        try
        {
            var made = Native.TryMkdirAt(parent, name, 0);
            if (made != 0 && made != Native.EExist) throw new IOException($"mkdir {Show(relative)}: {Native.Describe(made)}");
            using var folder = OpenDirectory(parent, name, relative);
            if (made == 0) created.Add(relative);
            Native.Chown(folder, uid, gid);
            // chmod after chown: chown clears setgid on some file systems.
            Native.Chmod(folder, mode);
            Native.Fsync(parent);
            return created;
        }
        finally
        {
            Release(parent);
        }
    }

    /// <summary>Removes a folder if it is empty; false when it is missing, not empty, or not a folder.</summary>
    public bool RemoveEmptyDirectory(string relative)
    {
        if (Walk(relative) is not var (parent, name)) return false;
        try
        {
            var errno = Native.TryUnlinkAt(parent, name, Native.AtRemoveDir);
            if (errno is Native.ENoEnt or Native.ENotEmpty or Native.EExist or Native.ENotDir) return false;
            if (errno != 0) throw new IOException($"rmdir {Show(relative)}: {Native.Describe(errno)}");
            Native.Fsync(parent);
            return true;
        }
        finally
        {
            Release(parent);
        }
    }

    /// <summary>Removes a folder harden made and everything in it, links removed as links.</summary>
    public void RemoveTree(string relative)
    {
        foreach (var (name, kind) in List(relative) ?? [])
        {
            var child = relative + "/" + name;
            if (kind == EntryKind.Directory) RemoveTree(child);
            else if (Walk(child) is var (parent, leaf))
            {
                Native.TryUnlinkAt(parent, leaf, 0);
                Release(parent);
            }
        }
        RemoveEmptyDirectory(relative);
    }

    /// <summary>
    /// Regular files below a folder whose mode <paramref name="match"/>es, as relative paths in order:
    /// <c>find DIR -xdev -type f</c> done through handles, never through a link and never into another
    /// file system (a mounted share or /proc under a live root). A missing folder gives none.
    /// </summary>
    public IReadOnlyList<string> FindFiles(string relative, Func<UnixFileMode, bool> match)
    {
        var found = new List<string>();
        SafeFileHandle? start;
        if (relative.Length == 0)
        {
            start = Native.TryOpenAt(_handle, ".", Native.ORdOnly | Native.ODirectory, 0, out _);
        }
        else
        {
            if (Walk(relative) is not var (parent, name)) return found;
            try
            {
                start = Native.TryOpenAt(parent, name, Native.ORdOnly | Native.ODirectory | Native.ONoFollow, 0, out _);
            }
            finally
            {
                Release(parent);
            }
        }
        if (start is null) return found;
        using (start)
        {
            Visit(start, relative, Native.StatOf(start).Device, match, found, 0);
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>Deeper than any program folder; a tree planted deeper cannot exhaust the stack or the open files.</summary>
    private const int MaxDepth = 40;

    private static void Visit(SafeFileHandle folder, string prefix, ulong device, Func<UnixFileMode, bool> match, List<string> found, int depth)
    {
        if (depth > MaxDepth) return;
        foreach (var (name, type) in Native.ReadDirectory(folder))
        {
            // DT_DIR, DT_REG, or DT_UNKNOWN (ask); links, devices and the rest are never followed or read.
            if (type is not (4 or 8 or 0) || Native.TryStatAt(folder, name, out var stat) != 0) continue;
            var path = prefix.Length == 0 ? name : prefix + "/" + name;
            if (stat.Type == Native.RegularFile)
            {
                if (match(stat.Mode)) found.Add(path);
            }
            else if (stat.Type == Native.DirectoryType && stat.Device == device)
            {
                using var child = Native.TryOpenAt(folder, name, Native.ORdOnly | Native.ODirectory | Native.ONoFollow, 0, out _);
                if (child is not null) Visit(child, path, device, match, found, depth + 1);
            }
        }
    }

    /// <summary>The entries of a folder, by name, in no order; null when it is missing, a link, or not a folder.</summary>
    public IReadOnlyList<(string Name, EntryKind Kind)>? List(string relative)
    {
        if (relative.Length == 0)
        {
            using var self = Native.TryOpenAt(_handle, ".", Native.ORdOnly | Native.ODirectory, 0, out _);
            return self is null ? null : Entries(self);
        }
        if (Walk(relative) is not var (parent, name)) return null;
        try
        {
            using var folder = Native.TryOpenAt(parent, name, Native.ORdOnly | Native.ODirectory | Native.ONoFollow, 0, out _);
            return folder is null ? null : Entries(folder);
        }
        finally
        {
            Release(parent);
        }
    }

    private static List<(string, EntryKind)> Entries(SafeFileHandle folder)
    {
        var found = new List<(string, EntryKind)>();
        foreach (var (entry, type) in Native.ReadDirectory(folder))
        {
            var kind = type switch
            {
                4 => EntryKind.Directory,
                8 => EntryKind.File,
                10 => EntryKind.Symlink,
                1 => EntryKind.Fifo,
                12 => EntryKind.Socket,
                2 or 6 => EntryKind.Device,
                // DT_UNKNOWN (some file systems): ask.
                _ => Native.TryStatAt(folder, entry, out var s) == 0 ? Entry.KindOf(s.Type) : EntryKind.Other,
            };
            found.Add((entry, kind));
        }
        return found;
    }

    /// <summary>A link's text (the link is read, never followed); null when the path is not a link.</summary>
    public string? ReadLink(string relative)
    {
        if (Walk(relative) is not var (parent, name)) return null;
        try
        {
            return Native.TryStatAt(parent, name, out var stat) == 0 && stat.Type == Native.SymlinkType ? Native.ReadLinkAt(parent, name) : null;
        }
        finally
        {
            Release(parent);
        }
    }

    /// <summary>
    /// Opens (creating 0600 if needed) and locks a lock file, never through a link.
    /// </summary>
    /// <returns>The locked handle, or null when another process holds the lock.</returns>
    public SafeFileHandle? TryLock(string relative)
    {
        var (parent, name) = Walk(relative) ?? throw new IOException($"{Show(relative)}: its folder does not exist");
        try
        {
            var file = Native.TryOpenAt(parent, name, Native.ORdWr | Native.OCreat | Native.ONoFollow | Native.ONonBlock, 0b110_000_000, out var errno);
            if (file is null)
            {
                if (errno == Native.ELoop) throw Blocked(parent, name, relative, errno);
                throw new IOException($"open {Show(relative)}: {Native.Describe(errno)}");
            }
            if (Native.StatOf(file).Type != Native.RegularFile)
            {
                file.Dispose();
                throw new HardenException($"{Show(relative)} is not a regular file; remove it");
            }
            if (Native.TryLockExclusive(file)) return file;
            file.Dispose();
            return null;
        }
        finally
        {
            Release(parent);
        }
    }
}
