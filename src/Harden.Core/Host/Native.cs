using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Harden.Host;

/// <summary>
/// The POSIX calls .NET does not expose: the *at family (every path harden opens is reached relative
/// to a directory handle), owners, flock and directory fsync. statx has one layout on every
/// architecture, unlike struct stat, so there are no per-arch offsets; only the O_ flags differ.
/// </summary>
internal static unsafe partial class Native
{
    public const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const int AtNoAutomount = 0x800;
    public const int AtRemoveDir = 0x200;
    private const uint StatxBasicStats = 0x7FF;

    public const int ORdOnly = 0, OWrOnly = 1, ORdWr = 2, OCreat = 0x40, OExcl = 0x80, ONoCtty = 0x100, ONonBlock = 0x800;
    public const int OCloexec = 0x80000;
    // The two flags whose values differ between x86-64 and arm64 (asm-generic).
    public static readonly int ODirectory = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x4000 : 0x10000;
    public static readonly int ONoFollow = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x8000 : 0x20000;

    public const int ENoEnt = 2, ENxio = 6, EAgain = 11, EAccess = 13, EExist = 17, ENotDir = 20, EIsDir = 21, ENotEmpty = 39, ELoop = 40;

    public const int RegularFile = 0x8000;
    public const int DirectoryType = 0x4000;
    public const int SymlinkType = 0xA000;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxCall(int dirfd, string path, int flags, uint mask, byte* buffer);

