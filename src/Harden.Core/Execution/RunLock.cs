using System.Text;
using Harden.Host;
using Microsoft.Win32.SafeHandles;

namespace Harden.Execution;

/// <summary>
/// One harden run per root at a time: an exclusive flock on <c>/var/lib/harden/lock</c>, which the
/// kernel drops when the process dies, so a crashed run never leaves a stale lock behind. The lock
/// file is opened through the root's handle, never through a link.
/// </summary>
public sealed class RunLock : IDisposable
{
    private const string LockFile = RunJournal.StateDirectory + "/lock";
    private const string OwnerFile = LockFile + ".owner";
    private readonly SafeFileHandle _handle;

    private RunLock(SafeFileHandle handle) => _handle = handle;

    public static async Task<RunLock> AcquireAsync(HostRoot root, TimeSpan wait, Action<string> report, CancellationToken ct)
    {
        var directory = root.Map(RunJournal.StateDirectory);
        try
        {
            // Opening the lock creates it: a planted link would make that create a file wherever it points.
            foreach (var name in new[] { LockFile, OwnerFile })
            {
                if (root.Stat(name).Kind == EntryKind.Symlink)
                    throw new HardenException($"refusing to use {root.Map(name)}: it is a symlink; remove it");
            }
            if (root.Stat(RunJournal.StateDirectory).Kind == EntryKind.Missing)
                root.EnsureDirectory(RunJournal.StateDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, 0, 0);
        }
        catch (PathBlockedException e)
        {
            throw new HardenException($"refusing to use the state directory {directory}: {e.Message}");
        }
        catch (IOException e)
        {
            throw new HardenException($"cannot create the state directory {directory}: {e.Message}; nothing was changed");
        }
        var deadline = DateTime.UtcNow + wait;
        var told = false;
        while (true)
        {
            SafeFileHandle? handle;
            try
            {
                handle = root.Files.TryLock(HostRoot.Relative(LockFile));
            }
            catch (IOException e)
            {
                throw new HardenException($"cannot open the run lock in {directory}: {e.Message}; nothing was changed");
            }
            if (handle is not null)
            {
                try
                {
                    root.Write(OwnerFile, Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n"), UnixFileMode.UserRead | UnixFileMode.UserWrite, 0, 0);
                }
                catch (IOException e)
                {
                    // Not contention: the state folder cannot be written (full, read-only). Say so now.
                    handle.Dispose();
                    throw new HardenException($"cannot record the run lock in {directory}: {e.Message}; nothing was changed");
                }
                return new RunLock(handle);
            }
            var holder = ReadHolder(root);
            if (DateTime.UtcNow >= deadline)
                throw new HardenException($"another harden run (pid {holder}) holds the lock {root.Map(LockFile)}");
            if (!told)
            {
                report($"waiting for another harden run (pid {holder}) to finish…");
                told = true;
            }
            await Task.Delay(200, ct);
        }
    }

    private static string ReadHolder(HostRoot root)
    {
        try
        {
            // Digits only: the file is in a folder anyone with root on the image could have written.
            return root.Read(OwnerFile, 64).Content is { } bytes && int.TryParse(Encoding.ASCII.GetString(bytes).Trim(),
                System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid) ? pid.ToString(System.Globalization.CultureInfo.InvariantCulture) : "unknown";
        }
        catch (Exception e) when (e is IOException or HardenException)
        {
            return "unknown";
        }
    }

    public void Dispose() => _handle.Dispose();
}
