using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Harden.Host;

/// <summary>
/// The few POSIX calls .NET does not expose: owners (statx/fchown/lchown) and directory fsync.
/// statx has one layout on every architecture, unlike struct stat, so no per-arch offsets.
/// </summary>
internal static unsafe partial class Native
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7FF;
    private const int ODirectory = 0x10000;
    private const int OCloexec = 0x80000;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxCall(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    private static partial int FchownCall(nint fd, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LchownCall(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenCall(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncCall(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseCall(int fd);

    /// <summary>Type bits (S_IFMT of stx_mode) and size of a path, not following a final symlink.</summary>
    public static (int Type, ulong Size) TypeAndSize(string path)
    {
        var buffer = stackalloc byte[256];
        if (StatxCall(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
            throw new IOException($"statx {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        // struct statx: stx_mode (u16) at offset 28, stx_size (u64) at 40 (linux/stat.h).
        return (*(ushort*)(buffer + 28) & 0xF000, *(ulong*)(buffer + 40));
    }

    public const int RegularFile = 0x8000;
    public const int DirectoryType = 0x4000;

    /// <summary>Owner and group of a path, not following a final symlink.</summary>
    public static (uint Uid, uint Gid) Owner(string path)
    {
        var buffer = stackalloc byte[256];
        if (StatxCall(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
            throw new IOException($"statx {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        // struct statx: stx_uid at offset 20, stx_gid at 24 (linux/stat.h).
        return (*(uint*)(buffer + 20), *(uint*)(buffer + 24));
    }

    public static void Chown(SafeFileHandle handle, uint uid, uint gid)
    {
        if (FchownCall(handle.DangerousGetHandle(), uid, gid) != 0)
            throw new IOException($"fchown: {Marshal.GetLastPInvokeErrorMessage()}");
    }

    /// <summary>Sets owner and group of a path, never following a final symlink.</summary>
    public static void Chown(string path, uint uid, uint gid)
    {
        if (LchownCall(path, uid, gid) != 0)
            throw new IOException($"lchown {path}: {Marshal.GetLastPInvokeErrorMessage()}");
    }

    /// <summary>Makes a rename in <paramref name="directory"/> durable across power loss.</summary>
    public static void FsyncDirectory(string directory)
    {
        var fd = OpenCall(directory, ODirectory | OCloexec);
        if (fd < 0) throw new IOException($"open {directory}: {Marshal.GetLastPInvokeErrorMessage()}");
        try
        {
            if (FsyncCall(fd) != 0) throw new IOException($"fsync {directory}: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        finally
        {
            CloseCall(fd);
        }
    }
}