    // openat is variadic in C; the mode travels in the same register either way on x86-64 and arm64 Linux.
    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenAtCall(int dirfd, string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkdirAtCall(int dirfd, string path, uint mode);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkAtCall(int dirfd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAtCall(int olddirfd, string oldpath, int newdirfd, string newpath);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint ReadLinkAtCall(int dirfd, string path, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    private static partial nint GetDents64Call(int fd, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadCall(int fd, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteCall(int fd, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    private static partial int FchownCall(int fd, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int FchmodCall(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncCall(int fd);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int FlockCall(int fd, int operation);

    private static int Errno => Marshal.GetLastPInvokeError();
    private static string Error => Marshal.GetLastPInvokeErrorMessage();

    private static int Fd(SafeFileHandle handle) => (int)handle.DangerousGetHandle();

    /// <summary>What statx says of one entry: type bits, permission bits, owner, size and identity.</summary>
    public readonly record struct Stat(int Type, UnixFileMode Mode, uint Uid, uint Gid, ulong Size, ulong Inode, ulong Device);

    private static Stat Parse(byte* b) => new(
        // struct statx (linux/stat.h): uid 20, gid 24, mode 28 (u16), ino 32, size 40, dev major/minor 136/140.
        *(ushort*)(b + 28) & 0xF000, (UnixFileMode)(*(ushort*)(b + 28) & 0xFFF), *(uint*)(b + 20), *(uint*)(b + 24),
        *(ulong*)(b + 40), *(ulong*)(b + 32), ((ulong)*(uint*)(b + 136) << 32) | *(uint*)(b + 140));

    /// <summary>The entry <paramref name="name"/> in a directory, never following it; errno on failure.</summary>
    public static int TryStatAt(SafeFileHandle dir, string name, out Stat stat)
    {
        var buffer = stackalloc byte[256];
        stat = default;
        // AT_NO_AUTOMOUNT: looking at an autofs mount point (a home on an unreachable NFS server) must not mount it.
        if (StatxCall(Fd(dir), name, AtSymlinkNoFollow | AtNoAutomount, StatxBasicStats, buffer) != 0) return Errno;
        stat = Parse(buffer);
        return 0;
    }

    /// <summary>The file an open handle refers to (including an O_PATH handle).</summary>
    public static Stat StatOf(SafeFileHandle handle)
    {
        var buffer = stackalloc byte[256];
        if (StatxCall(Fd(handle), "", AtEmptyPath, StatxBasicStats, buffer) != 0) throw new IOException($"fstat: {Error}");
        return Parse(buffer);
    }

    /// <returns>The new handle, or null with <paramref name="errno"/> set.</returns>
    public static SafeFileHandle? TryOpenAt(SafeFileHandle? dir, string path, int flags, uint mode, out int errno)
    {
        var fd = OpenAtCall(dir is null ? AtFdCwd : Fd(dir), path, flags | OCloexec, mode);
        errno = fd < 0 ? Errno : 0;
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    public static int TryMkdirAt(SafeFileHandle dir, string name, uint mode) => MkdirAtCall(Fd(dir), name, mode) == 0 ? 0 : Errno;

    /// <summary>mkdir(2) by path: fails (EEXIST) when anything, a link included, is already there.</summary>
    public static int TryMkdir(string path, uint mode) => MkdirAtCall(AtFdCwd, path, mode) == 0 ? 0 : Errno;

    public static int TryUnlinkAt(SafeFileHandle dir, string name, int flags) => UnlinkAtCall(Fd(dir), name, flags) == 0 ? 0 : Errno;

    public static void RenameAt(SafeFileHandle dir, string from, string to)
    {
        if (RenameAtCall(Fd(dir), from, Fd(dir), to) != 0) throw new IOException($"rename: {Error}");
    }

    public static string ReadLinkAt(SafeFileHandle dir, string name)
    {
        var buffer = stackalloc byte[4096];
        var n = ReadLinkAtCall(Fd(dir), name, buffer, 4096);
        return n < 0 ? "?" : System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }

    /// <summary>Names and d_type of every entry but "." and "..", read with getdents64 (its layout is the kernel's, the same on every arch).</summary>
    public static List<(string Name, int DType)> ReadDirectory(SafeFileHandle dir)
    {
        var entries = new List<(string, int)>();
        var buffer = new byte[32768];
        fixed (byte* b = buffer)
        {
            while (true)
            {
                var n = GetDents64Call(Fd(dir), b, (nuint)buffer.Length);
                if (n < 0) throw new IOException($"getdents64: {Error}");
                if (n == 0) return entries;
                for (var offset = 0; offset < n;)
                {
                    // struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16 at 16, d_type u8 at 18, d_name at 19.
                    var length = *(ushort*)(b + offset + 16);
                    var name = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpanFromNullTerminated(b + offset + 19);
                    var text = System.Text.Encoding.UTF8.GetString(name);
                    if (text is not "." and not "..") entries.Add((text, b[offset + 18]));
                    offset += length;
                }
            }
        }
    }

    public static byte[] ReadAll(SafeFileHandle file, ulong size)
    {
        var content = new byte[size];
        var done = 0;
        fixed (byte* b = content)
        {
            while (done < content.Length)
            {
                var n = ReadCall(Fd(file), b + done, (nuint)(content.Length - done));
                if (n < 0) throw new IOException($"read: {Error}");
                if (n == 0) break;
                done += (int)n;
            }
        }
        // The file shrank while it was read: return what was there.
        return done == content.Length ? content : content[..done];
    }

    public static void WriteAll(SafeFileHandle file, ReadOnlySpan<byte> content)
    {
        fixed (byte* b = content)
        {
            var done = 0;
            while (done < content.Length)
            {
                var n = WriteCall(Fd(file), b + done, (nuint)(content.Length - done));
                if (n < 0) throw new IOException($"write: {Error}");
                done += (int)n;
            }
        }
    }

    public static void Chown(SafeFileHandle handle, uint uid, uint gid)
    {
        if (FchownCall(Fd(handle), uid, gid) != 0) throw new IOException($"fchown: {Error}");
    }

    public static void Chmod(SafeFileHandle handle, UnixFileMode mode)
    {
        if (FchmodCall(Fd(handle), (uint)mode) != 0) throw new IOException($"fchmod: {Error}");
    }

    public static void Fsync(SafeFileHandle handle)
    {
        if (FsyncCall(Fd(handle)) != 0) throw new IOException($"fsync: {Error}");
    }

    /// <summary>An exclusive flock without waiting; false when another process holds it.</summary>
    public static bool TryLockExclusive(SafeFileHandle handle)
    {
        const int LockEx = 2, LockNb = 4;
        if (FlockCall(Fd(handle), LockEx | LockNb) == 0) return true;
        var errno = Errno;
        return errno == EAgain ? false : throw new IOException($"flock: {Error}");
    }

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
